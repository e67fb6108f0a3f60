"""The `keras-nasnet` command."""

from __future__ import annotations

import argparse
import errno
import os
import sys
import traceback
from typing import Callable

from .validation import check_int, check_number

# Expected failures: bad input, unreadable or unwritable files, a directory in use. Each ends
# as one line on stderr and exit status 2; anything else is a bug and keeps its traceback.
EXIT_FAILURE = 2
_OS_HINTS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, like every other error of the command."""

    def error(self, message):
        self.exit(EXIT_FAILURE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _argument_type(check, name: str, kind: Callable, **bounds) -> Callable:
    """Returns an argparse type: parses with `kind`, then checks with a validation function."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {'an int' if kind is int else 'a number'}; received {text!r}"
            ) from None
        try:
            return check(value, name, **bounds)
        except (TypeError, ValueError) as error:
            # argparse already names the option: "argument --max-trials: must be ..."
            message = str(error).replace(f"`{name}` ", "", 1).rstrip(".")
            raise argparse.ArgumentTypeError(message) from None

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def _int_at_least(minimum: int, name: str = "the value") -> Callable:
    return _argument_type(check_int, name, int, minimum=minimum)


def _number(name: str = "the value", **bounds) -> Callable:
    return _argument_type(check_number, name, float, **bounds)


def _positive(name: str = "the value") -> Callable:
    return _number(name, minimum=0, min_inclusive=False)


def _parsed(parse: Callable, name: str) -> Callable:
    """argparse type: `parse(text)`, its ValueError or TypeError shown as the flag's error."""

    def convert(text: str):
        try:
            return parse(text)
        except (TypeError, ValueError) as error:
            raise argparse.ArgumentTypeError(f"{name}: {error}") from None

    return convert


def _validation_size(text: str):
    """argparse type of --validation-size: a fraction in (0, 1) or a count >= 1."""
    try:
        value = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        value = None
    fraction = isinstance(value, float) and 0.0 < value < 1.0
    if not (fraction or isinstance(value, int) and value >= 1):
        raise argparse.ArgumentTypeError(
            f"must be a fraction in (0, 1) or a count >= 1; received {text!r}"
        )
    return value


def _human(value: float) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            return f"{value / scale:.2f}{unit}"
    return f"{value:.0f}"


def _models(args) -> int:
    from .applications.zoo import ZOO, get_zoo_model
    from .mult_adds import count_mult_adds

    names = args.names or list(ZOO)
    for name in names:
        get_zoo_model(name)  # fail before building anything
    print(
        f"{'model':<18} {'N@P':<8} {'input':>5} {'params':>9} {'paper':>7} {'mult-adds':>10} "
        f"{'paper':>7}  weights"
    )
    for name in names:
        entry = get_zoo_model(name)
        model = entry.make()
        paper_ma = _human(entry.paper_mult_adds) if entry.paper_mult_adds else "-"
        print(
            f"{name:<18} {entry.n_at_p:<8} {entry.input_size:>5} {_human(model.count_params()):>9} "
            f"{_human(entry.paper_params):>7} {_human(count_mult_adds(model)):>10} {paper_ma:>7}  "
            f"{'imagenet' if entry.imagenet_weights else 'none published'}",
            flush=True,
        )
    return 0


def _summary(args) -> int:
    from .applications.zoo import get_zoo_model

    model = get_zoo_model(args.model).make(weights=args.weights)
    model.summary(line_length=120)
    return 0


def _training_settings(args, defaults, prefix: str = ""):
    """Returns `defaults` with the command line's training flags (named with `prefix`) applied."""
    changes = {}
    for field in (
        "num_blocks",
        "filters",
        "epochs",
        "batch_size",
        "learning_rate",
        "drop_path_keep_prob",
        "cutout",
    ):
        value = getattr(args, prefix + field, None)
        if value is not None:
            changes[field] = value
    return defaults.replace(**changes)


