#!/usr/bin/env bash
# Installs the fuzzer (test/fuzz/requirements.txt) into .tidings/fuzz-venv with Python 3's venv and pip from PyPI.
# Idempotent: reinstalls only when requirements.txt changed. Called by .ci/run and, when the venv is missing or
# stale, by test/fuzz/openapi-fuzz.int-spec.ts itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.tidings/fuzz-venv
if [ -x "$venv/bin/st" ] && cmp -s test/fuzz/requirements.txt "$venv/requirements.txt"; then
  exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r test/fuzz/requirements.txt
cp test/fuzz/requirements.txt "$venv/requirements.txt"
