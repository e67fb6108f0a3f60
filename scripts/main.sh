#!/usr/bin/env bash
# Sets up .venv and runs the main job. Extra arguments go to `keras-nasnet models`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
exec .venv/bin/keras-nasnet models "$@"
