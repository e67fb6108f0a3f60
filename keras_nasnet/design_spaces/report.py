"""Comparing design spaces: every statistic of the package for each space and each pair, and
the report (Markdown and a self-contained HTML page) with its plots.

`compare_spaces(records)` computes; `write_report(comparison, directory)` writes
design_spaces.md, design_spaces.html, narrowing.json and the plots (SVG, in design_spaces_files/,
also inlined in the HTML page so it stands alone). Plots are drawn on matplotlib `Figure`s
(no pyplot, no display, no global state) and their SVG keeps text as text and carries no date,
so the same records give the same bytes.
"""

from __future__ import annotations

import io
import json
import os
import statistics
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np

from ..html_pages import escape, page, table
from ..validation import ArgumentTypeError, check_choice, check_int
from .bootstrap import (
    DEFAULT_MIN_SHARE,
    DEFAULT_RESAMPLES,
    BootstrapResult,
    NumericRange,
    bootstrap_decisions,
    narrowing,
)
from .edf import (
    COMPLEXITY,
    EfficiencyCurve,
    KSResult,
    error_distribution,
    ks_interval,
    random_search_efficiency,
    shared_range,
)
from .records import ModelRecord, by_space, finished

__all__ = [
    "FIGURES",
    "SpaceComparison",
    "SpaceSummary",
    "compare_spaces",
    "figures",
    "html_report",
    "markdown_report",
    "write_report",
]

MARKDOWN_FILE = "design_spaces.md"
HTML_FILE = "design_spaces.html"
NARROWING_FILE = "narrowing.json"
FILES_DIR = "design_spaces_files"
# Plot name -> caption; each is written as FILES_DIR/<name>.svg.
FIGURES = {
    "edf": "Error EDF of each space",
    "normalized_edf": "Complexity-normalized error EDF of each space",
    "efficiency": "Random-search efficiency: best error of k models (mean, band +-2 std)",
    "error_vs_complexity": "Error against parameters, one dot per trained model",
}
_LABELS = {"params": "parameters", "mult_adds": "mult-adds"}


@dataclass(frozen=True)
class SpaceSummary:
    """One space at a glance: its models, failures, errors and complexity ranges."""

    space: str
    models: int
    failed: int
    min_error: float
    median_error: float
    params_range: tuple
    mult_adds_range: tuple


@dataclass(frozen=True)
class SpaceComparison:
    """Everything `compare_spaces` computed, per space (dicts keyed by space name, in order of
    first appearance) and per pair of spaces (`ks`: (a, b, plain KSResult, normalized KSResult
    or None)). `normalized` is empty when not normalizing."""

    spaces: tuple
    summaries: Mapping
    plain: Mapping
    normalized: Mapping
    ks: tuple
    efficiency: Mapping
    bootstrap: Mapping
    narrowing: Mapping
    settings: Mapping


def _summary(space: str, records) -> SpaceSummary:
    kept, failed = finished(records)
    errors = [record.error for record in kept]
    params = [record.params for record in records]
    mult_adds = [record.mult_adds for record in records]
    return SpaceSummary(
        space,
        len(records),
        failed,
        min(errors) if errors else float("nan"),
        statistics.median(errors) if errors else float("nan"),
        (min(params), max(params)),
        (min(mult_adds), max(mult_adds)),
    )


