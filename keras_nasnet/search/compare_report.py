"""The comparison table: compare.md (printed too), compare.json and compare.html with a chart.

The chart draws each architecture's per-seed test accuracies as dots and their mean with the
interval of the difference to the first row (shifted onto that row's mean), so an interval
that does not reach the first row's line marks a difference the seeds support.
"""

from __future__ import annotations

import html
import json
import math
import os

from .files import atomic_write
from .report import embedded_image, html_page

MARKDOWN_FILE = "compare.md"
JSON_FILE = "compare.json"
HTML_FILE = "compare.html"
FILES_DIR = "compare_files"
CHART_FILE = "accuracy.png"
COMMAND = "keras-nasnet compare ARCH ... --directory DIR"


def interval_text(interval) -> str:
    """A `welch.Interval` as the table writes it: "+0.0012 [-0.0030, +0.0054]"."""
    if interval.low is None:
        return f"{interval.difference:+.4f} (no interval: one seed)"
    return f"{interval.difference:+.4f} [{interval.low:+.4f}, {interval.high:+.4f}]"


def _difference_text(row) -> str:
    return "(reference)" if row.difference is None else interval_text(row.difference)


def _cells(row, with_latency: bool) -> list:
    std = "" if math.isnan(row.std) else f" ± {row.std:.4f}"
    cells = [
        row.label,
        str(row.filters),
        f"{row.params:,}",
        f"{row.mult_adds:,}",
    ]
    if with_latency:
        cells.append("" if row.latency_ms is None else f"{row.latency_ms:.2f}")
    cells += [
        f"{row.mean:.4f}{std}",
        str(len(row.accuracies)),
        _difference_text(row),
    ]
    return cells


def _header(result) -> list:
    with_latency = any(row.latency_ms is not None for row in result.rows)
    header = ["architecture", "F", "params", "mult-adds"]
    if with_latency:
        header.append("latency (ms)")
    level = f"{result.confidence:.0%}"
    return header + ["test accuracy (mean ± std)", "seeds", f"vs first ({level} CI)"]


def _description(result) -> list:
    r = result.recipe
    return [
        f"Dataset {result.dataset}: trained on its train split, scored on its test split.",
        f"One recipe for all: N={r.num_blocks}, {r.epochs} epoch{'s' * (r.epochs != 1)}, "
        f"batch {r.batch_size}, "
        f"learning rate {r.learning_rate}, weight decay {r.weight_decay}, "
        f"drop-path keep {r.drop_path_keep_prob}, aux head {r.use_aux_head}, cutout {r.cutout}; "
        f"F per architecture, parameters within {result.tolerance:.0%} of "
        f"{result.target_params:,}.",
        f"Difference to the first row: mean accuracy minus the first's, with a "
        f"{result.confidence:.0%} Welch t interval (unequal variances, seeds unpaired).",
    ]


def markdown_table(result) -> str:
    """Returns `result` (a `ComparisonResult`) as a Markdown description and table."""
    with_latency = any(row.latency_ms is not None for row in result.rows)
    header = _header(result)
    lines = _description(result) + ["", "| " + " | ".join(header) + " |"]
    lines.append("|" + "---|" * len(header))
    for row in result.rows:
        lines.append("| " + " | ".join(_cells(row, with_latency)) + " |")
    return "\n".join(lines) + "\n"


def accuracy_figure(result):
    """Returns a matplotlib Figure: per-seed accuracies, means and difference intervals."""
    from matplotlib.figure import Figure

    rows = result.rows
    figure = Figure(figsize=(max(6.0, 1.3 * len(rows) + 2), 4.0))
    ax = figure.add_subplot(1, 1, 1)
    reference = rows[0].mean
    for x, row in enumerate(rows):
        ax.scatter([x] * len(row.accuracies), row.accuracies, s=14, alpha=0.5, color="#1f77b4")
        d = row.difference
        if d is not None and d.low is not None:
            ax.errorbar(
                [x],
                [reference + d.difference],
                yerr=[[d.difference - d.low], [d.high - d.difference]],
                fmt="o",
                color="#d62728",
                capsize=6,
            )
        else:
            ax.plot([x], [row.mean], "o", color="#d62728")
    ax.axhline(reference, color="#888888", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([row.label for row in rows], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("test accuracy")
    ax.set_title(
        f"Test accuracy: seeds (dots), means (red)\nbars: {result.confidence:.0%} interval "
        "of the difference to the first row",
        fontsize=9,
    )
    figure.tight_layout()
    return figure


def _html_table(result) -> str:
    with_latency = any(row.latency_ms is not None for row in result.rows)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in _header(result))
    rows = []
    for row in result.rows:
        cells = _cells(row, with_latency)
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return f'<table id="compare"><tr>{head}</tr>\n' + "\n".join(rows) + "\n</table>"


def write_reports(result) -> dict:
    """Writes compare.md, compare.json and compare.html (with compare_files/accuracy.png) into
    `result.directory`; returns their paths by kind ("markdown", "json", "html").

    Raises:
        OSError: a file could not be written.
    """
    from .. import viz

    directory = result.directory
    paths = {
        "markdown": os.path.join(directory, MARKDOWN_FILE),
        "json": os.path.join(directory, JSON_FILE),
        "html": os.path.join(directory, HTML_FILE),
    }
    atomic_write(paths["markdown"], markdown_table(result).encode("utf-8"))
    text = json.dumps(result.to_dict(), indent=2) + "\n"
    atomic_write(paths["json"], text.encode("utf-8"))
    files = os.path.join(directory, FILES_DIR)
    os.makedirs(files, exist_ok=True)
    chart = viz.save_figure(accuracy_figure(result), [os.path.join(files, CHART_FILE)])[0]
    body = "\n".join(
        [f"<p>{html.escape(line)}</p>" for line in _description(result)]
        + [_html_table(result), embedded_image(chart, "test accuracy per architecture")]
    )
    page = html_page(f"Comparison: {os.path.basename(os.path.abspath(directory))}", body, COMMAND)
    atomic_write(paths["html"], page.encode("utf-8"))
    return paths
