"""The `keras-nasnet` command."""

from __future__ import annotations

import argparse
import sys


def _human(value: float) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            return f"{value / scale:.2f}{unit}"
    return f"{value:.0f}"


def _models(args) -> int:
    from .applications.zoo import ZOO
    from .mult_adds import count_mult_adds

    from .applications.zoo import get_zoo_model

    names = args.names or list(ZOO)
    for name in names:
        get_zoo_model(name)  # fail before building anything
    print(f"{'model':<18} {'N@P':<8} {'input':>5} {'params':>9} {'paper':>7} {'mult-adds':>10} {'paper':>7}  weights")
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


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser of the `keras-nasnet` command."""
    from .applications.zoo import ZOO

    parser = argparse.ArgumentParser(prog="keras-nasnet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    models = commands.add_parser("models", help="build every zoo model and print its size beside the paper's")
    models.add_argument("names", nargs="*", metavar="NAME", help="models to build (default: all): " + ", ".join(ZOO))
    models.set_defaults(run=_models)
    summary = commands.add_parser("summary", help="print the layer summary of a zoo model")
    summary.add_argument("model", choices=list(ZOO))
    summary.add_argument("--weights", default=None, help="'imagenet' or a weights file path")
    summary.set_defaults(run=_summary)
    return parser


def main(argv=None) -> int:
    """Runs the command line; returns the exit status (2 for invalid arguments)."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:
        print(f"keras-nasnet: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
