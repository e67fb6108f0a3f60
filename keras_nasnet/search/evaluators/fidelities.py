"""Schedules of successive halving and Hyperband brackets over a training budget.

A fidelity is how long a candidate has been trained, in whole units of the caller's choice
(epochs, or steps, or epochs of a fixed number of steps). A bracket starts `n` new candidates
at a low fidelity, keeps the best `1/eta` of them and trains those further, `eta` times
longer, and so on up to `max_fidelity` (a *rung* per fidelity). Hyperband (Li, Jamieson,
DeSalvo, Rostamizadeh, Talwalkar, JMLR 2018) runs several brackets, from the most aggressive
(many candidates from `min_fidelity`) to plain full-fidelity evaluation of a few, because how
much a low fidelity can be trusted is not known in advance.

With R = max_fidelity / min_fidelity and s_max = floor(log_eta(R)), bracket s (s_max down to
0) has s + 1 rungs; rung i trains n_i = floor(n / eta^i) candidates to fidelity
max_fidelity / eta^(s - i), with n = ceil((s_max + 1) / (s + 1) * eta^s), and promotes the
best n_(i+1) of them. Every number is computed in integers (no float logarithm decides a
count), and a fidelity is rounded half up, never below `min_fidelity`.

Pure: no Keras, no I/O; the oracle (`oracles.multi_fidelity`) walks the schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Optional

from ...validation import check_int

__all__ = [
    "Bracket",
    "FidelitySchedule",
    "Rung",
    "hyperband",
    "max_halvings",
    "successive_halving",
]


@dataclass(frozen=True)
class Rung:
    """One fidelity of a bracket.

    Attributes:
        fidelity: the training a candidate has had at the end of this rung, counted from zero
            (a promoted candidate continues from the previous rung's fidelity).
        candidates: how many candidates this rung trains.
        promoted: how many of them (the best) go on to the next rung; 0 at the last rung.
    """

    fidelity: int
    candidates: int
    promoted: int


@dataclass(frozen=True)
class Bracket:
    """One run of successive halving: its rungs, lowest fidelity first.

    Attributes:
        halvings: s, the number of promotions a candidate of its first rung can get (Hyperband's
            bracket number; the bracket has s + 1 rungs).
        rungs: the rungs, lowest fidelity first.
    """

    halvings: int
    rungs: tuple

    @property
    def new_candidates(self) -> int:
        """Returns how many new candidates the bracket starts (its first rung's)."""
        return self.rungs[0].candidates

    @property
    def trials(self) -> int:
        """Returns how many trainings the bracket runs (one per candidate and rung)."""
        return sum(rung.candidates for rung in self.rungs)

    def cost(self, continued: bool = True) -> int:
        """Returns the fidelity units the bracket trains in all: a promoted candidate continues
        from its previous rung (`continued`, what `MultiFidelityTuner` does) or is trained
        again from scratch."""
        total, previous = 0, 0
        for rung in self.rungs:
            total += rung.candidates * (rung.fidelity - previous if continued else rung.fidelity)
            previous = rung.fidelity
        return total


@dataclass(frozen=True)
class FidelitySchedule:
    """Brackets run one after another, most aggressive first (keras-tuner's Hyperband order).

    Attributes:
        min_fidelity, max_fidelity, eta: the schedule's settings.
        brackets: the `Bracket`s, the most halvings first.
    """

    min_fidelity: int
    max_fidelity: int
    eta: int
    brackets: tuple

    @property
    def new_candidates(self) -> int:
        """Returns the new candidates of one pass over every bracket."""
        return sum(bracket.new_candidates for bracket in self.brackets)

    @property
    def trials(self) -> int:
        """Returns the trainings of one pass over every bracket."""
        return sum(bracket.trials for bracket in self.brackets)

    def cost(self, continued: bool = True) -> int:
        """Returns the fidelity units one pass over every bracket trains (see `Bracket.cost`)."""
        return sum(bracket.cost(continued) for bracket in self.brackets)

    def get_config(self) -> dict:
        """Returns the JSON-ready settings and rungs ([fidelity, candidates, promoted] per
        rung, per bracket), what a resumed search is checked against."""
        return {
            "min_fidelity": self.min_fidelity,
            "max_fidelity": self.max_fidelity,
            "eta": self.eta,
            "brackets": [
                [[r.fidelity, r.candidates, r.promoted] for r in bracket.rungs]
                for bracket in self.brackets
            ],
        }

    def table(self) -> str:
        """Returns the schedule as plain-text lines, one per bracket: 'candidates@fidelity'
        per rung and the bracket's cost."""
        lines = []
        for bracket in self.brackets:
            rungs = " -> ".join(f"{r.candidates}@{r.fidelity}" for r in bracket.rungs)
            lines.append(f"s={bracket.halvings}: {rungs} (cost {bracket.cost()})")
        return "\n".join(lines)


def _check_range(min_fidelity, max_fidelity, eta) -> tuple[int, int, int]:
    min_fidelity = check_int(min_fidelity, "min_fidelity", minimum=1)
    max_fidelity = check_int(max_fidelity, "max_fidelity", minimum=1)
    eta = check_int(eta, "eta", minimum=2)
    if max_fidelity < min_fidelity:
        raise ValueError(
            f"`max_fidelity` ({max_fidelity}) must be at least `min_fidelity` ({min_fidelity})."
        )
    return min_fidelity, max_fidelity, eta


def max_halvings(min_fidelity: int, max_fidelity: int, eta: int = 3) -> int:
    """Returns s_max, the largest s with min_fidelity * eta^s <= max_fidelity.

    Raises:
        TypeError: a setting that is not an int.
        ValueError: a fidelity below 1, `eta` below 2, or `max_fidelity` < `min_fidelity`.
    """
    min_fidelity, max_fidelity, eta = _check_range(min_fidelity, max_fidelity, eta)
    halvings = 0
    while min_fidelity * eta ** (halvings + 1) <= max_fidelity:
        halvings += 1
    return halvings


def _fidelity(max_fidelity: int, eta: int, steps_down: int, min_fidelity: int) -> int:
    exact = Fraction(max_fidelity, eta**steps_down)
    rounded = int(exact + Fraction(1, 2))  # half up; Fraction's int() floors positives
    return max(min_fidelity, rounded)


def _bracket(min_fidelity, max_fidelity, eta, halvings: int, candidates: int) -> Bracket:
    counts = [max(1, candidates // eta**i) for i in range(halvings + 1)]
    rungs = []
    for i, count in enumerate(counts):
        fidelity = _fidelity(max_fidelity, eta, halvings - i, min_fidelity)
        if rungs and fidelity <= rungs[-1].fidelity:  # only for a tiny range; keep it rising
            fidelity = rungs[-1].fidelity + 1
        promoted = counts[i + 1] if i < halvings else 0
        rungs.append(Rung(fidelity=fidelity, candidates=count, promoted=promoted))
    return Bracket(halvings=halvings, rungs=tuple(rungs))


def hyperband(
    min_fidelity: int, max_fidelity: int, eta: int = 3, brackets: Optional[int] = None
) -> FidelitySchedule:
    """Returns Hyperband's schedule: `brackets` brackets from the most aggressive one (None:
    all s_max + 1 of them; 1: successive halving alone).

    Raises:
        TypeError: a setting that is not an int.
        ValueError: a fidelity below 1, `eta` below 2, `max_fidelity` < `min_fidelity`, or
            `brackets` outside [1, s_max + 1].
    """
    s_max = max_halvings(min_fidelity, max_fidelity, eta)
    count = check_int(brackets, "brackets", minimum=1, maximum=s_max + 1, allow_none=True)
    count = s_max + 1 if count is None else count
    made = []
    for s in range(s_max, s_max - count, -1):
        n = -(-(s_max + 1) * eta**s // (s + 1))  # ceil((s_max + 1) / (s + 1) * eta^s)
        made.append(_bracket(min_fidelity, max_fidelity, eta, s, n))
    return FidelitySchedule(min_fidelity, max_fidelity, eta, tuple(made))


def successive_halving(
    min_fidelity: int, max_fidelity: int, eta: int = 3, candidates: Optional[int] = None
) -> FidelitySchedule:
    """Returns one bracket of successive halving from `min_fidelity` to `max_fidelity` that
    starts `candidates` new ones (None: eta^s_max, Hyperband's most aggressive bracket). With
    fewer than eta^s_max candidates the later rungs keep one candidate each.

    Raises:
        TypeError: a setting that is not an int.
        ValueError: a fidelity below 1, `eta` below 2, `max_fidelity` < `min_fidelity`, or
            `candidates` below 1.
    """
    s_max = max_halvings(min_fidelity, max_fidelity, eta)
    count = check_int(candidates, "candidates", minimum=1, allow_none=True)
    count = eta**s_max if count is None else count
    bracket = _bracket(min_fidelity, max_fidelity, eta, s_max, count)
    return FidelitySchedule(min_fidelity, max_fidelity, eta, (bracket,))
