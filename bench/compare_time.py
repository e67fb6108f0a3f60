"""Seconds per (architecture, seed) of `keras_nasnet.compare`, and of matching F, at given settings.

    python bench/compare_time.py --directory /tmp/cmp --blocks 1 --filters 12 --epochs 1

prints, per run, the wall-clock and the CPU seconds (all threads) from the run files, and the
time of everything else (resolving, matching F by building models, the report). Wall time
depends on what else runs on the machine; CPU time much less.

With several --jobs values (`--jobs 1,2`) the same comparison runs once per value, each in a
fresh process and directory (<directory>/jobs<J>), one after the other, and the wall-clock
ratios to the first value are printed. At the main job's settings (docs/benchmarks.md):

    python bench/compare_time.py --directory /tmp/cmpjobs nasnet_a random:1 --seeds 2 \
        --tolerance 0.1 --jobs 1,2
"""

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

from keras_nasnet.compare import compare
from keras_nasnet.compare.directory import RUNS_DIR
from keras_nasnet.training import TrainingSettings


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (the --jobs workers)."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )


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
    parser.add_argument("--jobs", default="1", help="runs at once; several: 1,2 (side by side)")
    args, argv = parser.parse_args(), sys.argv[1:]
    jobs = [int(j) for j in args.jobs.split(",")]
    if len(jobs) > 1:
        side_by_side(args, argv, jobs)
        return
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
        jobs=jobs[0],
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
    if jobs[0] == 1:
        print(
            f"total {wall:.1f} s wall, {cpu:.1f} s CPU; outside the runs (matching F, report): "
            f"{wall - run_wall:.1f} s wall, {cpu - run_cpu:.1f} s CPU; load average "
            f"{os.getloadavg()[0]:.1f} at the end"
        )
    else:  # the runs overlap: their seconds add up to more than the whole
        print(
            f"total {wall:.1f} s wall, {cpu:.1f} s CPU with the workers; the runs' own "
            f"{run_wall:.1f} s wall and {run_cpu:.1f} s CPU summed; load average "
            f"{os.getloadavg()[0]:.1f} at the end"
        )


def side_by_side(args, argv, jobs):
    walls = {}
    for j in jobs:
        directory = os.path.join(args.directory, f"jobs{j}")
        command = [sys.executable, __file__, *argv, "--jobs", str(j), "--directory", directory]
        start = time.perf_counter()
        subprocess.run(command, check=True)  # the later --jobs/--directory win
        walls[j] = time.perf_counter() - start
    for j in jobs:
        print(
            f"--jobs {j}: {walls[j]:.1f} s wall (process start included), "
            f"{walls[j] / walls[jobs[0]]:.2f}x of --jobs {jobs[0]}"
        )


if __name__ == "__main__":
    main()
