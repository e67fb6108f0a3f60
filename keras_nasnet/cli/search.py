"""`keras-nasnet search`: search cells on a dataset, then train the best one."""

from __future__ import annotations

import os

from ..process_memory import (
    MemoryBoundReached,
    default_bound,
    is_restart,
    parse_size,
    restart,
)
from . import network_spaces, shared
from .argument_types import int_at_least, number, parsed, positive, validation_size
from .common import (
    DATA_DIR,
    DATASET,
    SEED,
    make_strategy,
    strategy_flags,
    training_flags,
    training_settings,
)
from .flags import Command, flag, given_flags, refuse_given
from .library_values import (
    ALGORITHMS,
    CHILD_DEFAULTS,
    DEFAULT_PREFILTER_PROXY,
    EVALUATION_CHOICES,
    FINAL_DEFAULTS,
    PRESETS,
    PROXIES,
    SHARED_DEFAULTS,
)

DEFAULT_COMBINES = "add,concat"
# The oracle arguments the flags may set: (dest, NASOracle argument); the preset fills each
# left unset.
ORACLE_OVERRIDES = (
    ("update_every", "update_every"),
    ("controller_lr", "learning_rate"),
    ("population_size", "population_size"),
    ("tournament_size", "tournament_size"),
)


# Parsed without the library (which imports TensorFlow), so that the flags are checked
# against them at once.
PLAIN_EVALUATIONS = ("train", "shared")


def _evaluation(text: str) -> str:
    if text in PLAIN_EVALUATIONS:
        return text
    from ..search.evaluators.evaluation import parse_evaluation

    return str(parse_evaluation(text))


def _duration(text: str) -> float:
    from ..search.clock import parse_duration

    return parse_duration(text)


def fidelity_range(text: str) -> tuple[int, int]:
    """Returns (MIN, MAX) of a --fidelity value "MIN:MAX" (whole epochs, 1 <= MIN <= MAX).

    Raises:
        ValueError: not two whole numbers joined by ":", or outside 1 <= MIN <= MAX.
    """
    low, colon, high = text.partition(":")
    if not colon or not low.strip().isdigit() or not high.strip().isdigit():
        raise ValueError(f"expected MIN:MAX in whole epochs (e.g. 1:9); received {text!r}.")
    low, high = int(low), int(high)
    if not 1 <= low <= high:
        raise ValueError(f"expected 1 <= MIN <= MAX; received {text!r}.")
    return low, high


def bracket_count(text: str):
    """Returns the --brackets value: an int >= 1, or None for "all" (Hyperband).

    Raises:
        ValueError: neither "all" nor a whole number >= 1.
    """
    if text == "all":
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"expected a whole number >= 1 or 'all'; received {text!r}.")
    return int(text)


def child_params(text: str):
    """Returns the --child-params value: a parameter count (an int >= 1), or the name or JSON
    file of an architecture (its child's count), checked when the search starts.

    Raises:
        ValueError: a number below 1.
    """
    if text.strip().lstrip("-").isdigit():
        if int(text) < 1:
            raise ValueError(f"expected a count >= 1 or an architecture; received {text!r}.")
        return int(text)
    return text


# The flags a narrowed space's file sets itself: dest -> why --space-file refuses them.
SPACE_FILE_SETS = {
    "ops": "the file's space sets the ops",
    "combines": "the file's space sets the combines",
}

# The flags of a multi-fidelity search, refused without --fidelity.
FIDELITY_DESTS = ("eta", "brackets")


def check_fidelity_flags(args) -> None:
    """Returns None if --fidelity, --eta and --brackets fit the other flags.

    Raises:
        ValueError: --eta or --brackets without --fidelity; --fidelity with --epochs (it sets
            the epochs), with an evaluation that trains no child, or with a network space.
            One line naming the flag.
    """
    given = given_flags(args)
    if args.fidelity is None:
        for dest in FIDELITY_DESTS:
            if dest in given:
                raise ValueError(
                    f"{given[dest]} applies to a multi-fidelity search only (--fidelity "
                    "MIN:MAX); leave it out or add --fidelity."
                )
        return
    if args.space != "nasnet":
        raise ValueError(
            f"--fidelity applies to --space nasnet only; --space {args.space} trains every "
            "trial with --epochs."
        )
    if args.evaluation != "train":
        raise ValueError(
            f"--fidelity sets how long each child trains; --evaluation {args.evaluation} "
            "trains no child."
        )
    refuse_given(
        args,
        {"epochs": "each child trains from MIN to MAX epochs as --fidelity sets"},
        "a multi-fidelity search",
    )