def compare_spaces(
    records: Iterable[ModelRecord],
    normalize_by: Optional[str] = "params",
    bins: int = 20,
    value_range: Optional[Sequence[float]] = None,
    ks_resamples: int = 1000,
    bootstrap_resamples: int = DEFAULT_RESAMPLES,
    repetitions: int = 1000,
    categorical: Iterable[str] = (),
    min_share: float = DEFAULT_MIN_SHARE,
    seed: int = 0,
) -> SpaceComparison:
    """Returns the `SpaceComparison` of the spaces in `records` (grouped by their space name):
    each space's summary, plain and normalized `ErrorDistribution`, random-search
    `EfficiencyCurve` (on the normalized weights when normalizing), `BootstrapResult` and
    `narrowing`, and for each pair of spaces the KS distance with its bootstrap interval.

    Args:
        records: the records of one or more spaces.
        normalize_by: "params", "mult_adds", or None for no normalized EDF.
        bins: complexity bins of the normalized EDF (NDS: 20 for the NAS cell spaces).
        value_range: the normalization range shared by all spaces (default `shared_range`).
        ks_resamples: bootstrap resamples of each KS interval.
        bootstrap_resamples: resamples of the decisions' bootstrap (pycls: 2,500).
        repetitions: simulated experiments per size of the efficiency curve.
        categorical: numeric decisions to treat as categorical in the bootstrap.
        min_share: the share of wins below which `narrowing` drops a categorical value.
        seed: the seed of every random draw (each statistic derives its own from it).

    Raises:
        TypeError: an item is not a `ModelRecord`.
        ValueError: no records, a space whose models all failed, an unknown `normalize_by`,
            spaces whose complexity ranges do not overlap, or an empty complexity bin.
    """
    groups = by_space(records)
    if not groups:
        raise ValueError("`records` is empty: there is no space to analyse.")
    if normalize_by is not None:
        check_choice(normalize_by, "normalize_by", COMPLEXITY)
        if value_range is None:
            value_range = shared_range(groups, normalize_by)
    seed = check_int(seed, "seed", minimum=0)
    spaces = tuple(groups)
    summaries = {space: _summary(space, groups[space]) for space in spaces}
    plain = {space: error_distribution(groups[space]) for space in spaces}
    normalized = {}
    if normalize_by is not None:
        normalized = {
            space: error_distribution(groups[space], normalize_by, bins, value_range)
            for space in spaces
        }
    weighted = normalized or plain
    efficiency = {
        space: random_search_efficiency(weighted[space], repetitions=repetitions, seed=seed + i)
        for i, space in enumerate(spaces)
    }
    ks = []
    for i, a in enumerate(spaces):
        for b in spaces[i + 1 :]:
            pair_seed = seed + 1000 * (len(ks) + 1)
            plain_ks = ks_interval(plain[a], plain[b], ks_resamples, seed=pair_seed)
            normalized_ks = None
            if normalized:
                normalized_ks = ks_interval(
                    normalized[a], normalized[b], ks_resamples, seed=pair_seed + 1
                )
            ks.append((a, b, plain_ks, normalized_ks))
    boot = {
        space: bootstrap_decisions(
            groups[space],
            resamples=bootstrap_resamples,
            categorical=categorical,
            seed=seed + i,
        )
        for i, space in enumerate(spaces)
    }
    narrowed = {space: narrowing(boot[space], min_share) for space in spaces}
    settings = {
        "normalize_by": normalize_by,
        "bins": bins if normalize_by else None,
        "value_range": list(value_range) if normalize_by else None,
        "ks_resamples": ks_resamples,
        "bootstrap_resamples": bootstrap_resamples,
        "repetitions": repetitions,
        "min_share": min_share,
        "seed": seed,
    }
    return SpaceComparison(
        spaces, summaries, plain, normalized, tuple(ks), efficiency, boot, narrowed, settings
    )


# ---------------------------------------------------------------------------- the tables


def _range_text(low, high) -> str:
    return f"{low:,} - {high:,}"


def _summary_table(comparison: SpaceComparison) -> tuple:
    headers = ["space", "models", "failed", "min error", "median error", "params", "mult-adds"]
    if comparison.normalized:
        headers.insert(3, "outside range")
    rows = []
    for space in comparison.spaces:
        s = comparison.summaries[space]
        row = [
            space,
            s.models,
            s.failed,
            f"{s.min_error:.4f}",
            f"{s.median_error:.4f}",
            _range_text(*s.params_range),
            _range_text(*s.mult_adds_range),
        ]
        if comparison.normalized:
            row.insert(3, comparison.normalized[space].outside_range)
        rows.append(row)
    return headers, rows


def _interval_text(result: Optional[KSResult]) -> str:
    if result is None:
        return ""
    return f"{result.distance:.3f} [{result.low:.3f}, {result.high:.3f}]"


