"""`keras-nasnet export`: a .keras file or a zoo model to LiteRT / TF-Lite, with its latency."""

from __future__ import annotations

from .argument_types import int_at_least
from .common import DATA_DIR
from .flags import Command, flag
from .library_values import QUANTIZATIONS, ZOO_MODELS


def model_or_zoo(source: str):
    """Returns the model of a `.keras` file, or the zoo model `source` names (without weights).

    Raises:
        FileNotFoundError: a `.keras` path that does not exist.
        ValueError: neither a `.keras` file nor a zoo name.
    """
    from .. import export
    from ..applications.zoo import MNASNET_ZOO, ZOO

    if str(source).endswith(".keras"):
        return export.load_model(source)
    if source in ZOO or source in MNASNET_ZOO:
        return {**ZOO, **MNASNET_ZOO}[source].make()
    raise ValueError(
        f"Unknown model {source!r}: give a .keras file or a zoo name "
        f"({', '.join([*ZOO, *MNASNET_ZOO])})."
    )


def run(args) -> int:
    """Converts, measures and prints the file's size and latency; returns 0.

    Raises:
        ValueError: --calibration-data without --quantize int8 or the reverse, or bad
            latency settings (before the conversion).
    """
    from ..validation import check_output_file

    check_output_file(args.output, "output", ".tflite")  # before loading TensorFlow
    from .. import export

    if args.quantize == "int8" and not args.calibration_data:
        raise ValueError(
            "--quantize int8 needs --calibration-data NAME (a keras_nasnet.data dataset)."
        )
    if args.calibration_data and args.quantize != "int8":
        raise ValueError("--calibration-data is only used with --quantize int8.")
    # Before the slow conversion, not after it.
    export.check_latency_arguments(threads=args.threads, runs=args.runs)
    model = model_or_zoo(args.model)
    calibration = None
    if args.calibration_data:
        calibration = export.calibration_images(
            args.calibration_data, model.inputs[0].shape[1:], args.calibration_size, args.data_dir
        )
    path = export.to_tflite(
        model, args.output, quantize=args.quantize, representative_data=calibration
    )
    latency = export.measure_latency(path, threads=args.threads, runs=args.runs)
    print(
        f"{path}: {latency.size_bytes / 1e6:.2f} MB, {args.quantize or 'float32'}, batch-1 latency "
        f"median {latency.median_ms:.2f} ms, p90 {latency.p90_ms:.2f} ms ({args.threads} thread(s))"
    )
    if args.profile:
        from ..tflite_profile import profile

        print(profile(path, threads=args.threads, runs=args.runs).table())
    return 0


COMMAND = Command(
    "export",
    "convert a .keras file or a zoo model to a LiteRT / TF-Lite file",
    (
        flag(
            "model", metavar="MODEL", help="a .keras file or a zoo name: " + ", ".join(ZOO_MODELS)
        ),
        flag("output", metavar="OUT.tflite"),
        flag(
            "--quantize",
            choices=list(QUANTIZATIONS),
            default=None,
            help="post-training quantization (default: none, float32)",
        ),
        flag(
            "--calibration-data",
            default=None,
            metavar="NAME",
            help="dataset whose training images calibrate int8 (e.g. fashion_mnist_sample)",
        ),
        flag(
            "--calibration-size",
            type=int_at_least(1),
            default=300,
            help="calibration images (default 300)",
        ),
        DATA_DIR,
        flag(
            "--threads",
            type=int_at_least(1),
            default=1,
            help="threads for the latency measurement (default 1)",
        ),
        flag(
            "--runs",
            type=int_at_least(1),
            default=20,
            help="timed runs for the latency measurement (default 20)",
        ),
        flag(
            "--profile",
            action="store_true",
            help="also print time per op type, which ops XNNPACK takes, the slowest ops",
        ),
    ),
    run,
)
