"""TF-Lite size and batch-1 latency: float / dynamic / int8 of NASNet-A Mobile and CIFAR, and
keras.applications.NASNetMobile's float TF-Lite beside ours.

    PYTHONPATH=. python bench/tflite.py [--runs 50] [--threads 1] [--models nasnet_a_mobile,nasnet_a_cifar]


No weights can be downloaded here, so every model has random weights (latency and size do not
depend on the values); int8 is calibrated on random images in [-1, 1]. All files are converted
first, then timed in interleaved rounds in one process, so load from other work on a shared
machine falls on every row alike: compare ratios; absolute milliseconds are noisy.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_nasnet import export  # noqa: E402
from keras_nasnet.applications.zoo import get_zoo_model  # noqa: E402

QUANTIZE = (None, "dynamic", "int8")


def interleaved_latency(paths: dict, threads: int, runs: int, rounds: int) -> dict:
    """Times every file in `rounds` turns of `runs // rounds` runs each, so that load from other
    work on the machine falls on all of them alike; returns name -> (median, p90) ms."""
    runners = {name: export.interpreter(path, threads) for name, path in paths.items()}
    times = {name: [] for name in paths}
    for name, runner in runners.items():  # warm-up
        _feed(runner)
        for _ in range(5):
            runner.invoke()
    per_round = max(1, runs // rounds)
    for _ in range(rounds):
        for name, runner in runners.items():
            for _ in range(per_round):
                start = time.perf_counter()
                runner.invoke()
                times[name].append((time.perf_counter() - start) * 1000.0)
    return {name: (float(np.median(t)), float(np.percentile(t, 90))) for name, t in times.items()}


def _feed(runner) -> None:
    (inp,) = runner.get_input_details()
    rng = np.random.default_rng(0)
    if np.issubdtype(inp["dtype"], np.integer):
        x = rng.integers(-128, 127, size=inp["shape"]).astype(inp["dtype"])
    else:
        x = rng.uniform(-1, 1, size=inp["shape"]).astype(inp["dtype"])
    runner.set_tensor(inp["index"], x)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--calibration", type=int, default=100, help="random calibration images for int8")
    parser.add_argument("--models", default="nasnet_a_mobile,nasnet_a_cifar")
    parser.add_argument("--no-keras-applications", action="store_true")
    parser.add_argument("--without-rewrite", action="store_true",
                        help="also convert float and int8 without export.xnnpack_friendly (rows *-raw)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = [(name, get_zoo_model(name).make) for name in args.models.split(",")]
    if not args.no_keras_applications:
        import keras

        rows.insert(1, ("keras.applications.NASNetMobile", lambda: keras.applications.NASNetMobile(weights=None)))
    with tempfile.TemporaryDirectory() as tmp:
        paths, convert_seconds = {}, {}
        for name, make in rows:
            model = make()
            shape = tuple(model.inputs[0].shape[1:])
            variants = [(q, True) for q in ((None,) if name.startswith("keras.") else QUANTIZE)]
            if args.without_rewrite and not name.startswith("keras."):
                variants += [(None, False), ("int8", False)]
            for quantize, rewrite in variants:
                key = (name, (quantize or "float") + ("" if rewrite else "-raw"))
                calibration = None
                if quantize == "int8":
                    calibration = rng.uniform(-1, 1, (args.calibration, *shape)).astype("float32")
                start = time.perf_counter()
                paths[key] = export.to_tflite(
                    model, os.path.join(tmp, f"{len(paths)}.tflite"), quantize, calibration, xnnpack_rewrite=rewrite
                )
                convert_seconds[key] = time.perf_counter() - start
                print(f"converted {name} {key[1]} in {convert_seconds[key]:.0f}s", file=sys.stderr, flush=True)
        latency = interleaved_latency(paths, args.threads, args.runs, args.rounds)
        print(f"{'model':<34} {'quantize':<8} {'size MB':>8} {'median ms':>10} {'p90 ms':>8} {'vs float':>9} {'convert s':>10}")
        for (name, quantize), path in paths.items():
            median, p90 = latency[(name, quantize)]
            reference = latency[(name, "float")][0]
            print(f"{name:<34} {quantize:<8} {os.path.getsize(path) / 1e6:>8.2f} {median:>10.2f} {p90:>8.2f} "
                  f"{median / reference:>8.2f}x {convert_seconds[(name, quantize)]:>10.0f}")
    print(f"(batch 1, {args.threads} thread(s), {args.runs} timed runs per file in {args.rounds} interleaved rounds "
          "after 5 warm-up runs; random weights; int8 calibrated on random images)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