def check_child_params(args) -> None:
    """Returns None unless --child-params is given with an evaluation that trains no child.

    Raises:
        ValueError: one line naming the flag.
    """
    if args.child_params is not None and args.evaluation not in ("train", "shared"):
        raise ValueError(
            f"--child-params sets the size of trained children; --evaluation {args.evaluation} "
            "trains none."
        )


def run(args) -> int:
    """Runs the search (`pipeline.search_dataset`, `enas.search_shared` for --evaluation
    shared, or `network_search.search_network_space` for --space macro) as the flags ask;
    returns 0.

    Raises:
        ValueError: a flag that does not fit the others (named), or a bad setting.
    """
    check_fidelity_flags(args)
    check_child_params(args)
    shared.check_flags(args)
    network_spaces.check_flags(args)
    if args.space_file is not None:
        refuse_given(args, SPACE_FILE_SETS, "--space-file")
    argv = getattr(args, "restart_argv", None)
    if args.max_memory is None and argv is not None:
        args.max_memory = default_bound()
    if is_restart():  # past --max-memory: go on, never start over
        args.overwrite = False
    try:
        if args.space != "nasnet":
            return network_spaces.run(args)
        _set_role(args)
        strategy = make_strategy(args, ("default", "mirrored"))  # before TensorFlow initializes

        from ..search.pipeline import FINAL_SETTINGS

        if args.evaluation == "shared":
            return shared.run(args, strategy, FINAL_SETTINGS)
        return _run_trials(args, strategy, FINAL_SETTINGS)
    except MemoryBoundReached as reached:
        if argv is None:  # called from Python (`main(argv)`): its caller's process stays
            raise
        restart(reached, argv)
        raise  # not reached: `restart` replaces the process


# keras-tuner's own variables: when they choose the role, the search decides whether it is a
# worker (which takes no lock) once TensorFlow is loaded.
_KERAS_TUNER_ROLE_VARIABLES = (
    "KERASTUNER_TUNER_ID",
    "KERASTUNER_ORACLE_IP",
    "KERASTUNER_ORACLE_PORT",
)


def directory_to_lock(args):
    """Returns --directory, which the search holds from its start, or None for a worker (it
    shares its chief's directory) or a role left to keras-tuner's environment variables."""
    if args.role is not None:
        return None if args.role == "worker" else args.directory
    if any(os.environ.get(name) for name in _KERAS_TUNER_ROLE_VARIABLES):
        return None
    return args.directory


def _set_role(args) -> None:
    """Sets keras-tuner's environment variables for --role (they stand for them).

    Raises:
        ValueError: --oracle or --worker-id without --role chief or worker, --insecure
            without --role chief, or a chief beyond loopback without a secret or --insecure.
    """
    if args.insecure and args.role != "chief":
        raise ValueError("--insecure applies to --role chief only (where the oracle is served).")
    if args.role is None:
        if args.oracle is not None or args.worker_id is not None:
            raise ValueError("--oracle and --worker-id need --role chief or --role worker.")
        return
    from ..search.distributed.auth import INSECURE_ENV, check_chief_address
    from ..search.distributed.server import ENV_IP, ENV_PORT, role_environment

    environment = role_environment(args.role, args.oracle, args.worker_id)
    if args.insecure:
        environment[INSECURE_ENV] = "1"
    if args.role == "chief":  # before any work, not when the oracle starts to listen
        check_chief_address(environment[ENV_IP], {**os.environ, **environment})
    for name in (ENV_IP, ENV_PORT):
        os.environ.pop(name, None)
    os.environ.update(environment)


def cell_space(args):
    """Returns the cell `SearchSpace` of --space-file, or of --ops, --combines and --cell-blocks.

    Raises:
        ValueError: a bad file or KEY (`run` refuses --ops and --combines beside the file).
        OSError: the file cannot be read.
    """
    from ..search import SearchSpace

    if args.space_file is None:
        return SearchSpace(
            ops=args.ops.split(",") if args.ops else SearchSpace().ops,
            num_blocks=args.cell_blocks,
            combines=args.combines.split(","),
        )
    from ..design_spaces.sampling import FILE_PREFIX, cell_search_space

    return cell_search_space(FILE_PREFIX + args.space_file, args.cell_blocks)


