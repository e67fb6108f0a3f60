"""TF-Lite size and batch-1 latency: float / dynamic / int8 of NASNet-A Mobile and CIFAR and of
MnasNet-A1 and MnasNet-small beside keras.applications' MobileNetV2 (float and int8: the
reference int8 speed-up) and NASNetMobile (float only).

    PYTHONPATH=. python bench/tflite.py [--runs 50] [--threads 1,2] \
        [--models nasnet_a_mobile,nasnet_a_cifar,mnasnet_a1,mnasnet_small] \
        [--quantize float,dynamic,int8] [--keras-applications MobileNetV2,NASNetMobile] \
        [--without-rewrite]


No weights can be downloaded here, so every model has random weights (latency and size do not
depend on the values); int8 is calibrated on random images in [-1, 1]. All files are converted
first, then timed in interleaved rounds in one process (for each thread count in turn), so load
from other work on a shared machine falls on every row alike: compare ratios; absolute
milliseconds are noisy. Below each table: each model's int8 speed-up over its float file, and
that as a share of MobileNetV2's. Last, each int8 file's top-1 agreement with its float file on
`--agreement-images` random images. A model with random weights gives random images nearly the
same logits (one class wins every image) and near-uniform probabilities (which all round to one
int8 value), so the models are built without the softmax and the top-1 is taken of the logits
less each file's mean logit over the images: the part that depends on the image. Beside it, how
many distinct classes the float file picks so (few would make the agreement meaningless).
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
REFERENCE = "keras.applications.MobileNetV2"
KERAS_APPLICATIONS = ("MobileNetV2", "NASNetMobile")


def interleaved_latency(paths: dict, threads: int, runs: int, rounds: int) -> dict:
    """Times every file in `rounds` turns of `runs // rounds` runs each, so that load from other
    work on the machine falls on all of them alike; returns name -> (median, p90, min) ms."""
    runners = {name: export.interpreter(path, threads) for name, path in paths.items()}
    times = {name: [] for name in paths}
    for _name, runner in runners.items():  # warm-up
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
    return {
        name: (float(np.median(t)), float(np.percentile(t, 90)), float(np.min(t)))
        for name, t in times.items()
    }


def _feed(runner) -> None:
    (inp,) = runner.get_input_details()
    rng = np.random.default_rng(0)
    if np.issubdtype(inp["dtype"], np.integer):
        x = rng.integers(-128, 127, size=inp["shape"]).astype(inp["dtype"])
    else:
        x = rng.uniform(-1, 1, size=inp["shape"]).astype(inp["dtype"])
    runner.set_tensor(inp["index"], x)


def _print_table(paths: dict, latency: dict, convert_seconds: dict) -> None:
    print(
        f"{'model':<34} {'quantize':<9} {'size MB':>8} {'median ms':>10} {'p90 ms':>8} "
        f"{'min ms':>7} {'vs float':>9} {'convert s':>10}"
    )
    for (name, quantize), path in paths.items():
        median, p90, fastest = latency[(name, quantize)]
        reference = latency[(name, "float")][0]
        print(
            f"{name:<34} {quantize:<9} {os.path.getsize(path) / 1e6:>8.2f} {median:>10.2f} "
            f"{p90:>8.2f} {fastest:>7.2f} {median / reference:>8.2f}x "
            f"{convert_seconds[(name, quantize)]:>10.0f}"
        )


def _print_speedups(latency: dict) -> None:
    """Prints each model's int8 speed-up (float / int8, from the medians and from the fastest
    runs, which load from other work on a shared machine disturbs least) beside MobileNetV2's."""
    for statistic, column in (("median", 0), ("min", 2)):
        speedups = {
            name: latency[(name, "float")][column] / latency[(name, "int8")][column]
            for name, quantize in latency
            if quantize == "int8"
        }
        reference = speedups.get(REFERENCE)
        for name, speedup in speedups.items():
            share = ""
            if reference is not None and name != REFERENCE:
                share = f", {speedup / reference:.0%} of MobileNetV2's"
            raw = ""
            if (name, "float-raw") in latency:
                raw_speedup = latency[(name, "float-raw")][column] / latency[(name, "int8")][column]
                raw = f" (over float without the rewrite: {raw_speedup:.2f}x)"
            print(f"int8 speed-up ({statistic}s): {name:<34} {speedup:.2f}x{share}{raw}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    parser.add_argument(
        "--threads", default="1", help="thread counts to time, comma-separated (e.g. 1,2)"
    )
    parser.add_argument(
        "--calibration", type=int, default=100, help="random calibration images for int8"
    )
    parser.add_argument(
        "--models", default="nasnet_a_mobile,nasnet_a_cifar,mnasnet_a1,mnasnet_small"
    )
    parser.add_argument(
        "--quantize",
        default="float,dynamic,int8",
        help="conversions of the zoo models, comma-separated (float, dynamic, int8)",
    )
    parser.add_argument(
        "--keras-applications",
        default=",".join(KERAS_APPLICATIONS),
        help="keras.applications models beside them (MobileNetV2: float and int8, NASNetMobile: "
        "float), comma-separated; empty for none",
    )
    parser.add_argument(
        "--no-keras-applications",
        action="store_true",
        help="leave out keras.applications' MobileNetV2 and NASNetMobile",
    )
    parser.add_argument(
        "--agreement-images",
        type=int,
        default=50,
        help="random images on which each int8 file's top-1 is compared with its float file's",
    )
    parser.add_argument(
        "--without-rewrite",
        action="store_true",
        help="also convert float and int8 without export.xnnpack_friendly (rows *-raw)",
    )
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    threads = [int(t) for t in args.threads.split(",")]
    names = {"float": None, "dynamic": "dynamic", "int8": "int8"}
    requested = args.quantize.split(",")
    if "float" not in requested or set(requested) - set(names):
        # Every row is shown against its model's float file.
        parser.error(
            f"--quantize: a list of {', '.join(names)} that holds float; got {args.quantize!r}"
        )
    zoo_quantize = tuple(names[q] for q in requested)
    applications = [] if args.no_keras_applications else args.keras_applications.split(",")
    unknown = set(applications) - set(KERAS_APPLICATIONS) - {""}
    if unknown:
        parser.error(f"--keras-applications: unknown {sorted(unknown)}; known {KERAS_APPLICATIONS}")
    # Logits (no softmax), for the int8 agreement: see the docstring.
    rows = [
        (name, lambda name=name: get_zoo_model(name).make(classifier_activation=None))
        for name in args.models.split(",")
    ]
    import keras

    if "NASNetMobile" in applications:
        rows.insert(
            1,
            (
                "keras.applications.NASNetMobile",
                lambda: keras.applications.NASNetMobile(weights=None, classifier_activation=None),
            ),
        )
    if "MobileNetV2" in applications:
        rows.insert(
            0,
            (
                REFERENCE,
                lambda: keras.applications.MobileNetV2(weights=None, classifier_activation=None),
            ),
        )
    with tempfile.TemporaryDirectory() as tmp:
        paths, convert_seconds, shape_of = {}, {}, {}
        for name, make in rows:
            model = make()
            shape = tuple(model.inputs[0].shape[1:])
            shape_of[name] = shape
            quantizations = zoo_quantize
            if name.startswith("keras."):  # MobileNetV2: the int8 reference; NASNetMobile: float
                quantizations = (None, "int8") if name == REFERENCE else (None,)
            variants = [(q, True) for q in quantizations]
            if args.without_rewrite and not name.startswith("keras."):
                variants += [(None, False), ("int8", False)]
            for quantize, rewrite in variants:
                key = (name, (quantize or "float") + ("" if rewrite else "-raw"))
                calibration = None
                if quantize == "int8":
                    calibration = rng.uniform(-1, 1, (args.calibration, *shape)).astype("float32")
                start = time.perf_counter()
                paths[key] = export.to_tflite(
                    model,
                    os.path.join(tmp, f"{len(paths)}.tflite"),
                    quantize,
                    calibration,
                    xnnpack_rewrite=rewrite,
                )
                convert_seconds[key] = time.perf_counter() - start
                print(
                    f"converted {name} {key[1]} in {convert_seconds[key]:.0f}s",
                    file=sys.stderr,
                    flush=True,
                )
        for count in threads:
            latency = interleaved_latency(paths, count, args.runs, args.rounds)
            _print_table(paths, latency, convert_seconds)
            print(
                f"(batch 1, {count} thread(s), {args.runs} timed runs per file in {args.rounds} "
                "interleaved rounds after 5 warm-up runs; random weights; int8 calibrated on "
                "random images)"
            )
            _print_speedups(latency)
            print()
        _print_agreement(paths, shape_of, args.agreement_images)
    return 0


def _print_agreement(paths: dict, shape_of: dict, count: int) -> None:
    """Prints each int8 file's top-1 agreement with its float file on `count` random images,
    on the logits less each file's mean logit over the images (see the module docstring)."""
    rng = np.random.default_rng(1)
    for (name, quantize), path in paths.items():
        if quantize != "int8" or (name, "float") not in paths:
            continue
        images = rng.uniform(-1, 1, (count, *shape_of[name])).astype("float32")
        float_logits = export.predict(paths[(name, "float")], images)
        int8_logits = export.predict(path, images)
        float_top = (float_logits - float_logits.mean(axis=0)).argmax(1)
        int8_top = (int8_logits - int8_logits.mean(axis=0)).argmax(1)
        print(
            f"int8 top-1 agreement with float: {name:<34} {np.mean(float_top == int8_top):.2f} "
            f"on {count} random images ({len(set(float_top.tolist()))} distinct float classes)"
        )


if __name__ == "__main__":
    sys.exit(main())
