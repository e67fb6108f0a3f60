"""Distributed search throughput: trials per hour with 1 and with 2 local workers.

Runs the same search (same trials, same tiny children, same seed) twice, each as a chief and
N worker processes of `keras-nasnet search` on 127.0.0.1, and times each from the chief's start
to its exit (process start-up, TensorFlow import, children, controller updates, all of it).
On a machine with GPUs give each worker its own with `--gpus 0,1` (CUDA_VISIBLE_DEVICES); on
CPUs the workers share the cores, so the ratio shows how much a child leaves idle.

    python bench/distributed.py                          # 6 trials, children 1@F4, 1 epoch
    python bench/distributed.py --trials 8 --gpus 0,1
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed_search(workers: int, args, directory: str) -> float:
    """Runs one chief and `workers` workers to the end; returns the chief's wall seconds."""
    address = f"127.0.0.1:{free_port()}"
    common = [
        sys.executable,
        "-m",
        "keras_nasnet.cli",
        "search",
        "--dataset",
        "fashion_mnist_sample",
        "--directory",
        directory,
        "--max-trials",
        str(args.trials),
        "--epochs",
        str(args.epochs),
        "--blocks",
        "1",
        "--filters",
        str(args.filters),
        "--validation-size",
        args.validation_size,
        "--no-final",
        "--update-every",
        "2",
        "--oracle",
        address,
        "--seed",
        "0",
    ]
    env = dict(
        os.environ,
        PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    gpus = args.gpus.split(",") if args.gpus else []
    processes = []
    try:
        start = time.perf_counter()
        chief = subprocess.Popen(
            common + ["--role", "chief"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        processes.append(chief)
        for i in range(workers):
            worker_env = dict(env, CUDA_VISIBLE_DEVICES=gpus[i % len(gpus)]) if gpus else env
            processes.append(
                subprocess.Popen(
                    common + ["--role", "worker", "--worker-id", f"w{i}"],
                    env=worker_env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.STDOUT,
                )
            )
        if chief.wait() != 0:
            raise RuntimeError(f"the chief failed with status {chief.returncode}")
        seconds = time.perf_counter() - start
        for process in processes[1:]:
            process.wait(120)
        return seconds
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--filters", type=int, default=4)
    parser.add_argument(
        "--validation-size", default="0.5", help="held-out part of the sample (the rest trains)"
    )
    parser.add_argument(
        "--gpus", default=None, help="comma-separated GPU ids, one per worker in turn"
    )
    args = parser.parse_args()
    print(
        f"command: python bench/distributed.py --trials {args.trials} --epochs {args.epochs} "
        f"--filters {args.filters} --validation-size {args.validation_size}"
        + (f" --gpus {args.gpus}" if args.gpus else "")
    )
    print(
        f"cpus: {os.cpu_count()}; children 1@F{args.filters}, {args.epochs} epoch(s), ppo, "
        "fashion_mnist_sample"
    )
    results = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as directory:
            seconds = timed_search(workers, args, directory)
        results[workers] = args.trials / seconds * 3600
        print(
            f"workers {workers}: {args.trials} trials in {seconds:7.1f}s = {results[workers]:7.1f} "
            "trials/hour",
            flush=True,
        )
    print(f"speed-up 2 vs 1 workers: {results[2] / results[1]:.2f}x")


if __name__ == "__main__":
    main()