def _run_trials(args, strategy, final_defaults) -> int:
    from ..search import pipeline

    space = cell_space(args)
    oracle_kwargs = {"preset": args.preset, "worker_timeout": args.worker_timeout}
    for dest, argument in ORACLE_OVERRIDES:
        if getattr(args, dest) is not None:
            oracle_kwargs[argument] = getattr(args, dest)
    pipeline.search_dataset(
        args.dataset,
        args.directory,
        max_trials=args.max_trials,
        algorithm=args.algorithm,
        seed=args.seed,
        space=space,
        child=training_settings(args, pipeline.CHILD_SETTINGS),
        final=None if args.no_final else training_settings(args, final_defaults, "final_"),
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
        fidelity=args.fidelity,
        eta=args.eta,
        brackets=args.brackets,
        child_params=args.child_params,
        max_memory=args.max_memory,
        **oracle_kwargs,
    )
    return 0


_SPACE_AND_ALGORITHM = (
    flag("--max-trials", type=int_at_least(1), default=20),
    flag("--algorithm", choices=ALGORITHMS, default="ppo"),
    SEED,
    DATA_DIR,
    flag(
        "--validation-size",
        type=validation_size,
        default=0.1,
        help="held-out part of the training split: a fraction or a count",
    ),
    flag("--cell-blocks", type=int_at_least(1), default=5, help="blocks per cell, B (default 5)"),
    flag("--ops", default=None, help="comma-separated ops to search over (default: all)"),
    flag(
        "--combines",
        default=DEFAULT_COMBINES,
        help=f"comma-separated combines (default {DEFAULT_COMBINES})",
    ),
    flag(
        "--space-file",
        default=None,
        metavar="PATH[#KEY]",
        help="search a narrowed cell space: the narrowing.json of `keras-nasnet spaces` (its "
        "cell space, or KEY of several: nasnet, enas; --ops and --combines come from the file)",
    ),
    flag(
        "--preset",
        choices=PRESETS,
        default="budget",
        help="search settings: 'budget' (default, tuned for 100-1,000 trials) or 'paper'",
    ),
    flag(
        "--controller-lr",
        type=positive(),
        default=None,
        help="controller learning rate (default: the preset's; budget: PPO 0.003, REINFORCE "
        f"0.01; paper 0.00035; --evaluation shared {SHARED_DEFAULTS['controller_learning_rate']})",
    ),
    flag(
        "--update-every",
        type=int_at_least(1),
        default=None,
        help="results per controller update (default: the preset's; budget max_trials/20 in "
        "1..20, paper 20)",
    ),
    flag(
        "--population-size",
        type=int_at_least(1),
        default=None,
        help="evolution's P (default: the preset's; budget max_trials/15 in 10..100, paper "
        "100); under --max-time, about the number of children the budget trains or fewer",
    ),
    flag(
        "--tournament-size",
        type=int_at_least(1),
        default=None,
        help="evolution's S (default: the preset's, budget half its P, paper 25; cut to P)",
    ),
)

