#!/usr/bin/env bash
# Installs the Python packages the docs' Kafka snippets import (test/docs-python/requirements.txt) into
# .tidings/docs-python-venv (test/support/python-venv.sh). Called by .ci/run and by test/docs-snippets.int-spec.ts.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec bash test/support/python-venv.sh test/docs-python/requirements.txt .tidings/docs-python-venv
