#!/usr/bin/env bash
# Sets up .venv and runs the test suite. Extra arguments go to pytest (e.g. `-m slow`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
# Lint and format first: a style failure is cheaper to see than a 15-minute test run.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest -q "$@"
