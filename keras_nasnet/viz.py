"""Pictures: cell diagrams in the style of the NASNet paper's figure 4, and reward charts.

Rendered with matplotlib (Agg, no display), not Graphviz: matplotlib installs from PyPI
wherever the package does (the report's charts need it anyway), while Graphviz needs the system
`dot` binary, which a `pip install` cannot bring. A cell has at most a handful of blocks, so a
fixed layered layout needs no graph-layout engine: inputs at the bottom, each block's two op
boxes one row above the deeper of its inputs with its combine node above them, and the output
(the concat, or every state passed on) at the top. SVGs keep their text as text
(``svg.fonttype: none``), so op names can be searched and tested, and carry no date, so the same
cell always gives the same file.
"""

from __future__ import annotations

import os
from typing import Mapping, Optional, Sequence, Union

from .genotypes import Genotype

FORMATS = ("svg", "png")

# Op families share a colour, as in the paper's figure (convs yellow, pools blue, identity plain).
_OP_COLOURS = (
    ("sep_conv", "#fde9a9"),
    ("dil_conv", "#fcd5a5"),
    ("conv", "#f7d07a"),
    ("pool", "#bcd8f5"),
    ("identity", "#eeeeee"),
)
_COMBINE_LABELS = {
    "add": "add",
    "concat": "concat",
    "add_layer_norm": "add+LN",
    "add_instance_norm": "add+IN",
}
_STATE_COLOUR = "#d9f0d3"
_COMBINE_COLOUR = "#a6dba0"
_OUTPUT_COLOUR = "#f4a582"


def _op_colour(op: str) -> str:
    for key, colour in _OP_COLOURS:
        if key in op:
            return colour
    return "#ffffff"


_SUBSCRIPT = str.maketrans("0123456789+-", "₀₁₂₃₄₅₆₇₈₉₊₋")
# Unicode subscripts, not mathtext: mathtext splits a label into pieces in the SVG.
OUTPUT_LABEL = "h" + "ᵢ" + "+1".translate(_SUBSCRIPT)


def input_label(index: int) -> str:
    """Returns the paper's name of cell input `index`: 0 is hᵢ (the newest), 1 is hᵢ₋₁, ..."""
    return "hᵢ" + ("" if index == 0 else f"-{index}".translate(_SUBSCRIPT))


def _as_genotype(genotype) -> Genotype:
    if isinstance(genotype, Genotype):
        return genotype
    if isinstance(genotype, Mapping):
        return Genotype.from_dict(genotype)
    raise TypeError(
        f"plot_cell expects a Genotype (one cell, e.g. NASNET_A.normal) or its dict; received "
        f"{type(genotype).__name__}. For a whole Architecture use plot_architecture."
    )


def output_paths(path: str, formats: Sequence[str] = FORMATS) -> list[str]:
    """Returns the files `plot_cell(.., path)` writes: `path` with each format's extension.

    Raises:
        ValueError: `path` has an extension other than .svg/.png, or an unknown format.
    """
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"Unknown image format {fmt!r}; allowed: {', '.join(FORMATS)}.")
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ValueError(f"`path` must be a file path; received {path!r}.")
    stem, extension = os.path.splitext(str(path))
    if extension and extension.lstrip(".").lower() not in FORMATS:
        raise ValueError(
            f"`path` {path!r} has the extension {extension!r}; give no extension or one of "
            f"{', '.join('.' + f for f in FORMATS)} (every format in `formats` is written)."
        )
    if not extension:
        stem = str(path)
    return [f"{stem}.{fmt}" for fmt in formats]


def _layout(genotype: Genotype):
    """Returns (positions, top, width): node name -> (x, y), the deepest block level, the width."""
    n = genotype.num_inputs
    depth = {i: 0 for i in range(n)}
    for b, block in enumerate(genotype.blocks):
        depth[n + b] = 1 + max(depth[i] for i in block.inputs)
    top = max(depth.values())
    rows = {
        level: [b for b in range(len(genotype.blocks)) if depth[n + b] == level]
        for level in range(1, top + 1)
    }
    width = max([2 * n] + [2 * len(blocks) for blocks in rows.values()])
    positions = {}
    # Oldest input on the left, spread over the width so edges fan out instead of bunching.
    step = width / n
    for slot, state in enumerate(reversed(range(n))):
        positions[f"s{state}"] = (step * (slot - (n - 1) / 2), 0.0)
    for level, blocks in rows.items():
        # Barycentre order: a block sits near the states it reads, which avoids most crossings.
        def mean_x(b):
            return sum(positions[f"s{i}"][0] for i in genotype.blocks[b].inputs) / 2

        for k, b in enumerate(sorted(blocks, key=lambda b: (mean_x(b), b))):
            centre = 2 * k - (len(blocks) - 1)
            y = 3.0 * level - 1.8
            a_x, b_x = (positions[f"s{i}"][0] for i in genotype.blocks[b].inputs)
            left, right = ("a", "b") if a_x <= b_x else ("b", "a")
            positions[f"b{b}{left}"] = (centre - 0.55, y)
            positions[f"b{b}{right}"] = (centre + 0.55, y)
            positions[f"s{n + b}"] = (centre, y + 1.1)
    return positions, top, width


