"""The fidelity view of a multi-fidelity search (`oracles.multi_fidelity`): how many cells
reached each fidelity, and how the ranks at one rung of a bracket agreed with the next.

The agreement of a rung pair is Kendall's tau-b between the results of the cells that ran
both rungs (the promoted ones: the best of the lower rung, so it says how well the lower
fidelity ordered the cells it promoted, not the whole rung). 1: the same order, 0: unrelated,
-1: reversed; None where fewer than two cells ran both or one side is all ties.

Everything is read from the search's state: the oracle's ``nas_state()`` or the project's
``nas_state.json`` (its "rewards" and "multi_fidelity"), so the report of a running search
and of a finished one are the same.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Optional, Sequence

from ...html_pages import table

__all__ = [
    "FidelityCount",
    "RankAgreement",
    "fidelity_counts",
    "fidelity_html",
    "fidelity_markdown",
    "kendall_tau",
    "multi_fidelity_state",
    "rank_agreements",
    "trial_fidelities",
]


@dataclass(frozen=True)
class FidelityCount:
    """How many cells have a result at `fidelity` (over every bracket)."""

    fidelity: int
    cells: int


@dataclass(frozen=True)
class RankAgreement:
    """The agreement of one bracket's rungs `rung` and `rung + 1`.

    Attributes:
        bracket: the bracket's position among those the search started (0: the first).
        halvings: its s (Hyperband's bracket number).
        rung: the lower rung's index.
        low_fidelity, high_fidelity: the two rungs' fidelities.
        cells: the cells with a result at both.
        tau: Kendall's tau-b of their results at the two rungs (None: undefined).
    """

    bracket: int
    halvings: int
    rung: int
    low_fidelity: int
    high_fidelity: int
    cells: int
    tau: Optional[float]


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> Optional[float]:
    """Returns Kendall's tau-b of the pairs (x[i], y[i]), counting every pair of pairs
    (exact, O(n^2)); None for fewer than two pairs or when `x` or `y` is all ties.

    Raises:
        ValueError: `x` and `y` differ in length.
    """
    if len(x) != len(y):
        raise ValueError(f"`x` and `y` must have one length; received {len(x)} and {len(y)}.")
    concordant_minus_discordant = 0
    untied_x = untied_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx = (x[i] > x[j]) - (x[i] < x[j])
            dy = (y[i] > y[j]) - (y[i] < y[j])
            concordant_minus_discordant += dx * dy
            untied_x += dx != 0
            untied_y += dy != 0
    if untied_x == 0 or untied_y == 0:
        return None
    return concordant_minus_discordant / math.sqrt(untied_x * untied_y)


def multi_fidelity_state(source) -> Optional[dict]:
    """Returns {"rewards", "multi_fidelity"} of `source` (an oracle with `nas_state()`, or a
    saved ``nas_state.json`` as a dict), or None for a search at one fidelity."""
    if hasattr(source, "schedule") and hasattr(source, "brackets"):
        return {
            "rewards": dict(source.rewards),
            "multi_fidelity": {
                "schedule": source.schedule.get_config(),
                "brackets": source.brackets,
            },
        }
    if isinstance(source, dict) and isinstance(source.get("multi_fidelity"), dict):
        return {"rewards": source.get("rewards", {}), "multi_fidelity": source["multi_fidelity"]}
    return None


def _walk(state: dict):
    # (bracket position, its schedule row, its rungs) per started bracket.
    saved = state["multi_fidelity"]
    plans = saved["schedule"]["brackets"]
    for position, bracket in enumerate(saved["brackets"]):
        yield position, plans[bracket["index"]], bracket["rungs"]


def _result(state: dict, trial_id: str) -> Optional[float]:
    reward = state["rewards"].get(trial_id)
    return None if reward is None or not math.isfinite(reward) else float(reward)


def trial_fidelities(state: dict) -> dict:
    """Returns {trial_id: the fidelity it trained to} of a `multi_fidelity_state`."""
    found = {}
    for _, plan, rungs in _walk(state):
        for rung, entries in enumerate(rungs):
            for entry in entries:
                found[entry["id"]] = plan[rung][0]
    return found


def fidelity_counts(state: dict) -> list[FidelityCount]:
    """Returns, lowest fidelity first, how many cells have a result at each fidelity of a
    `multi_fidelity_state` (every fidelity of the schedule, reached or not)."""
    counts = {row[0]: 0 for plan in state["multi_fidelity"]["schedule"]["brackets"] for row in plan}
    for trial_id, fidelity in trial_fidelities(state).items():
        if _result(state, trial_id) is not None:
            counts[fidelity] += 1
    return [FidelityCount(fidelity, cells) for fidelity, cells in sorted(counts.items())]


def rank_agreements(state: dict) -> list[RankAgreement]:
    """Returns one `RankAgreement` per started bracket and pair of adjacent rungs of a
    `multi_fidelity_state`, in bracket then rung order."""
    rows = []
    for position, plan, rungs in _walk(state):
        for rung in range(len(rungs) - 1):
            pairs = [
                (_result(state, entry["parent"]), _result(state, entry["id"]))
                for entry in rungs[rung + 1]
            ]
            pairs = [(low, high) for low, high in pairs if low is not None and high is not None]
            rows.append(
                RankAgreement(
                    bracket=position,
                    halvings=len(plan) - 1,
                    rung=rung,
                    low_fidelity=plan[rung][0],
                    high_fidelity=plan[rung + 1][0],
                    cells=len(pairs),
                    tau=kendall_tau([p[0] for p in pairs], [p[1] for p in pairs]),
                )
            )
    return rows


def _tau_text(tau: Optional[float]) -> str:
    return "" if tau is None else f"{tau:.2f}"


def _agreement_cells(row: RankAgreement) -> list:
    return [
        row.bracket,
        row.halvings,
        f"{row.low_fidelity} -> {row.high_fidelity}",
        row.cells,
        _tau_text(row.tau),
    ]


_COUNT_HEADER = ["fidelity", "cells with a result"]
_AGREEMENT_HEADER = ["bracket", "s", "fidelities", "cells in both", "Kendall tau"]
_AGREEMENT_NOTE = (
    "Kendall's tau-b between the results of the cells that ran both rungs (the promoted ones); "
    "empty: fewer than two such cells, or all tied."
)


def fidelity_markdown(state: dict) -> list[str]:
    """Returns the Markdown lines of the fidelity view of a `multi_fidelity_state`."""
    lines = ["## Fidelities", "", "| " + " | ".join(_COUNT_HEADER) + " |", "|---|---|"]
    lines += [f"| {c.fidelity} | {c.cells} |" for c in fidelity_counts(state)]
    agreements = rank_agreements(state)
    if agreements:
        lines += [
            "",
            "## Rank agreement between rungs",
            "",
            _AGREEMENT_NOTE,
            "",
            "| " + " | ".join(_AGREEMENT_HEADER) + " |",
            "|---|---|---|---|---|",
        ]
        lines += [
            "| " + " | ".join(str(cell) for cell in _agreement_cells(row)) + " |"
            for row in agreements
        ]
    return lines


def fidelity_html(state: dict, label: str, index: int = 0) -> str:
    """Returns the HTML section of the fidelity view of a `multi_fidelity_state` of the run
    `label`, the `index`-th of its page (its tables' ids)."""
    counts = [[c.fidelity, c.cells] for c in fidelity_counts(state)]
    parts = [
        f"<h2>Fidelities: {html.escape(label)}</h2>",
        table(_COUNT_HEADER, counts, f"fidelities-{index}"),
    ]
    agreements = rank_agreements(state)
    if agreements:
        parts += [
            f"<h3>Rank agreement between rungs</h3>\n<p>{html.escape(_AGREEMENT_NOTE)}</p>",
            table(
                _AGREEMENT_HEADER,
                [_agreement_cells(r) for r in agreements],
                f"agreement-{index}",
            ),
        ]
    return "\n".join(parts)
