"""Throughput of keras_nasnet.NASNetMobile vs keras.applications.NASNetMobile on this machine.

Measures images/s of both models (weights=None, same input shape) for
  * inference: `model.predict_on_batch(x)` on one fixed batch (Keras' compiled predict
    function, training=False), and
  * training: `model.train_on_batch(x, y)` on one fixed batch (SGD, sparse categorical
    crossentropy, jit_compile=False),
and prints the median over repetitions for each model and the ratio of the medians,
ours / keras (>= 1 means ours is not slower). It also prints the median of the per-repetition
ratios: each repetition times both models back to back, so that ratio is less sensitive to
the machine switching between busy and idle between repetitions.

Run from the repository root:

    python bench/models.py                 # defaults: a few minutes on 2 CPU cores
    python bench/models.py --repeats 9 --steps 5 --threads 2

Both models live in one process and see the same batch and compile settings. Repetitions
are interleaved (ours, keras, keras, ours, ours, keras, ...) so that load from other
processes and thermal drift fall on both models alike; warm-up calls (tracing, first-run
allocation) are not timed.
"""

from __future__ import annotations

import argparse
import gc
import os
import shlex
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--infer-batch-size", type=int, default=32, help="images per predict_on_batch call"
    )
    parser.add_argument(
        "--train-batch-size", type=int, default=16, help="images per train_on_batch call"
    )
    parser.add_argument("--image-size", type=int, default=224, help="input height and width")
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed repetitions per model and mode"
    )
    parser.add_argument("--steps", type=int, default=3, help="calls per timed repetition")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per model and mode")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="TF intra- and inter-op threads (default: TensorFlow's choice)",
    )
    return parser.parse_args(argv)


def build_models(image_size: int):
    import keras

    import keras_nasnet

    shape = (image_size, image_size, 3)
    models = {}
    # Same seed for both so that neither starts from luckier (e.g. denormal-prone) weights.
    for name, factory in (
        ("ours", keras_nasnet.NASNetMobile),
        ("keras", keras.applications.NASNetMobile),
    ):
        keras.utils.set_random_seed(0)
        model = factory(input_shape=shape, weights=None)
        model.compile(
            optimizer=keras.optimizers.SGD(0.01),
            loss="sparse_categorical_crossentropy",
            jit_compile=False,
        )
        models[name] = model
    return models


def time_calls(call, steps: int) -> float:
    gc.collect()  # a collection inside the timed window would be charged to one model only
    start = time.perf_counter()
    for _ in range(steps):
        call()
    return time.perf_counter() - start


def measure(models, calls, batch_size: int, args) -> dict[str, list[float]]:
    for name in models:
        for _ in range(args.warmup):
            calls[name]()
    rates = {name: [] for name in models}
    order = list(models)
    for _ in range(args.repeats):
        for name in order:
            rates[name].append(batch_size * args.steps / time_calls(calls[name], args.steps))
        # Alternate who goes first, so a steady drift in machine load does not favour one model.
        order.reverse()
    return rates


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        # Must happen before TensorFlow creates its runtime, i.e. before any model is built.
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import keras

    print("command:   " + shlex.join([os.path.basename(sys.executable), *sys.argv]))
    print(
        f"versions:  tensorflow {tf.__version__}, keras {keras.__version__}, python "
        f"{sys.version.split()[0]}"
    )
    print(f"cpus:      {os.cpu_count()} (threads: {args.threads or 'TF default'})")

    models = build_models(args.image_size)
    counts = {name: model.count_params() for name, model in models.items()}
    if counts["ours"] != counts["keras"]:
        print(f"WARNING: parameter counts differ: {counts}")
    print(
        f"models:    NASNetMobile, weights=None, {args.image_size}x{args.image_size}, "
        f"{counts['ours']:,} parameters each"
    )

    rng = np.random.default_rng(0)
    size = args.image_size
    x_infer = rng.uniform(-1, 1, (args.infer_batch_size, size, size, 3)).astype("float32")
    x_train = rng.uniform(-1, 1, (args.train_batch_size, size, size, 3)).astype("float32")
    y_train = rng.integers(0, 1000, args.train_batch_size)

    results = {}
    results["inference"] = (
        args.infer_batch_size,
        measure(
            models,
            {name: (lambda m=m: m.predict_on_batch(x_infer)) for name, m in models.items()},
            args.infer_batch_size,
            args,
        ),
    )
    results["training"] = (
        args.train_batch_size,
        measure(
            models,
            {name: (lambda m=m: m.train_on_batch(x_train, y_train)) for name, m in models.items()},
            args.train_batch_size,
            args,
        ),
    )

    print(
        f"timing:    median of {args.repeats} interleaved repetitions x {args.steps} calls, "
        f"after {args.warmup} warm-up calls\n"
    )
    header = (
        f"{'mode':<10} {'batch':>5} {'ours img/s':>11} {'keras img/s':>12} {'ours/keras':>11}"
        f" {'paired ratio':>13}"
    )
    print(header)
    print("-" * len(header))
    for mode, (batch, rates) in results.items():
        ours, ref = statistics.median(rates["ours"]), statistics.median(rates["keras"])
        paired = statistics.median(o / k for o, k in zip(rates["ours"], rates["keras"]))
        print(
            f"{mode:<10} {batch:>5} {ours:>11.2f} {ref:>12.2f} {ours / ref:>11.3f} {paired:>13.3f}"
        )
    print("\nours/keras = ratio of the medians; paired ratio = median of per-repetition ratios")
    print("per-repetition img/s (ours | keras):")
    for mode, (_, rates) in results.items():
        print(
            f"  {mode:<10} "
            + " ".join(f"{r:.1f}" for r in rates["ours"])
            + " | "
            + " ".join(f"{r:.1f}" for r in rates["keras"])
        )


if __name__ == "__main__":
    main()