def _add_training_flags(parser, defaults, prefix: str = "", what: str = "model") -> None:
    flag = "--" + prefix.replace("_", "-")

    def add(name, dest, kind, text):
        parser.add_argument(flag + name, dest=prefix + dest, type=kind, help=f"{what} {text}")

    add(
        "epochs",
        "epochs",
        _int_at_least(1, flag + "epochs"),
        f"training epochs (default {defaults.epochs})",
    )
    add(
        "blocks",
        "num_blocks",
        _int_at_least(1, flag + "blocks"),
        f"normal cells per stack, N (default {defaults.num_blocks})",
    )
    add(
        "filters",
        "filters",
        _int_at_least(1, flag + "filters"),
        f"filters F of the first stack (default {defaults.filters})",
    )
    add(
        "batch-size",
        "batch_size",
        _int_at_least(1, flag + "batch-size"),
        f"global batch size (default {defaults.batch_size})",
    )
    add(
        "lr",
        "learning_rate",
        _positive(flag + "lr"),
        f"peak learning rate (default {defaults.learning_rate})",
    )
    add(
        "drop-path-keep-prob",
        "drop_path_keep_prob",
        _number(flag + "drop-path-keep-prob", minimum=0, maximum=1, min_inclusive=False),
        f"ScheduledDropPath final keep probability (default {defaults.drop_path_keep_prob})",
    )
    add(
        "cutout",
        "cutout",
        _int_at_least(0, flag + "cutout"),
        f"cutout size in pixels (default {defaults.cutout})",
    )


def _strategy(args, allowed=None):
    """Returns the strategy `--strategy/--devices` ask for, or None for one device."""
    from .distribute import make_strategy

    if allowed is not None and args.strategy not in allowed:
        raise ValueError(
            f"--strategy {args.strategy} is not available here; allowed: {', '.join(allowed)}."
        )
    if args.strategy == "default" and args.devices is None:
        return None
    return make_strategy(args.strategy, args.devices)


def _add_strategy_flags(parser, choices, what: str) -> None:
    parser.add_argument(
        "--strategy",
        choices=choices,
        default="default",
        help=f"tf.distribute strategy for {what} (default: one device)",
    )
    parser.add_argument(
        "--devices",
        default=None,
        help="for --strategy mirrored: a count N (the first N GPUs; without GPUs, N logical CPU "
        "devices) or comma-separated names (/gpu:0,/gpu:1); default: every visible GPU",
    )


def _search(args) -> int:
    from .search.distributed import ENV_IP, ENV_PORT, role_environment

    if args.evaluation == "shared" and args.role is not None:
        raise ValueError(
            "--evaluation shared runs in one process (--strategy mirrored spreads its training "
            "over local devices): --role is not supported with it."
        )
    if args.role is not None:  # the flags stand for keras-tuner's own variables
        for name in (ENV_IP, ENV_PORT):
            os.environ.pop(name, None)
        os.environ.update(role_environment(args.role, args.oracle, args.worker_id))
    elif args.oracle is not None or args.worker_id is not None:
        raise ValueError("--oracle and --worker-id need --role chief or --role worker.")
    strategy = _strategy(args, ("default", "mirrored"))  # before TensorFlow initializes

    from .search import SearchSpace
    from .search.pipeline import CHILD_SETTINGS, FINAL_SETTINGS, search_dataset

    if args.evaluation == "shared":
        return _search_shared(args, strategy)

    space = SearchSpace(
        ops=args.ops.split(",") if args.ops else SearchSpace().ops,
        num_blocks=args.cell_blocks,
        combines=args.combines.split(","),
    )
    overrides = {  # the preset's value for each one left unset
        "update_every": args.update_every,
        "learning_rate": args.controller_lr,
        "population_size": args.population_size,
        "tournament_size": args.tournament_size,
    }
    oracle_kwargs = {"preset": args.preset, "worker_timeout": args.worker_timeout}
    oracle_kwargs.update({name: value for name, value in overrides.items() if value is not None})
    search_dataset(
        args.dataset,
        args.directory,
        max_trials=args.max_trials,
        algorithm=args.algorithm,
        seed=args.seed,
        space=space,
        child=_training_settings(args, CHILD_SETTINGS),
        final=None if args.no_final else _training_settings(args, FINAL_SETTINGS, "final_"),
        data_dir=args.data_dir,
        validation_size=args.validation_size,
        overwrite=args.overwrite,
        strategy=strategy,
        final_strategy=strategy,
        latency_target_ms=args.latency_target_ms,
        latency_alpha=args.latency_alpha,
        latency_beta=args.latency_beta,
        export_tflite=not args.no_tflite,
        latency_quantize=args.latency_quantize,
        evaluation=args.evaluation,
        prefilter=args.prefilter,
        prefilter_proxy=args.prefilter_proxy,
        max_time=args.max_time,
        **oracle_kwargs,
    )
    return 0