def _ks_table(comparison: SpaceComparison) -> tuple:
    level = f"{comparison.ks[0][2].confidence:.0%}"
    headers = ["space A", "space B", f"KS of EDFs [{level} bootstrap]"]
    if comparison.normalized:
        by = _LABELS[comparison.settings["normalize_by"]]
        headers.append(f"KS of EDFs normalized by {by} [{level} bootstrap]")
    rows = []
    for a, b, plain, normalized in comparison.ks:
        row = [a, b, _interval_text(plain)]
        if comparison.normalized:
            row.append(_interval_text(normalized))
        rows.append(row)
    return headers, rows


def _value_text(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _bootstrap_table(result: BootstrapResult, narrowed: Mapping) -> tuple:
    low_p, high_p = result.alpha / 2, 100 - result.alpha / 2
    headers = [
        "decision",
        "kind",
        f"good range ({low_p:g}-{high_p:g} percentile) or wins",
        "best",
        "narrowed to",
    ]
    rows = []
    for name, summary in result.decisions.items():
        allowed = narrowed.get(name)
        allowed_text = "" if allowed is None else ", ".join(_value_text(v) for v in allowed)
        if isinstance(summary, NumericRange):
            rows.append(
                [
                    name,
                    "integer" if summary.integer else "number",
                    f"{summary.low:g} - {summary.high:g} "
                    f"(models: {summary.minimum:g} - {summary.maximum:g})",
                    f"{summary.median:g}",
                    f"[{allowed_text}]" if allowed is not None else "",
                ]
            )
        else:
            shares = sorted(summary.shares.items(), key=lambda item: -item[1])
            wins = ", ".join(f"{_value_text(v)}: {share:.1%}" for v, share in shares)
            rows.append([name, "categorical", wins, _value_text(summary.best()), allowed_text])
    return headers, rows


def _bootstrap_line(result: BootstrapResult) -> str:
    failed = f" ({result.failed} failed, left out)" if result.failed else ""
    return (
        f"{result.models} trained model{'s' * (result.models != 1)}{failed}, "
        f"{result.resamples} resamples of {result.sample_size}."
    )


def _descriptions(comparison: SpaceComparison) -> list:
    s = comparison.settings
    lines = [
        "Each space's models were drawn at random and trained with one recipe; error is 1 - "
        "accuracy. Failed models are counted and left out of every statistic.",
        "EDF: F(e) = share of a space's models with error < e. KS: the largest vertical gap "
        f"between two spaces' EDFs, with a {s['ks_resamples']}-resample percentile bootstrap "
        "interval (each space's models resampled with replacement).",
    ]
    if s["normalize_by"]:
        low, high = s["value_range"]
        lines.append(
            f"Normalized EDF: {s['bins']} equal bins of {_LABELS[s['normalize_by']]} over "
            f"[{low:,.0f}, {high:,.0f}], shared by all spaces; each model weighs "
            "1/(models in its bin)/bins, so every bin carries the same share; models outside "
            "the range are left out (counted)."
        )
    lines.append(
        "Random-search efficiency: the best error of k models drawn with the "
        f"{'normalized ' if s['normalize_by'] else ''}weights, mean over "
        f"{s['repetitions']} simulated experiments per k."
    )
    lines.append(
        f"Bootstrap: {s['bootstrap_resamples']} resamples of 25% of a space's models with "
        "replacement; the best model of each; a numeric decision's good range is the middle "
        "95% of the winners' values, a categorical decision lists how often each value wins. "
        f"Narrowing drops values that win under {s['min_share']:.0%} of the resamples."
    )
    return lines


# ---------------------------------------------------------------------------- the plots


def _edf_figure(distributions: Mapping, title: str):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0, 4.0))
    ax = figure.add_subplot(1, 1, 1)
    for space, d in distributions.items():
        # F(e) jumps just after each error: a step drawn "post" from (e_i, F(e_i+)).
        xs = np.concatenate([[d.errors[0]], d.errors])
        ys = np.concatenate([[0.0], np.cumsum(d.weights)])
        ax.step(xs, ys, where="post", label=f"{space} (n={d.size})")
    ax.set_xlabel("error")
    ax.set_ylabel("cumulative share of models")
    ax.set_ylim(0.0, 1.02)
    ax.grid(alpha=0.4)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure


