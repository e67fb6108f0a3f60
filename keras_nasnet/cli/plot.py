"""`keras-nasnet plot`: draw both cells of an architecture."""

from __future__ import annotations

from .flags import Command, flag


def run(args) -> int:
    """Writes the diagrams and prints their paths; returns 0."""
    from ..viz import plot_architecture

    for path in plot_architecture(args.architecture, args.output, formats=args.formats.split(",")):
        print(path)
    return 0


COMMAND = Command(
    "plot",
    "draw both cells of an architecture as SVG and PNG",
    (
        flag(
            "architecture",
            help="an architecture JSON file or a name (nasnet_a, nasnet_b, nasnet_c)",
        ),
        flag(
            "output",
            help="output prefix: writes OUTPUT_normal.svg/.png and OUTPUT_reduction.svg/.png",
        ),
        flag(
            "--formats", default="svg,png", help="comma-separated image formats (default svg,png)"
        ),
    ),
    run,
)