_EVALUATION = (
    flag(
        "--evaluation",
        type=parsed(_evaluation, "--evaluation"),
        default="train",
        help=f"what a trial's reward is: {EVALUATION_CHOICES} (default train: the child's "
        "trained validation accuracy; proxy:NAME: a zero-cost proxy of the untrained child on "
        f"one minibatch, NAME one of {', '.join(PROXIES)}: seconds per trial; shared: weight "
        "sharing (ENAS) with the --shared-* options, README 'Weight-sharing search'; flags "
        "that do not apply to it are refused)",
    ),
    *shared.FLAGS,
    flag(
        "--prefilter",
        type=int_at_least(1),
        default=1,
        metavar="K",
        help="propose K architectures per trial, evaluate only the best by --prefilter-proxy "
        "(default 1: no prefilter)",
    ),
    flag(
        "--prefilter-proxy",
        choices=list(PROXIES),
        default=DEFAULT_PREFILTER_PROXY,
        help=f"the proxy --prefilter ranks by (default {DEFAULT_PREFILTER_PROXY})",
    ),
    flag(
        "--max-time",
        type=parsed(_duration, "--max-time"),
        default=None,
        help="wall-clock budget of the search over all its runs (600, 10m, 1.5h, 2d): then no "
        "new trial (with --evaluation shared: no new epoch) starts, running ones finish and "
        "the final steps run; run again with a larger budget to resume",
    ),
    flag(
        "--max-memory",
        type=parsed(parse_size, "--max-memory"),
        default=None,
        metavar="SIZE",
        help="when the process holds more than SIZE (512M, 8G) after a trial, it restarts and "
        "the search resumes: Keras keeps memory for every child a process trains (default: "
        "half the machine's memory)",
    ),
    flag(
        "--fidelity",
        type=parsed(fidelity_range, "--fidelity"),
        default=None,
        metavar="MIN:MAX",
        help="multi-fidelity search: successive halving from MIN to MAX epochs of the child "
        "recipe (of --epoch-examples examples when given); a promoted child continues its "
        "training; --max-trials counts trainings (docs/multi_fidelity.md)",
    ),
    flag(
        "--eta",
        type=int_at_least(2),
        default=3,
        help="--fidelity: keep the best 1/eta of each rung, train them eta times longer "
        "(default 3)",
    ),
    flag(
        "--brackets",
        type=parsed(bracket_count, "--brackets"),
        default=1,
        help="--fidelity: Hyperband brackets, the most aggressive first (default 1: successive "
        "halving; all: every bracket)",
    ),
    flag(
        "--child-params",
        type=parsed(child_params, "--child-params"),
        default=None,
        metavar="COUNT|ARCHITECTURE",
        help="build each child at the F whose parameter count is closest to COUNT, or to "
        "ARCHITECTURE's child (nasnet_a, or a JSON file) at --filters: cells rewarded at one "
        "size, as compare judges them, not for the size of their ops (default: every child "
        "at --filters)",
    ),
    flag("--no-final", action="store_true", help="skip training the final model"),
    flag(
        "--overwrite",
        action="store_true",
        help="start over instead of resuming (ignored by workers)",
    ),
)

_DISTRIBUTED = (
    flag(
        "--role",
        choices=("single", "chief", "worker"),
        default=None,
        help="distributed search: the chief holds the controller, workers train children "
        "(default: keras-tuner's KERASTUNER_* environment variables, else single)",
    ),
    flag(
        "--oracle",
        default=None,
        metavar="HOST:PORT",
        help="where the chief serves the oracle (default 127.0.0.1:8000; chief: the address to "
        "bind; beyond 127.0.0.1, set the shared secret KERAS_NASNET_SECRET on the chief and "
        "every worker)",
    ),
    flag("--worker-id", default=None, help="a worker's unique id (the same id resumes its trial)"),
    flag(
        "--insecure",
        action="store_true",
        help="chief: serve beyond 127.0.0.1 without KERAS_NASNET_SECRET, on a network you trust "
        "(any peer that reaches the port can end or poison trials); refused without it",
    ),
    flag(
        "--worker-timeout",
        type=positive(),
        default=60.0,
        help="chief: seconds without a heartbeat after which a worker's trial is re-queued "
        "(default 60)",
    ),
    *strategy_flags(("default", "mirrored"), "each child and the final model"),
)

_EXPORT_AND_LATENCY = (
    flag(
        "--no-tflite",
        action="store_true",
        help="skip exporting the final model to final_model.tflite",
    ),
    flag(
        "--latency-target-ms",
        type=positive(),
        default=None,
        metavar="T",
        help="MnasNet latency-aware reward: each child's float TF-Lite latency at the final "
        "model's size is measured and the reward is accuracy * (latency / T) ** w",
    ),
    flag(
        "--latency-alpha",
        type=number(),
        default=-0.07,
        help="w at or under the target (default -0.07; hard constraint: 0)",
    ),
    flag(
        "--latency-beta",
        type=number(),
        default=-0.07,
        help="w over the target (default -0.07; hard constraint: -1)",
    ),
    flag(
        "--latency-quantize",
        choices=["int8"],
        default=None,
        help="time each child's full-integer int8 .tflite (what phones run), not its float one",
    ),
)

COMMAND = Command(
    "search",
    "search cells (or whole networks: --space macro) on a dataset, then train the best one "
    "(resumes on the same directory)",
    (
        DATASET,
        flag(
            "--directory",
            required=True,
            help="search directory (state, best_architecture.json, final model)",
        ),
        *network_spaces.FLAGS,
        *_SPACE_AND_ALGORITHM,
        *_EVALUATION,
        *_DISTRIBUTED,
        *_EXPORT_AND_LATENCY,
        *training_flags(CHILD_DEFAULTS, what="child"),
        *training_flags(FINAL_DEFAULTS, prefix="final_", what="final model"),
    ),
    run,
    locks=directory_to_lock,
)
