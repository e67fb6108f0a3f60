#!/usr/bin/env bash
# Sets up .venv and runs the main job on the bundled Fashion-MNIST sample:
#  1. a PPO architecture search bounded by wall clock (--max-time 3m), then the best cell trained
#     as the final model and exported for phones: runs/main/{best_architecture.json,
#     final_model.keras,final_model.tflite,report.html,report.md};
#  2. did it pay off? the found cell, NASNet-A's and a random cell trained with one recipe at
#     matched parameters (2 seeds each; tolerance 10%, what one step of F allows at F = 12),
#     two runs at a time (--jobs 2: one run's single-threaded tracing overlaps the other's steps),
#     the differences to NASNet-A with 95% intervals: runs/main/compare/compare.{md,html}.
# Running it again resumes both. Extra arguments go to `keras-nasnet search`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
.venv/bin/keras-nasnet search --dataset fashion_mnist_sample --directory runs/main \
    --max-trials 30 --max-time 3m --epochs 1 --validation-size 600 \
    --final-epochs 3 --final-filters 12 "$@"
echo
.venv/bin/keras-nasnet compare nasnet_a runs/main/best_architecture.json random:1 \
    --dataset fashion_mnist_sample --directory runs/main/compare \
    --seeds 2 --blocks 1 --filters 12 --epochs 1 --tolerance 0.1 --jobs 2
echo
echo "best architecture: runs/main/best_architecture.json"
echo "trained model:     runs/main/final_model.keras"
echo "for phones:        runs/main/final_model.tflite"
echo "report:            runs/main/report.html (and report.md)"
echo "comparison:        runs/main/compare/compare.html (and compare.md)"
echo "tensorboard:       tensorboard --logdir runs/main/tensorboard"