def _efficiency_figure(curves: Mapping[str, EfficiencyCurve]):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0, 4.0))
    ax = figure.add_subplot(1, 1, 1)
    for space, curve in curves.items():
        x = np.log2(curve.sizes)
        (line,) = ax.plot(x, curve.mean, "o-", label=space)
        ax.fill_between(
            x,
            curve.mean - 2 * curve.std,
            curve.mean + 2 * curve.std,
            alpha=0.12,
            color=line.get_color(),
        )
    ax.set_xlabel("experiment size k (log2)")
    ax.set_ylabel("best error of k models")
    ax.grid(alpha=0.4)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(FIGURES["efficiency"], fontsize=10)
    figure.tight_layout()
    return figure


def _scatter_figure(comparison: SpaceComparison):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0, 4.0))
    ax = figure.add_subplot(1, 1, 1)
    for space in comparison.spaces:
        d = comparison.plain[space]
        ax.scatter(d.complexity, d.errors, s=10, alpha=0.6, label=space)
    if comparison.settings["normalize_by"] == "params":
        low, high = comparison.settings["value_range"]
        ax.axvspan(low, high, color="#888888", alpha=0.1, label="normalization range")
    if all(comparison.plain[s].complexity.min() > 0 for s in comparison.spaces):
        ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("error")
    ax.grid(alpha=0.4)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(FIGURES["error_vs_complexity"], fontsize=10)
    figure.tight_layout()
    return figure


def figures(comparison: SpaceComparison) -> dict:
    """Returns the report's plots as matplotlib Figures by name (see `FIGURES`; no
    "normalized_edf" when the comparison does not normalize).

    Raises:
        TypeError: `comparison` is not a `SpaceComparison`.
    """
    _check_comparison(comparison)
    drawn = {"edf": _edf_figure(comparison.plain, FIGURES["edf"])}
    if comparison.normalized:
        by = _LABELS[comparison.settings["normalize_by"]]
        drawn["normalized_edf"] = _edf_figure(
            comparison.normalized, f"Error EDF normalized by {by}"
        )
    drawn["efficiency"] = _efficiency_figure(comparison.efficiency)
    drawn["error_vs_complexity"] = _scatter_figure(comparison)
    return drawn


def _svg(figure) -> str:
    import matplotlib

    buffer = io.StringIO()
    # Text stays text (searchable, testable) and no date or random ids: the same bytes each run.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "keras-nasnet"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _inline(svg: str) -> str:
    # An <svg> element inside HTML needs no XML declaration or doctype.
    return svg[svg.index("<svg") :]


# ---------------------------------------------------------------------------- the reports


def _check_comparison(comparison) -> SpaceComparison:
    if not isinstance(comparison, SpaceComparison):
        raise ArgumentTypeError(
            f"`comparison` must be a SpaceComparison (see `compare_spaces`); received "
            f"{type(comparison).__name__}."
        )
    return comparison


