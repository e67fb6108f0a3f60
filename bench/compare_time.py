"""Seconds per (architecture, seed) of `search.compare`, and of matching F, at given settings.

    python bench/compare_time.py --directory /tmp/cmp --blocks 1 --filters 12 --epochs 1

prints, per run, the wall-clock and the CPU seconds (all threads) from the run files, and the
time of everything else (resolving, matching F by building models, the report). Wall time
depends on what else runs on the machine; CPU time much less.
"""

import argparse
import json
import math
import os
import resource
import time

from keras_nasnet.search.compare import RUNS_DIR, compare
from keras_nasnet.training import TrainingSettings


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("architectures", nargs="*", default=["nasnet_a", "random:1"])
    parser.add_argument("--directory", required=True)
    parser.add_argument("--dataset", default="fashion_mnist_sample")
    parser.add_argument("--blocks", type=int, default=1)
    parser.add_argument("--filters", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--tolerance", type=float, default=0.05)
    args = parser.parse_args()
    recipe = TrainingSettings(num_blocks=args.blocks, filters=args.filters, epochs=args.epochs)
    start, start_cpu = time.perf_counter(), cpu_seconds()
    result = compare(
        args.architectures,
        args.dataset,
        args.directory,
        seeds=args.seeds,
        recipe=recipe,
        tolerance=args.tolerance,
        verbose=True,
    )
    wall, cpu = time.perf_counter() - start, cpu_seconds() - start_cpu
    print(result.table())
    runs_dir = os.path.join(args.directory, RUNS_DIR)
    runs = [json.load(open(os.path.join(runs_dir, name))) for name in sorted(os.listdir(runs_dir))]
    for run in runs:
        print(
            f"{run['label']} seed {run['seed']} F={run['filters']}: {run['seconds']:.1f} s wall, "
            f"{run.get('cpu_seconds', math.nan):.1f} s CPU (fit {run['train_seconds']:.1f} s)"
        )
    run_wall = sum(run["seconds"] for run in runs)
    run_cpu = sum(run.get("cpu_seconds", 0.0) for run in runs)
    print(
        f"total {wall:.1f} s wall, {cpu:.1f} s CPU; outside the runs (matching F, report): "
        f"{wall - run_wall:.1f} s wall, {cpu - run_cpu:.1f} s CPU; load average "
        f"{os.getloadavg()[0]:.1f} at the end"
    )


if __name__ == "__main__":
    main()
