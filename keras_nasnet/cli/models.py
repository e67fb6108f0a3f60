"""`keras-nasnet models`: build zoo models and print their sizes beside the paper's."""

from __future__ import annotations

from .flags import Command, flag
from .library_values import ZOO_MODELS


def human(value: float) -> str:
    """Returns `value` with a B/M/K suffix and two decimals ("3.38M")."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            return f"{value / scale:.2f}{unit}"
    return f"{value:.0f}"


def run(args) -> int:
    """Prints one row per model; returns 0. Raises ValueError for an unknown model name."""
    from ..applications.zoo import MNASNET_ZOO, ZOO, get_zoo_model
    from ..mult_adds import count_mult_adds

    names = args.names or [*ZOO, *MNASNET_ZOO]
    for name in names:
        get_zoo_model(name)  # fail before building anything
    print(
        f"{'model':<18} {'N@P':<8} {'input':>5} {'params':>9} {'paper':>7} {'mult-adds':>10} "
        f"{'paper':>7}  weights"
    )
    for name in names:
        entry = get_zoo_model(name)
        model = entry.make()
        paper_ma = human(entry.paper_mult_adds) if entry.paper_mult_adds else "-"
        paper_params = human(entry.paper_params) if entry.paper_params else "-"
        print(
            f"{name:<18} {entry.n_at_p:<8} {entry.input_size:>5} {human(model.count_params()):>9} "
            f"{paper_params:>7} {human(count_mult_adds(model)):>10} {paper_ma:>7}  "
            f"{'imagenet' if entry.imagenet_weights else 'none published'}",
            flush=True,
        )
    return 0


COMMAND = Command(
    "models",
    "build every zoo model and print its size beside the paper's",
    (
        flag(
            "names",
            nargs="*",
            metavar="NAME",
            help="models to build (default: all): " + ", ".join(ZOO_MODELS),
        ),
    ),
    run,
)