def _markdown_table(headers, rows) -> list:
    lines = ["| " + " | ".join(str(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        lines.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |")
    return lines


def markdown_report(comparison: SpaceComparison, images: Optional[Mapping[str, str]] = None) -> str:
    """Returns the report as Markdown: the descriptions, the spaces' table, the KS table, one
    bootstrap table per space, and an image link per entry of `images` (name -> relative path).

    Raises:
        TypeError: `comparison` is not a `SpaceComparison`.
    """
    _check_comparison(comparison)
    lines = ["# Design spaces: " + ", ".join(comparison.spaces), ""]
    for line in _descriptions(comparison):
        lines += [line, ""]
    lines += ["## Spaces", ""] + _markdown_table(*_summary_table(comparison)) + [""]
    lines += ["## KS distances", ""]
    if comparison.ks:
        lines += _markdown_table(*_ks_table(comparison)) + [""]
    else:
        lines += ["One space: no pair to compare.", ""]
    lines += ["## Bootstrap: good values", ""]
    for space in comparison.spaces:
        result = comparison.bootstrap[space]
        lines += [
            f"### {space}",
            "",
            _bootstrap_line(result),
            "",
        ]
        lines += _markdown_table(*_bootstrap_table(result, comparison.narrowing[space])) + [""]
    if images:
        lines += ["## Plots", ""]
        for name, path in images.items():
            lines += [f"![{FIGURES.get(name, name)}]({path})", ""]
    return "\n".join(lines)


def html_report(comparison: SpaceComparison, command: Optional[str] = None) -> str:
    """Returns the report as a self-contained HTML page: the tables of `markdown_report` and
    the plots inlined as SVG, each in a <figure> with its caption; `command` (the line that
    regenerates the page) is named under its title when given.

    Raises:
        TypeError: `comparison` is not a `SpaceComparison`.
    """
    _check_comparison(comparison)
    svgs = {name: _svg(figure) for name, figure in figures(comparison).items()}
    return _html(comparison, svgs, command)


def _html(comparison: SpaceComparison, svgs: Mapping[str, str], command: Optional[str]) -> str:
    parts = [f"<p>{escape(line)}</p>" for line in _descriptions(comparison)]
    parts += ["<h2>Spaces</h2>", table(*_summary_table(comparison), table_id="spaces")]
    parts.append("<h2>KS distances</h2>")
    if comparison.ks:
        parts.append(table(*_ks_table(comparison), table_id="ks"))
    else:
        parts.append("<p>One space: no pair to compare.</p>")
    parts.append("<h2>Bootstrap: good values</h2>")
    for space in comparison.spaces:
        result = comparison.bootstrap[space]
        parts.append(f"<h3>{escape(space)}</h3>")
        parts.append(f"<p>{escape(_bootstrap_line(result))}</p>")
        headers, rows = _bootstrap_table(result, comparison.narrowing[space])
        parts.append(table(headers, rows, table_id=f"bootstrap-{space}"))
    parts.append("<h2>Plots</h2>")
    for name, svg in svgs.items():
        caption = escape(FIGURES[name])
        parts.append(
            f'<figure id="{name}">{_inline(svg)}<figcaption>{caption}</figcaption></figure>'
        )
    title = "Design spaces: " + ", ".join(comparison.spaces)
    return page(title, parts, command)


def write_report(
    comparison: SpaceComparison, directory: str, command: Optional[str] = None
) -> dict:
    """Writes design_spaces.md, design_spaces.html, narrowing.json ({space: narrowing}) and
    the plots (design_spaces_files/<name>.svg) into `directory` (created if needed); returns
    the paths by kind ("markdown", "html", "narrowing", and each plot's name).

    Raises:
        TypeError: `comparison` is not a `SpaceComparison`.
        OSError: a file could not be written.
    """
    _check_comparison(comparison)
    directory = os.fspath(directory)
    files = os.path.join(directory, FILES_DIR)
    os.makedirs(files, exist_ok=True)
    paths, images, svgs = {}, {}, {}
    for name, figure in figures(comparison).items():
        svgs[name] = _svg(figure)
        paths[name] = os.path.join(files, f"{name}.svg")
        with open(paths[name], "w", encoding="utf-8") as f:
            f.write(svgs[name])
        images[name] = f"{FILES_DIR}/{name}.svg"
    paths["markdown"] = os.path.join(directory, MARKDOWN_FILE)
    with open(paths["markdown"], "w", encoding="utf-8") as f:
        f.write(markdown_report(comparison, images))
    paths["html"] = os.path.join(directory, HTML_FILE)
    with open(paths["html"], "w", encoding="utf-8") as f:
        f.write(_html(comparison, svgs, command))
    paths["narrowing"] = os.path.join(directory, NARROWING_FILE)
    with open(paths["narrowing"], "w", encoding="utf-8") as f:
        json.dump(dict(comparison.narrowing), f, indent=2)
        f.write("\n")
    return paths