def _box(ax, xy, text, colour, shape="round"):
    style = "round,pad=0.3" if shape == "round" else "circle,pad=0.25"
    return ax.text(
        xy[0],
        xy[1],
        text,
        ha="center",
        va="center",
        fontsize=9,
        zorder=3,
        bbox=dict(boxstyle=style, facecolor=colour, edgecolor="#555555", linewidth=0.8),
    )


def _arrow(ax, start, end, bend=0.0):
    # Clipped to the two boxes' outlines at draw time; drawn after the boxes (zorder) so the
    # outlines are where the boxes were just drawn.
    ax.annotate(
        "",
        xy=end.get_position(),
        xytext=start.get_position(),
        zorder=4,
        arrowprops=dict(
            arrowstyle="-|>",
            mutation_scale=9,
            color="#666666",
            linewidth=0.8,
            shrinkA=1,
            shrinkB=1,
            patchA=start.get_bbox_patch(),
            patchB=end.get_bbox_patch(),
            connectionstyle=f"arc3,rad={bend}",
        ),
    )


def _bend(start, end) -> float:
    # Edges that skip rows bend a little so they pass beside the boxes in between.
    (x0, y0), (x1, y1) = start.get_position(), end.get_position()
    if y1 - y0 < 2:
        return 0.0
    return 0.12 if x1 >= x0 else -0.12


def draw_cell(genotype: Genotype, title: Optional[str] = None):
    """Returns a matplotlib Figure (not attached to pyplot) showing `genotype` as the paper draws
    cells.

    Raises:
        TypeError, ValueError: as `plot_cell`.
    """
    from matplotlib.figure import Figure

    genotype = _as_genotype(genotype)
    n = genotype.num_inputs
    positions, top, width = _layout(genotype)
    output_y = 3.0 * top + 1.0
    figure = Figure(figsize=(1.25 * width + 1.2, 0.75 * output_y + 1.6))
    ax = figure.add_axes((0, 0, 1, 0.94 if title else 1))
    ax.set_xlim(-width / 2 - 0.6, width / 2 + 0.6)
    ax.set_ylim(-0.7, output_y + 0.7)
    ax.axis("off")
    if title:
        figure.suptitle(title, fontsize=11)
    nodes = {f"s{i}": _box(ax, positions[f"s{i}"], input_label(i), _STATE_COLOUR) for i in range(n)}
    for b, block in enumerate(genotype.blocks):
        for side, op in zip("ab", block.ops):
            nodes[f"b{b}{side}"] = _box(ax, positions[f"b{b}{side}"], op, _op_colour(op))
        nodes[f"s{n + b}"] = _box(
            ax, positions[f"s{n + b}"], _COMBINE_LABELS[block.combine], _COMBINE_COLOUR, "circle"
        )
    for b, block in enumerate(genotype.blocks):
        for side, source in zip("ab", block.inputs):
            op = nodes[f"b{b}{side}"]
            _arrow(ax, nodes[f"s{source}"], op, _bend(nodes[f"s{source}"], op))
            _arrow(ax, op, nodes[f"s{n + b}"])
    outputs = genotype.output_states()
    if genotype.passes_all_states:
        # Each passed-on state gets its own output, placed above its source to avoid crossings.
        by_x = sorted(range(len(outputs)), key=lambda k: (positions[f"s{outputs[k]}"][0], k))
        for slot, k in enumerate(by_x):
            out = _box(
                ax,
                (1.3 * (slot - (len(outputs) - 1) / 2), output_y),
                f"{OUTPUT_LABEL} #{k}",
                _OUTPUT_COLOUR,
            )
            _arrow(ax, nodes[f"s{outputs[k]}"], out)
    else:
        out = _box(ax, (0.0, output_y), f"concat → {OUTPUT_LABEL}", _OUTPUT_COLOUR)
        for state in outputs:
            _arrow(ax, nodes[f"s{state}"], out, _bend(nodes[f"s{state}"], out))
    return figure


