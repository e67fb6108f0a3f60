"""The comparison table: compare.md (printed too), compare.json and compare.html with a chart.

The chart draws each architecture's per-seed test accuracies as dots and their mean with the
interval of the difference to the first row (shifted onto that row's mean), so an interval
that does not reach the first row's line marks a difference the seeds support. With
latencies, a second chart (`front`) draws accuracy against latency with the Pareto front.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from typing import Optional

from ..html_pages import embedded_image, escape, page, table
from .stats import seeds_to_resolve

MARKDOWN_FILE = "compare.md"
JSON_FILE = "compare.json"
HTML_FILE = "compare.html"
FILES_DIR = "compare_files"
CHART_FILE = "accuracy.png"
FRONT_FILE = "front.png"
COMMAND = "keras-nasnet compare ARCH ... --directory DIR"
# Seeds at which `separation_text` stops looking: beyond, the cells are as good as equal.
SEEDS_LIMIT = 1000
# Seeds that give a standard deviation, hence an interval.
MIN_SEEDS_FOR_SPREAD = 2


def interval_text(interval, sample: str = "seed") -> str:
    """A `stats.Interval` as the table writes it: "+0.0012 [-0.0030, +0.0054]"; `sample`
    names what one value of a side is, for the interval-less case ("one seed")."""
    if interval.low is None:
        return f"{interval.difference:+.4f} (no interval: one {sample})"
    return f"{interval.difference:+.4f} [{interval.low:+.4f}, {interval.high:+.4f}]"


def _difference_text(row) -> str:
    return "(reference)" if row.difference is None else interval_text(row.difference)


def _cells(row, with_latency: bool) -> list:
    std = "" if math.isnan(row.std) else f" ± {row.std:.4f}"
    cells = [
        row.label,
        row.width,
        f"{row.params:,}",
        f"{row.mult_adds:,}",
    ]
    if with_latency:
        cells.append("failed" if row.latency_ms is None else f"{row.latency_ms:.2f}")
    cells += [
        f"{row.mean:.4f}{std}",
        str(len(row.accuracies)),
        _difference_text(row),
    ]
    return cells


def _header(result) -> list:
    with_latency = _with_latency(result)
    header = ["architecture", "width", "params", "mult-adds"]
    if with_latency:
        header.append(f"{getattr(result, 'latency', None) or 'float'} latency (ms)")
    level = f"{result.confidence:.0%}"
    return header + ["test accuracy (mean ± std)", "seeds", f"vs first ({level} CI)"]


def _with_latency(result) -> bool:
    return any(row.latency_ms is not None or row.latency_error for row in result.rows)


def _description(result) -> list:
    r = result.recipe
    lines = [
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
    return lines + _networks(result) + _latency_notes(result) + _unfinished(result)


def _networks(result) -> list:
    if all(row.multiplier is None for row in result.rows):
        return []
    return [
        "Width: F for cells; for whole networks (MnasNetModel, ReLU, small-image strides, "
        "no dropout, head of 1280 filters) the width multiplier x; N, drop-path and the aux "
        "head apply to cells only."
    ]


def _latency_notes(result) -> list:
    kind = getattr(result, "latency", None) or "float"
    notes = [
        f"Latency of {row.label} not measured ({kind}): {row.latency_error}"
        for row in result.rows
        if row.latency_ms is None and row.latency_error
    ]
    if _with_latency(result):
        notes.insert(
            0,
            f"Latency: {kind} LiteRT model, batch 1, 1 thread, median over runs, at each "
            "row's matched width.",
        )
    return notes


def _unfinished(result) -> list:
    runs = getattr(result, "unfinished", 0)
    if not runs:
        return []
    return [
        f"{runs} run{'s' * (runs != 1)} left untrained: the time to start runs ran out, so the "
        "table holds the seeds every architecture finished (run again to train the rest)."
    ]


def separation_text(result) -> Optional[str]:
    """Returns, when no interval of a difference to the first row excludes 0, a sentence that
    says so and what would resolve the difference closest to it: the seeds per architecture
    the observed standard deviations call for (`stats.seeds_to_resolve`) and their runs at this
    comparison's seconds per run, or a longer recipe. None when an interval excludes 0 or there
    is no difference to speak of (one row)."""
    rows = [row for row in result.rows[1:] if row.difference is not None]
    if not rows:
        return None
    first = result.rows[0]
    seeds = min(len(row.accuracies) for row in result.rows)
    if any(row.difference.low is None for row in rows):
        return (
            "At this budget the comparison cannot tell the cells apart: with one seed per cell "
            f"there is no interval; it needs {MIN_SEEDS_FOR_SPREAD} seeds or more (--seeds) to "
            "measure the seed-to-seed spread."
        )
    if any(row.difference.low > 0 or row.difference.high < 0 for row in rows):
        return None
    level = f"{result.confidence:.0%}"
    text = (
        f"At this budget the comparison cannot tell the cells apart: every {level} interval of a "
        f"difference to {first.label} holds 0 ({seeds} seeds per cell)."
    )
    needs = []
    for row in rows:
        n = seeds_to_resolve(
            first.std, row.std, row.difference.difference, result.confidence, SEEDS_LIMIT
        )
        if n is not None:
            needs.append((n, row))
    if not needs:
        return text + (
            f" No count of seeds up to {SEEDS_LIMIT} would resolve the observed differences at "
            "the observed spread: at this recipe the cells may be equal; a longer recipe (more "
            "epochs) may separate them."
        )
    n, row = min(needs, key=lambda pair: pair[0])
    runs = n * len(result.rows)
    seconds = [s for r in result.rows for s in r.seconds]
    per_run = statistics.fmean(seconds) if seconds else math.nan
    cost = f"{runs} runs of about {per_run:.0f} s each" if seconds else f"{runs} runs"
    return text + (
        f" The difference the fewest seeds would resolve ({row.label}, "
        f"{row.difference.difference:+.4f}) would need about {n} seeds per cell at {level} if "
        f"the seed-to-seed spread stays as observed ({cost}, estimated from these runs' "
        "standard deviations), or a longer recipe (more epochs) that widens the gap."
    )


def markdown_table(result) -> str:
    """Returns `result` (a `ComparisonResult`) as a Markdown description and table, followed
    by `separation_text` when the intervals cannot tell the cells apart."""
    with_latency = _with_latency(result)
    header = _header(result)
    lines = _description(result) + ["", "| " + " | ".join(header) + " |"]
    lines.append("|" + "---|" * len(header))
    for row in result.rows:
        lines.append("| " + " | ".join(_cells(row, with_latency)) + " |")
    note = separation_text(result)
    if note is not None:
        lines += ["", note]
    if any(row.latency_ms is not None for row in result.rows):
        lines += ["", f"![accuracy-latency front]({FILES_DIR}/{FRONT_FILE})"]
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
    with_latency = _with_latency(result)
    rows = [_cells(row, with_latency) for row in result.rows]
    return table(_header(result), rows, "compare")


def write_reports(result) -> dict:
    """Writes compare.md, compare.json and compare.html (with compare_files/accuracy.png, and
    with latencies compare_files/front.png: accuracy against latency) into
    `result.directory`; returns their paths by kind ("markdown", "json", "html").

    Raises:
        OSError: a file could not be written.
    """
    from .. import viz
    from ..search.state import atomic_write  # not on import: search re-exports `compare`

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
    parts = [f"<p>{escape(line)}</p>" for line in _description(result)]
    parts.append(_html_table(result))
    note = separation_text(result)
    if note is not None:
        parts.append(f"<p>{escape(note)}</p>")
    parts.append(embedded_image(chart, "test accuracy per architecture"))
    if any(row.latency_ms is not None for row in result.rows):
        from . import front

        kind = getattr(result, "latency", None) or "float"
        figure = front.front_figure(result.rows, kind, result.confidence)
        path = viz.save_figure(figure, [os.path.join(files, FRONT_FILE)])[0]
        parts.append(embedded_image(path, f"test accuracy against {kind} latency"))
    title = f"Comparison: {os.path.basename(os.path.abspath(directory))}"
    atomic_write(paths["html"], page(title, parts, COMMAND).encode("utf-8"))
    return paths