def _search_shared(args, strategy) -> int:
    """`search --evaluation shared`: the ENAS loop of `search.enas` instead of the oracle's."""
    from .search import SearchSpace, enas
    from .search.pipeline import FINAL_SETTINGS

    space = None  # ENAS's space, unless the user chose ops or combines
    if args.ops is not None or args.combines != _DEFAULT_COMBINES:
        space = SearchSpace(
            ops=args.ops.split(",") if args.ops else SearchSpace().ops,
            num_blocks=args.cell_blocks,
            combines=args.combines.split(","),
        )
    final = None if args.no_final else _training_settings(args, FINAL_SETTINGS, "final_")
    enas.run_from_args(args, space=space, final=final, strategy=strategy)
    return 0


def _model_or_zoo(source: str):
    """Returns the model of a `.keras` file, or the zoo model `source` names (without weights).

    Raises:
        FileNotFoundError: a `.keras` path that does not exist.
        ValueError: neither a `.keras` file nor a zoo name.
    """
    from . import export
    from .applications.zoo import ZOO

    if str(source).endswith(".keras"):
        return export.load_model(source)
    if source in ZOO:
        return ZOO[source].make()
    raise ValueError(
        f"Unknown model {source!r}: give a .keras file or a zoo name ({', '.join(ZOO)})."
    )


def _export(args) -> int:
    from . import export

    if args.quantize == "int8" and not args.calibration_data:
        raise ValueError(
            "--quantize int8 needs --calibration-data NAME (a keras_nasnet.data dataset)."
        )
    if args.calibration_data and args.quantize != "int8":
        raise ValueError("--calibration-data is only used with --quantize int8.")
    # Before the slow conversion, not after it.
    export.check_latency_arguments(threads=args.threads, runs=args.runs)
    model = _model_or_zoo(args.model)
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
        from .tflite_profile import profile

        print(profile(path, threads=args.threads, runs=args.runs).table())
    return 0


def _train(args) -> int:
    strategy = _strategy(args)  # before TensorFlow initializes
    from .training import TrainingSettings, train

    result = train(
        args.architecture,
        args.dataset,
        _training_settings(args, TrainingSettings()),
        data_dir=args.data_dir,
        output=args.output,
        seed=args.seed,
        verbose=2 if args.verbose else 0,
        strategy=strategy,
    )
    print(
        f"test accuracy {result.test_accuracy:.4f}, {result.metrics['params']:,} parameters, "
        f"{result.seconds:.0f}s of training -> {result.path}"
    )
    return 0


def _plot(args) -> int:
    from .viz import plot_architecture

    for path in plot_architecture(args.architecture, args.output, formats=args.formats.split(",")):
        print(path)
    return 0


def _report(args) -> int:
    from .search.report import write_report

    print(write_report(args.directory, top_k=args.top, mult_adds=not args.no_mult_adds))
    return 0


