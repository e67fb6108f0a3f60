#!/usr/bin/env bash
# Sets up .venv and runs the test suite. Extra arguments go to pytest (e.g. `-m slow`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
# Lint and format first: a style failure is cheaper to see than a 15-minute test run.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# Two processes, each test file kept in one of them (module fixtures, subprocess ports):
# about half the wall time on 2 cores. PYTEST_WORKERS=0 runs in this process (or pass -n 0).
exec .venv/bin/python -m pytest -q -n "${PYTEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder "$@"
