#!/usr/bin/env bash
# Sets up .venv and runs the main job: a short architecture search on the bundled
# Fashion-MNIST sample (PPO controller, 6 children), then the best cell trained as the final
# model, exported for phones. Writes
# runs/main/{best_architecture.json,final_model.keras,final_model.tflite,report.html,report.md}; running it
# again resumes. Extra arguments go to `keras-nasnet search` (e.g. --max-trials 20).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
.venv/bin/keras-nasnet search --dataset fashion_mnist_sample --directory runs/main \
    --max-trials 6 --epochs 1 --validation-size 600 \
    --final-epochs 3 --final-filters 12 "$@"
echo
echo "best architecture: runs/main/best_architecture.json"
echo "trained model:     runs/main/final_model.keras"
echo "for phones:        runs/main/final_model.tflite"
echo "report:            runs/main/report.html (and report.md)"
echo "tensorboard:       tensorboard --logdir runs/main/tensorboard"