def _compare(args) -> int:
    from .search.compare import DEFAULT_RECIPE, compare

    result = compare(
        args.architectures,
        args.dataset,
        args.directory,
        seeds=args.seeds,
        target_params=args.target_params,
        recipe=_training_settings(args, DEFAULT_RECIPE),
        data_dir=args.data_dir,
        latency=args.latency,
        seed=args.seed,
        tolerance=args.tolerance,
        verbose=True,
        jobs=args.jobs,
    )
    print()
    print(result.table())
    print(f"written: {', '.join(result.paths.values())}")
    return 0


_DEFAULT_COMBINES = "add,concat"


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser of the `keras-nasnet` command."""
    from .applications.zoo import ZOO

    parser = _Parser(prog="keras-nasnet", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    # Also accepted after the command; SUPPRESS keeps it from resetting a --debug given before.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_parser = commands.add_parser
    commands.add_parser = lambda *a, **k: _add_parser(*a, parents=[common], **k)
    models = commands.add_parser(
        "models", help="build every zoo model and print its size beside the paper's"
    )
    models.add_argument(
        "names", nargs="*", metavar="NAME", help="models to build (default: all): " + ", ".join(ZOO)
    )
    models.set_defaults(run=_models)
    summary = commands.add_parser("summary", help="print the layer summary of a zoo model")
    summary.add_argument("model", choices=list(ZOO))
    summary.add_argument("--weights", default=None, help="'imagenet' or a weights file path")
    summary.set_defaults(run=_summary)

    from .search import enas
    from .search.clock import parse_duration
    from .search.evaluation import DEFAULT_PREFILTER_PROXY, evaluation_choices, parse_evaluation
    from .search.pipeline import CHILD_SETTINGS, FINAL_SETTINGS
    from .search.policy import ALGORITHMS, PRESETS
    from .search.proxies import PROXIES
    from .training import TrainingSettings

    search = commands.add_parser(
        "search",
        help="search cells on a dataset, then train the best one (resumes on the same directory)",
    )
    search.add_argument(
        "--dataset",
        required=True,
        help="fashion_mnist_sample, fashion_mnist, or a prepared TFDS name",
    )
    search.add_argument(
        "--directory",
        required=True,
        help="search directory (state, best_architecture.json, final model)",
    )
    search.add_argument("--max-trials", type=_int_at_least(1, "--max-trials"), default=20)
    search.add_argument("--algorithm", choices=ALGORITHMS, default="ppo")
    search.add_argument("--seed", type=_int_at_least(0, "--seed"), default=0)
    search.add_argument(
        "--data-dir", default=None, help="folder holding the dataset files (or TFDS' data_dir)"
    )
    search.add_argument(
        "--validation-size",
        type=_validation_size,
        default=0.1,
        help="held-out part of the training split: a fraction or a count",
    )
    search.add_argument(
        "--cell-blocks",
        type=_int_at_least(1, "--cell-blocks"),
        default=5,
        help="blocks per cell, B (default 5)",
    )
    search.add_argument(
        "--ops", default=None, help="comma-separated ops to search over (default: all)"
    )
    search.add_argument(
        "--combines",
        default=_DEFAULT_COMBINES,
        help=f"comma-separated combines (default {_DEFAULT_COMBINES})",
    )
    search.add_argument(
        "--preset",
        choices=PRESETS,
        default="budget",
        help="search settings: 'budget' (default, tuned for 100-1,000 trials) or 'paper'",
    )
    search.add_argument(
        "--controller-lr",
        type=_positive("--controller-lr"),
        default=None,
        help="controller learning rate (default: the preset's; budget: PPO 0.003, "
        "REINFORCE 0.01; paper 0.00035)",
    )
    search.add_argument(
        "--update-every",
        type=_int_at_least(1, "--update-every"),
        default=None,
        help="results per controller update (default: the preset's; budget "
        "max_trials/20 in 1..20, paper 20)",
    )
    search.add_argument(
        "--population-size",
        type=_int_at_least(1, "--population-size"),
        default=None,
        help="evolution's P (default: the preset's; budget max_trials/15 in 10..100, paper "
        "100); under --max-time, about the number of children the budget trains or fewer",
    )
    search.add_argument(
        "--tournament-size",
        type=_int_at_least(1, "--tournament-size"),
        default=None,
        help="evolution's S (default: the preset's, budget half its P, paper 25; cut to P)",
    )
    search.add_argument(
        "--evaluation",
        type=_parsed(lambda text: str(parse_evaluation(text)), "--evaluation"),
        default="train",
        help=f"what a trial's reward is: {evaluation_choices()} (default train: the child's "
        f"trained validation accuracy; proxy:NAME: a zero-cost proxy of the untrained child on "
        f"one minibatch, NAME one of {', '.join(PROXIES)}: seconds per trial; shared: "
        f"weight sharing (ENAS) with the --shared-* options, README 'Weight-sharing search')",
    )
    enas.add_arguments(search)
    search.add_argument(
        "--prefilter",
        type=_int_at_least(1, "--prefilter"),
        default=1,
        metavar="K",
        help="propose K architectures per trial, evaluate only the best by --prefilter-proxy "
        "(default 1: no prefilter)",
    )
    search.add_argument(
        "--prefilter-proxy",
        choices=list(PROXIES),
        default=DEFAULT_PREFILTER_PROXY,
        help=f"the proxy --prefilter ranks by (default {DEFAULT_PREFILTER_PROXY})",
    )
    search.add_argument(
        "--max-time",
        type=_parsed(parse_duration, "--max-time"),
        default=None,
        help="wall-clock budget of the search over all its runs (600, 10m, 1.5h, 2d): then no "
        "new trial (with --evaluation shared: no new epoch) starts, running ones finish and "
        "the final steps run; run again with a larger budget to resume",
    )
    search.add_argument("--no-final", action="store_true", help="skip training the final model")
    search.add_argument(
        "--overwrite",
        action="store_true",
        help="start over instead of resuming (ignored by workers)",
    )
    search.add_argument(
        "--role",
        choices=("single", "chief", "worker"),
        default=None,
        help="distributed search: the chief holds the controller, workers train children "
        "(default: keras-tuner's KERASTUNER_* environment variables, else single)",
    )
    search.add_argument(
        "--oracle",
        default=None,
        metavar="HOST:PORT",
        help="where the chief serves the oracle (default 127.0.0.1:8000; chief: the address to "
        "bind; beyond 127.0.0.1, set the shared secret KERAS_NASNET_SECRET on the chief and "
        "every worker)",
    )
    search.add_argument(
        "--worker-id", default=None, help="a worker's unique id (the same id resumes its trial)"
    )
    search.add_argument(
        "--worker-timeout",
        type=_positive("--worker-timeout"),
        default=60.0,
        help=(
            "chief: seconds without a heartbeat after which a worker's trial is re-queued (default "
            "60)"
        ),
    )
    _add_strategy_flags(search, ("default", "mirrored"), "each child and the final model")
    search.add_argument(
        "--no-tflite",
        action="store_true",
        help="skip exporting the final model to final_model.tflite",
    )
    search.add_argument(
        "--latency-target-ms",
        type=_positive("--latency-target-ms"),
        default=None,
        metavar="T",
        help="MnasNet latency-aware reward: each child's float TF-Lite latency at the final "
        "model's size is measured and the reward is accuracy * (latency / T) ** w",
    )
    search.add_argument(
        "--latency-alpha",
        type=_number("--latency-alpha"),
        default=-0.07,
        help="w at or under the target (default -0.07; hard constraint: 0)",
    )
    search.add_argument(
        "--latency-beta",
        type=_number("--latency-beta"),
        default=-0.07,
        help="w over the target (default -0.07; hard constraint: -1)",
    )
    search.add_argument(
        "--latency-quantize",
        choices=["int8"],
        default=None,
        help="time each child's full-integer int8 .tflite (what phones run), not its float one",
    )
    _add_training_flags(search, CHILD_SETTINGS, what="child")
    _add_training_flags(search, FINAL_SETTINGS, prefix="final_", what="final model")
    search.set_defaults(run=_search)

    from .export import QUANTIZATIONS

    export = commands.add_parser(
        "export", help="convert a .keras file or a zoo model to a LiteRT / TF-Lite file"
    )
    export.add_argument(
        "model", metavar="MODEL", help="a .keras file or a zoo name: " + ", ".join(ZOO)
    )
    export.add_argument("output", metavar="OUT.tflite")
    export.add_argument(
        "--quantize",
        choices=[q for q in QUANTIZATIONS if q],
        default=None,
        help="post-training quantization (default: none, float32)",
    )
    export.add_argument(
        "--calibration-data",
        default=None,
        metavar="NAME",
        help="dataset whose training images calibrate int8 (e.g. fashion_mnist_sample)",
    )
    export.add_argument(
        "--calibration-size",
        type=_int_at_least(1, "--calibration-size"),
        default=300,
        help="calibration images (default 300)",
    )
    export.add_argument("--data-dir", default=None)
    export.add_argument(
        "--threads",
        type=_int_at_least(1, "--threads"),
        default=1,
        help="threads for the latency measurement (default 1)",
    )
    export.add_argument(
        "--runs",
        type=_int_at_least(1, "--runs"),
        default=20,
        help="timed runs for the latency measurement (default 20)",
    )
    export.add_argument(
        "--profile",
        action="store_true",
        help="also print time per op type, which ops XNNPACK takes, the slowest ops",
    )
    export.set_defaults(run=_export)

    train = commands.add_parser(
        "train", help="train a model from a genotype and save a .keras file"
    )
    train.add_argument(
        "--architecture", required=True, help="an architecture JSON file or a name (nasnet_a)"
    )
    train.add_argument("--dataset", required=True)
    train.add_argument(
        "--output", default="model.keras", help="the .keras file to write (default model.keras)"
    )
    train.add_argument("--data-dir", default=None)
    train.add_argument("--seed", type=_int_at_least(0, "--seed"), default=0)
    train.add_argument("--verbose", action="store_true", help="print Keras' per-epoch progress")
    _add_strategy_flags(
        train,
        ("default", "mirrored", "multi_worker"),
        "training (multi_worker reads TF_CONFIG; Keras 3.15.1 cannot fit under it, see "
        "docs/distributed.md)",
    )
    _add_training_flags(train, TrainingSettings())
    train.set_defaults(run=_train)

    plot = commands.add_parser("plot", help="draw both cells of an architecture as SVG and PNG")
    plot.add_argument(
        "architecture", help="an architecture JSON file or a name (nasnet_a, nasnet_b, nasnet_c)"
    )
    plot.add_argument(
        "output", help="output prefix: writes OUTPUT_normal.svg/.png and OUTPUT_reduction.svg/.png"
    )
    plot.add_argument(
        "--formats", default="svg,png", help="comma-separated image formats (default svg,png)"
    )
    plot.set_defaults(run=_plot)

    report = commands.add_parser(
        "report",
        help="(re)write report.html of a search directory, or of a directory holding several",
    )
    report.add_argument(
        "directory", help="a search directory, or a parent of several (runs drawn side by side)"
    )
    report.add_argument(
        "--top",
        type=_int_at_least(1, "--top"),
        default=10,
        help="rows of the top-architectures table (default 10)",
    )
    report.add_argument(
        "--no-mult-adds", action="store_true", help="skip counting mult-adds (builds a model each)"
    )
    report.set_defaults(run=_report)

    from .search.compare import DEFAULT_RECIPE, TOLERANCE

    compare = commands.add_parser(
        "compare",
        help="train architectures with one recipe at matched parameter counts, several seeds "
        "each, and tabulate test accuracy with confidence intervals (resumes on the same "
        "directory)",
    )
    compare.add_argument(
        "architectures",
        nargs="+",
        metavar="ARCH",
        help="a zoo cell (nasnet_a, nasnet_b, nasnet_c), an architecture JSON file (a search's "
        "best_architecture.json) or random:K (K random cells); the first is the reference",
    )
    compare.add_argument(
        "--dataset", required=True, help="fashion_mnist_sample, fashion_mnist, or a TFDS name"
    )
    compare.add_argument(
        "--directory", required=True, help="comparison directory (one file per finished run)"
    )
    compare.add_argument(
        "--seeds",
        type=_int_at_least(1, "--seeds"),
        default=3,
        help="training seeds per architecture (default 3)",
    )
    compare.add_argument(
        "--target-params",
        type=_int_at_least(1, "--target-params"),
        default=None,
        help="parameter count to match (default: the first architecture's at --filters)",
    )
    compare.add_argument(
        "--tolerance",
        type=_number("--tolerance", minimum=0, maximum=1, min_inclusive=False),
        default=TOLERANCE,
        help=f"how far from the target a count may be (default {TOLERANCE}: 5%%)",
    )
    compare.add_argument(
        "--latency",
        action="store_true",
        help="also measure each architecture's batch-1 float LiteRT latency (1 thread)",
    )
    compare.add_argument(
        "--seed",
        type=_int_at_least(0, "--seed"),
        default=0,
        help="draws the random cells; the training seeds are SEED, SEED+1, ... (default 0)",
    )
    compare.add_argument(
        "--jobs",
        type=_int_at_least(1, "--jobs"),
        default=1,
        help="runs trained at once, each in its own process sharing the CPU cores (default 1)",
    )
    compare.add_argument("--data-dir", default=None)
    _add_training_flags(compare, DEFAULT_RECIPE, what="every model's")
    compare.set_defaults(run=_compare)
    return parser


def main(argv=None) -> int:
    """Runs the command line; returns the exit status.

    0 on success; 2 (`EXIT_FAILURE`) for every expected failure: invalid arguments, a missing,
    unreadable or malformed file, a full or read-only disk, a search directory in use. Those
    print one line on stderr (`--debug` adds the traceback); anything else is a bug and
    propagates with its traceback. 130 when interrupted (Ctrl-C).
    """
    from .search.lock import DirectoryLockedError

    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except Exception as error:
        expected = (ValueError, OSError, DirectoryLockedError) + _tensorflow_io_errors()
        if not isinstance(error, expected):
            raise
        if args.debug:
            traceback.print_exc()
        print(f"keras-nasnet: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        if args.debug:
            traceback.print_exc()
        print("keras-nasnet: interrupted", file=sys.stderr)
        return 130


def _tensorflow_io_errors() -> tuple:
    """Returns TensorFlow's file-system errors (keras-tuner writes through tf.io.gfile), or ()
    when TensorFlow was never imported."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return ()
    e = tf.errors
    # TensorFlow maps ENOSPC to ResourceExhausted and EROFS/EACCES to PermissionDenied.
    return (
        e.NotFoundError,
        e.PermissionDeniedError,
        e.ResourceExhaustedError,
        e.DataLossError,
        e.FailedPreconditionError,
        e.AlreadyExistsError,
    )


def _one_line(error: BaseException) -> str:
    """Returns `error` as one line: OSErrors as "what: file (hint)", newlines folded."""
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror
        if error.filename is not None:
            text += f": {os.fsdecode(error.filename)!r}"
        hint = _OS_HINTS.get(error.errno)
        if hint and hint.lower() not in text.lower():
            text += f" ({hint})"
    elif type(error).__module__.startswith("tensorflow"):
        text = f"{type(error).__name__}: {getattr(error, 'message', None) or error}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split()) + " (--debug shows the traceback)"


if __name__ == "__main__":
    sys.exit(main())
