"""`keras-nasnet report`: (re)write the HTML report of one or several search directories."""

from __future__ import annotations

from .argument_types import int_at_least
from .flags import Command, flag


def run(args) -> int:
    """Writes the report and prints its path; returns 0."""
    from ..search.reporting.report import write_report

    print(write_report(args.directory, top_k=args.top, mult_adds=not args.no_mult_adds))
    return 0


COMMAND = Command(
    "report",
    "(re)write report.html of a search directory, or of a directory holding several",
    (
        flag(
            "directory",
            help="a search directory, or a parent of several (runs drawn side by side)",
        ),
        flag(
            "--top",
            type=int_at_least(1),
            default=10,
            help="rows of the top-architectures table (default 10)",
        ),
        flag(
            "--no-mult-adds",
            action="store_true",
            help="skip counting mult-adds (builds a model each)",
        ),
    ),
    run,
)
