"""The weight-sharing search's HTML report: per-epoch curves and the derived cells."""

from __future__ import annotations

import os

from ..state import atomic_write

REPORT_FILE = "report_enas.html"


_EPOCH_COLUMNS = {
    "epoch": "epoch",
    "shared_loss": "shared loss",
    "shared_accuracy": "shared accuracy",
    "controller_reward": "controller reward",
    "shared_seconds": "shared s",
    "controller_seconds": "controller s",
}


def write_report(result) -> str:
    """Writes `report_enas.html` of `result` (an `EnasResult`: per-epoch table and the derived
    cells); returns its path.

    Raises:
        OSError: the file could not be written.
    """
    from ...html_pages import Raw, escape, page, table

    epochs = table(
        list(_EPOCH_COLUMNS.values()),
        [[_cell(record.get(key)) for key in _EPOCH_COLUMNS] for record in result.history],
    )
    derived = table(
        ["rank", "validation accuracy", "decisions"],
        [
            [rank, f"{d['validation_accuracy']:.4f}", Raw(f"<code>{escape(d['actions'])}</code>")]
            for rank, d in enumerate(result.derived, 1)
        ],
    )
    parts = [
        "<p>Best derived architecture: shared-weight validation accuracy "
        f"{result.best_accuracy:.4f}.</p>"
    ]
    if result.final is not None:
        parts.append(
            f"<p>Final model (from scratch): test accuracy {result.final.test_accuracy:.4f}, "
            f"{result.final.metrics['params']:,} parameters.</p>"
        )
    parts += [
        f"<pre>{escape(result.best_architecture.to_json(indent=2))}</pre>",
        f"<h2>Per epoch</h2>\n{epochs}",
        f"<h2>Derived samples</h2>\n{derived}",
    ]
    path = os.path.join(result.directory, REPORT_FILE)
    atomic_write(path, page("Weight-sharing search (ENAS)", parts).encode("utf-8"))
    return path


def _cell(value) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if isinstance(value, float) else str(value)
