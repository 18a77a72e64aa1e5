#!/usr/bin/env bash
# python-venv.sh REQUIREMENTS VENV: installs REQUIREMENTS (pinned) into the venv VENV with Python 3's venv and pip
# from PyPI. Idempotent: reinstalls only when the requirements changed. Used by the install scripts of the Python
# tools the tests run (test/fuzz, test/docs-python), from .ci/run and from the tests themselves when missing.
set -euo pipefail
requirements=$1
venv=$2
if [ -x "$venv/bin/python" ] && cmp -s "$requirements" "$venv/requirements.txt"; then
  exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$requirements"
cp "$requirements" "$venv/requirements.txt"
