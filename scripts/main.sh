#!/usr/bin/env bash
# Sets up .venv and runs the main job on the bundled Fashion-MNIST sample within one wall-clock
# budget, set-up included ($KERAS_NASNET_MAIN_BUDGET or --budget; default 15m). It measures this
# machine (a few training steps of a child and of the final model), prints how it splits the
# budget and what it cut (and why), then runs:
#  1. a PPO architecture search bounded by its share, then the best cell trained as the final
#     model and exported for phones: runs/main/{best_architecture.json,final_model.keras,
#     final_model.tflite,report.html,report.md};
#  2. did it pay off? the found cell, NASNet-A's and a random cell trained with one recipe at
#     matched parameters (tolerance 15%: one step of F near the matched F moves the count by
#     17-30%), two runs at a
#     time, the differences to NASNet-A with 95% intervals, and a plain sentence when they
#     cannot tell the cells apart: runs/main/compare/compare.{md,html}.
# Running it again resumes both with the plan saved in runs/main/plan.json. Extra arguments go
# to `keras-nasnet main-job` (e.g. --budget 30m).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
# $SECONDS: the set-up's share of the budget, spent already.
.venv/bin/keras-nasnet main-job --dataset fashion_mnist_sample --directory runs/main \
    --spent "$SECONDS" "$@"
echo
echo "plan:              runs/main/plan.json"
echo "best architecture: runs/main/best_architecture.json"
echo "trained model:     runs/main/final_model.keras"
echo "for phones:        runs/main/final_model.tflite"
echo "report:            runs/main/report.html (and report.md)"
if [ -f runs/main/compare/compare.md ]; then
    echo "comparison:        runs/main/compare/compare.html (and compare.md)"
fi
echo "tensorboard:       tensorboard --logdir runs/main/tensorboard"