def save_figure(figure, paths: Sequence[str], dpi: int = 110) -> list[str]:
    """Writes `figure` to each path (format from its extension) and returns the paths."""
    import matplotlib

    for path in paths:
        os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
        fmt = os.path.splitext(path)[1].lstrip(".").lower()
        # Text stays text in SVGs, and no timestamp or random ids: the same cell, the same bytes.
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "keras-nasnet"}):
            metadata = {"Date": None} if fmt == "svg" else {"Software": None}
            figure.savefig(path, format=fmt, dpi=dpi, metadata=metadata)
    return list(paths)


def plot_cell(
    genotype: Union[Genotype, Mapping],
    path: str,
    title: Optional[str] = None,
    formats: Sequence[str] = FORMATS,
) -> list[str]:
    """Draws one cell (inputs, each block's ops and combine, the output) and writes it as SVG and
    PNG.

    Args:
        genotype: a `Genotype` (e.g. `NASNET_A.normal`) or its dict.
        path: output file; its extension is replaced by each of `formats` (`cell` ->
            `cell.svg`, `cell.png`).
        title: optional caption above the diagram.
        formats: image formats to write, from `FORMATS`.

    Returns:
        The paths written, one per format.

    Raises:
        TypeError: `genotype` is not a Genotype or a dict.
        ValueError: a malformed genotype dict, or a bad path or format.
    """
    paths = output_paths(path, formats)
    return save_figure(draw_cell(_as_genotype(genotype), title), paths)


def plot_architecture(architecture, prefix: str, formats: Sequence[str] = FORMATS) -> list[str]:
    """Plots both cells of `architecture` (an Architecture, a name or a JSON path) as
    `<prefix>_normal.<fmt>` and `<prefix>_reduction.<fmt>`; returns the paths written.

    Raises:
        ValueError: an unknown architecture name or an invalid JSON file.
    """
    from .genotypes import get_architecture

    architecture = get_architecture(architecture)
    written = []
    for cell in ("normal", "reduction"):
        written += plot_cell(
            getattr(architecture, cell), f"{prefix}_{cell}", f"{cell} cell", formats
        )
    return written


def reward_figure(runs: Sequence[tuple[str, Sequence[float]]], window: int = 10):
    """Returns a Figure of reward vs trial for each (label, rewards) run: every trial as a dot,
    the running best as a step line and the moving average over `window` trials; NaN rewards
    (failed trials) are left out."""
    import math

    import numpy as np
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.2))
    ax = figure.add_subplot(1, 1, 1)
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    for k, (label, rewards) in enumerate(runs):
        colour = colours[k % len(colours)]
        rewards = np.asarray(rewards, dtype="float64")
        trials = np.arange(1, len(rewards) + 1)
        ok = ~np.isnan(rewards)
        ax.scatter(
            trials[ok], rewards[ok], s=10, alpha=0.35, color=colour, label=f"{label}: each trial"
        )
        if ok.any():
            best = np.fmax.accumulate(np.where(ok, rewards, -math.inf))
            shown = np.isfinite(best)
            ax.step(
                trials[shown],
                best[shown],
                where="post",
                color=colour,
                linewidth=2,
                label=f"{label}: best so far",
            )
            values, kept = rewards[ok], trials[ok]
            w = max(1, min(window, len(values)))
            average = np.convolve(values, np.ones(w) / w, mode="valid")
            ax.plot(
                kept[w - 1 :],
                average,
                color=colour,
                linestyle="--",
                linewidth=1.2,
                label=f"{label}: moving average ({w})",
            )
    ax.set_xlabel("trial")
    ax.set_ylabel("reward")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    return figure


def updates_figure(runs: Sequence[tuple[str, Sequence[Mapping]]]):
    """Returns a Figure of the controller's mean reward, baseline and entropy per update, per
    run.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3.2))
    left, right = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    for label, updates in runs:
        steps = [u["num_updates"] for u in updates]
        left.plot(steps, [u["mean_reward"] for u in updates], label=f"{label}: mean reward")
        left.plot(
            steps, [u["baseline"] for u in updates], linestyle="--", label=f"{label}: baseline"
        )
        right.plot(steps, [u["entropy"] for u in updates], label=label)
    left.set_xlabel("controller update")
    right.set_xlabel("controller update")
    right.set_ylabel("entropy")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    figure.tight_layout()
    return figure
