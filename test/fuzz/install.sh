#!/usr/bin/env bash
# Installs the fuzzer (test/fuzz/requirements.txt) into .tidings/fuzz-venv (test/support/python-venv.sh). Called by
# .ci/run and, when the venv is missing or stale, by test/fuzz/openapi-fuzz.int-spec.ts itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec bash test/support/python-venv.sh test/fuzz/requirements.txt .tidings/fuzz-venv
