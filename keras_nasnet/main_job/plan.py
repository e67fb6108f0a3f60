"""The main job's plan: one wall-clock budget split between the search, the final model and the
comparison, each sized from what training costs on this machine.

`plan_main_job(seconds, costs)` is a pure function of the seconds left and the measured costs
(`MachineCosts`): no TensorFlow, no clock, so it is tested on fixed numbers. The comparison and
the final model are sized first within their shares (discrete choices: runs, epochs); the
search, whose `max_time` takes any value, gets every second they leave. A step sized below the
main job's full settings (`FullSettings`) is named among the plan's `cuts`, with the reason.

The cost model, in seconds (the constants below were fitted to whole runs of the main job,
docs/benchmarks.md "The main job's plan"):
- a search child: `child.fixed * CHILD_TRIAL_FIXED + steps * child.step` (the fixed part also
  covers the validation pass, the saved weights, the controller update and the report);
- the final model: `final.fixed * FINAL_FIXED + epochs * steps * final.step` (the fixed part
  also covers the test pass, the .keras and .tflite files and the search's reports);
- a comparison run (a fresh worker process): `startup + compare.fixed * COMPARE_RUN_FIXED +
  steps * compare.step * JOBS_STEP_FACTOR`, where `compare` is the final model's cost scaled by
  the ratio of cells (N = 1 has 5 cells, N = 2 has 8); runs go `jobs` at a time.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Optional

from ..validation import check_int, check_number

# Share of the seconds left (after the reserve and the fixed costs) that the comparison and the
# final model may take; the search gets the rest, at least 1 - both.
COMPARE_SHARE = 0.35
FINAL_SHARE = 0.25
# Kept unplanned, for what the cost model misses (a costlier cell than NASNet-A's, a busier
# machine): a fraction of the seconds left, and at least this many seconds.
RESERVE_FRACTION = 0.06
RESERVE_MIN_SECONDS = 5.0
# The search aims at this many children; fewer than MIN_CHILDREN is named as a cut.
TARGET_CHILDREN = 10
MIN_CHILDREN = 8
# Fewer images than this per child leave its batch-norm statistics (momentum 0.9) near their
# initial values after training, so that its validation accuracy is that of chance (10 steps
# gave 0.10 on the sample; after 32 steps the initial values weigh 0.9 ** 32 = 3%).
MIN_CHILD_EXAMPLES = 2048
# Fitted multipliers of the cost model (module docstring).
CHILD_TRIAL_FIXED = 1.3
FINAL_FIXED = 2.2
COMPARE_RUN_FIXED = 1.6
JOBS_STEP_FACTOR = 2.0
# The comparison's fixed cost (matching F: a few model builds per cell; its report), in units
# of the final model's fixed cost.
COMPARE_FIXED = 0.9
# The search's own fixed cost (loading the data, keras-tuner's project, the best cell's file)
# in units of a child's fixed cost.
SEARCH_FIXED = 0.3
# Seeds per architecture: 2 give an interval; more when the comparison's share allows.
MIN_SEEDS = 2
MAX_SEEDS = 5
# The comparison trains on at least this fraction of an epoch before it drops the random cell.
MIN_COMPARE_FRACTION = 0.5


@dataclass(frozen=True)
class StepCost:
    """What training one model costs on this machine: `fixed` seconds that do not depend on the
    data (building it, its training state, tracing the first step) and `step` seconds for each
    further step of one batch."""

    fixed: float
    step: float

    def __post_init__(self):
        check_number(self.fixed, "fixed", minimum=0)
        check_number(self.step, "step", minimum=0, min_inclusive=False)

    def scaled(self, factor: float) -> "StepCost":
        """Returns this cost times `factor` (a model with `factor` times the cells)."""
        return StepCost(self.fixed * factor, self.step * factor)


@dataclass(frozen=True)
class MachineCosts:
    """The measured costs the plan is sized from: a search child's, the final model's, and
    `startup`, the seconds a fresh Python process takes to import TensorFlow (each comparison
    run pays it)."""

    child: StepCost
    final: StepCost
    startup: float

    def __post_init__(self):
        check_number(self.startup, "startup", minimum=0)

    def to_dict(self) -> dict:
        """Returns the costs as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "MachineCosts":
        """Returns the costs `to_dict` wrote."""
        return cls(StepCost(**values["child"]), StepCost(**values["final"]), values["startup"])


@dataclass(frozen=True)
class FullSettings:
    """The main job at full size, what a plan cuts from: the sizes of the data and models,
    children of `child_epochs` epochs, the final model's `final_epochs`, and a comparison of
    `compare_cells` architectures with `MIN_SEEDS` seeds of `compare_epochs` epochs each."""

    train_examples: int = 6000  # the training split (final model, comparison)
    validation_examples: int = 600  # held out of it for the children's rewards
    batch_size: int = 64
    child_epochs: int = 1
    final_epochs: int = 3
    compare_epochs: int = 1
    compare_cells: int = 3  # the reference, the found cell, a random cell
    child_cells: int = 8  # N = 2: 3 stacks of 2 normal cells and 2 reduction cells
    final_cells: int = 8
    compare_cells_per_model: int = 5  # N = 1
    max_children: int = 30  # the search's max_trials
    jobs: int = 2

    def __post_init__(self):
        for name in (
            "train_examples",
            "validation_examples",
            "batch_size",
            "child_epochs",
            "final_epochs",
            "compare_epochs",
            "child_cells",
            "final_cells",
            "compare_cells_per_model",
            "max_children",
            "jobs",
        ):
            check_int(getattr(self, name), name, minimum=1)
        check_int(self.compare_cells, "compare_cells", minimum=2)
        if self.validation_examples >= self.train_examples:
            raise ValueError(
                f"`validation_examples`={self.validation_examples} must be fewer than "
                f"`train_examples`={self.train_examples}."
            )

    @property
    def child_train_examples(self) -> int:
        """Returns the children's training part: the training split less the held-out part."""
        return self.train_examples - self.validation_examples

    def steps(self, examples: int) -> int:
        """Returns the steps of one epoch over `examples` examples."""
        return math.ceil(examples / self.batch_size)


@dataclass(frozen=True)
class Plan:
    """How the main job spends its seconds.

    Attributes:
        seconds: what the plan was given (the budget left after start-up and measurement).
        reserve: seconds kept unplanned.
        search_seconds: the search's share; `max_time`, when the last child may start, is
            one child earlier, so that it ends within the share.
        child_examples: images each child trains on (one epoch of them at most).
        expected_children: children the share is expected to train.
        final_epochs, final_examples: the final model's epochs and images per epoch (None:
            the whole training split).
        compare_cells, compare_seeds, compare_examples: the comparison's architectures (0: no
            comparison), seeds each, and images per epoch (None: the whole split).
        estimates: the expected seconds of "search", "final" and "compare", of
            "after_final", the part of "final" after its training, and of "compare_run", one
            comparison run.
        cuts: what was cut from the full main job, and why, one sentence each.
        notes: other choices worth a line (more seeds than the minimum, say).
    """

    seconds: float
    reserve: float
    search_seconds: float
    max_time: float
    child_examples: int
    expected_children: int
    final_epochs: int
    final_examples: Optional[int]
    compare_cells: int
    compare_seeds: int
    compare_examples: Optional[int]
    estimates: dict = field(default_factory=dict)
    cuts: tuple = ()
    notes: tuple = ()

    def to_dict(self) -> dict:
        """Returns the plan as a JSON-ready dict (`from_dict` reads it back)."""
        values = asdict(self)
        values["cuts"], values["notes"] = list(self.cuts), list(self.notes)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "Plan":
        """Returns the plan `to_dict` wrote.

        Raises:
            ValueError: `values` lacks a field or has one the plan does not know.
        """
        names = set(cls.__dataclass_fields__)
        if set(values) != names:
            raise ValueError(
                f"A saved plan must have the fields {sorted(names)}; received {sorted(values)}."
            )
        values = dict(values)
        values["cuts"], values["notes"] = tuple(values["cuts"]), tuple(values["notes"])
        return cls(**values)

    def lines(self) -> list:
        """Returns the plan in words, one line per step, then each cut and note."""
        e = self.estimates
        lines = [
            f"search: {self.search_seconds:.0f} s, about {self.expected_children} children of "
            f"{self.child_examples:,} images each (the last one starts by {self.max_time:.0f} s)",
            "final model: "
            + _epochs_text(self.final_epochs, self.final_examples)
            + f", about {e.get('final', 0):.0f} s with its export and reports",
        ]
        if self.compare_cells:
            lines.append(
                f"comparison: {self.compare_cells} cells x {self.compare_seeds} seeds, "
                + _epochs_text(1, self.compare_examples)
                + f" per run, about {e.get('compare', 0):.0f} s"
            )
        else:
            lines.append("comparison: none")
        lines.append(f"reserve: {self.reserve:.0f} s of {self.seconds:.0f} s")
        lines += [f"cut: {cut}" for cut in self.cuts]
        lines += [f"note: {note}" for note in self.notes]
        return lines


def _epochs_text(epochs: int, examples: Optional[int]) -> str:
    text = f"{epochs} epoch{'s' * (epochs != 1)}"
    return text if examples is None else f"{text} of {examples:,} images"


def child_trial_seconds(costs: MachineCosts, steps: int) -> float:
    """Returns the expected seconds of one search child trained `steps` steps."""
    return costs.child.fixed * CHILD_TRIAL_FIXED + steps * costs.child.step


def final_seconds(costs: MachineCosts, steps: int) -> float:
    """Returns the expected seconds of the final model trained `steps` steps in all, with its
    test pass, files and the search's reports."""
    return costs.final.fixed * FINAL_FIXED + steps * costs.final.step


def compare_run_seconds(costs: MachineCosts, full: FullSettings, steps: int) -> float:
    """Returns the expected wall seconds of one comparison run of `steps` steps, in its own
    process beside `full.jobs - 1` others."""
    model = costs.final.scaled(full.compare_cells_per_model / full.final_cells)
    step = model.step * (JOBS_STEP_FACTOR if full.jobs > 1 else 1.0)
    return costs.startup + model.fixed * COMPARE_RUN_FIXED + steps * step


def compare_seconds(costs: MachineCosts, full: FullSettings, runs: int, steps: int) -> float:
    """Returns the expected wall seconds of a comparison of `runs` runs of `steps` steps each,
    `full.jobs` at a time, with its matching of F and its report."""
    run = compare_run_seconds(costs, full, steps)
    return costs.final.fixed * COMPARE_FIXED + math.ceil(runs / full.jobs) * run


def plan_main_job(seconds: float, costs: MachineCosts, full: FullSettings = FullSettings()) -> Plan:
    """Returns the `Plan` that fits the search, the final model and the comparison into
    `seconds`, sized from `costs` (see the module docstring).

    Raises:
        ValueError: `seconds` not a positive number.
        TypeError: `costs` not a `MachineCosts` or `full` not a `FullSettings`.
    """
    seconds = check_number(seconds, "seconds", minimum=0, min_inclusive=False)
    if not isinstance(costs, MachineCosts):
        raise TypeError(f"`costs` must be a MachineCosts; received {costs!r}.")
    if not isinstance(full, FullSettings):
        raise TypeError(f"`full` must be a FullSettings; received {full!r}.")
    plan = _plan(seconds, costs, full)
    if plan.compare_cells:
        return plan
    # Left out: say how much more time would bring the comparison in (the least, to a second).
    low, high = seconds, 2 * seconds + 60
    while not _plan(high, costs, full).compare_cells:
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) / 2
        low, high = (low, middle) if _plan(middle, costs, full).compare_cells else (middle, high)
    more = f" (a budget about {math.ceil(high - seconds)} s larger would fit it)"
    cuts = tuple(cut + more if cut.startswith("comparison: left out") else cut for cut in plan.cuts)
    return replace(plan, cuts=cuts)


def _plan(seconds: float, costs: MachineCosts, full: FullSettings) -> Plan:
    reserve = max(RESERVE_MIN_SECONDS, RESERVE_FRACTION * seconds)
    fixed = costs.child.fixed * SEARCH_FIXED
    available = max(0.0, seconds - reserve - fixed)
    search_cuts, final_cuts, compare_cuts, notes = [], [], [], []

    # The search's MIN_CHILDREN come first, then one epoch of the final model: the comparison
    # takes its share only of what they leave.
    least_search = MIN_CHILDREN * child_trial_seconds(costs, _least_child_steps(full))
    one_final_epoch = final_seconds(costs, full.steps(full.train_examples))
    compare_share = min(COMPARE_SHARE * available, available - least_search - one_final_epoch)
    compare = _size_comparison(compare_share, costs, full, compare_cuts, notes)
    final_share = min(FINAL_SHARE * available, available - least_search - compare["seconds"])
    final = _size_final(final_share, costs, full, final_cuts)
    search_seconds = max(0.0, available - compare["seconds"] - final["seconds"])
    search = _size_search(search_seconds, costs, full, search_cuts)
    cuts = search_cuts + final_cuts + compare_cuts  # in the order the steps run
    if available < compare["seconds"] + final["seconds"] + search["one_child"]:
        cuts.append(
            f"the budget is too small even for this plan: it needs about "
            f"{compare['seconds'] + final['seconds'] + search['one_child'] + reserve:.0f} s, "
            f"{seconds:.0f} s are left"
        )
    return Plan(
        seconds=seconds,
        reserve=reserve,
        search_seconds=search_seconds,
        max_time=search["max_time"],
        child_examples=search["examples"],
        expected_children=search["children"],
        final_epochs=final["epochs"],
        final_examples=final["examples"],
        compare_cells=compare["cells"],
        compare_seeds=compare["seeds"],
        compare_examples=compare["examples"],
        estimates={
            "search": search_seconds + fixed,
            "final": final["seconds"],
            "compare": compare["seconds"],
            # Of "final", what comes after its training: the test pass, files, reports.
            "after_final": costs.final.fixed * (FINAL_FIXED - 1),
            "compare_run": compare_run_seconds(
                costs,
                full,
                full.steps(compare["examples"] or full.train_examples) * full.compare_epochs,
            ),
        },
        cuts=tuple(cuts),
        notes=tuple(notes),
    )


def _size_comparison(share: float, costs, full: FullSettings, cuts: list, notes: list) -> dict:
    """Returns the comparison that fits `share`: cells, seeds, images per epoch, seconds."""
    whole = full.train_examples
    steps = full.steps(whole) * full.compare_epochs

    def cost(cells, seeds, run_steps):
        return compare_seconds(costs, full, cells * seeds, run_steps)

    cells = full.compare_cells
    if cost(cells, MIN_SEEDS, steps) <= share:
        seeds = MIN_SEEDS
        while seeds < MAX_SEEDS and cost(cells, seeds + 1, steps) <= share:
            seeds += 1
        if seeds > MIN_SEEDS:
            notes.append(f"comparison: {seeds} seeds per cell, as its share allows")
        return {
            "cells": cells,
            "seeds": seeds,
            "examples": None,
            "seconds": cost(cells, seeds, steps),
        }
    whole_seconds = cost(cells, MIN_SEEDS, steps)
    min_steps = max(1, math.ceil(steps * MIN_COMPARE_FRACTION))
    for cells in range(full.compare_cells, 1, -1):
        fitting = _most_steps(lambda s, c=cells: cost(c, MIN_SEEDS, s), share, min_steps, steps)
        if fitting is None:
            continue
        examples = min(whole, fitting * full.batch_size // full.compare_epochs)
        runs = f"{cells} cells x {MIN_SEEDS} seeds"
        if cells < full.compare_cells:
            cuts.append(
                f"comparison: {full.compare_cells - cells} cell(s) left out (the random cell "
                f"first), so that {runs} fit its {max(share, 0):.0f} s share"
            )
        cuts.append(
            f"comparison: each run trains on {examples:,} of {whole:,} images per epoch "
            f"(whole epochs for {full.compare_cells} cells x {MIN_SEEDS} seeds would take about "
            f"{whole_seconds:.0f} s; its share is {max(share, 0):.0f} s)"
        )
        return {
            "cells": cells,
            "seeds": MIN_SEEDS,
            "examples": examples,
            "seconds": cost(cells, MIN_SEEDS, fitting),
        }
    least = cost(2, MIN_SEEDS, min_steps)
    cuts.append(
        f"comparison: left out: even 2 cells x {MIN_SEEDS} seeds on {MIN_COMPARE_FRACTION:.0%} of "
        f"an epoch would take about {least:.0f} s, {least - max(share, 0):.0f} s more than the "
        f"budget leaves after the search's {MIN_CHILDREN} children and one epoch of the final "
        "model"
    )
    return {"cells": 0, "seeds": 0, "examples": None, "seconds": 0.0}


def _size_final(share: float, costs, full: FullSettings, cuts: list) -> dict:
    """Returns the final model that fits `share`: epochs, images per epoch, seconds."""
    whole = full.train_examples
    epoch = full.steps(whole)
    epochs = full.final_epochs
    while epochs > 1 and final_seconds(costs, epochs * epoch) > share:
        epochs -= 1
    if final_seconds(costs, epochs * epoch) <= share:
        if epochs < full.final_epochs:
            cuts.append(
                f"final model: {epochs} of {full.final_epochs} epochs ({full.final_epochs} "
                f"would take about {final_seconds(costs, full.final_epochs * epoch):.0f} s; its "
                f"share is {max(share, 0):.0f} s)"
            )
        return {"epochs": epochs, "examples": None, "seconds": final_seconds(costs, epochs * epoch)}
    steps = _most_steps(lambda s: final_seconds(costs, s), share, 1, epoch) or 1
    examples = steps * full.batch_size
    cuts.append(
        f"final model: 1 epoch of {examples:,} of {whole:,} images (one whole epoch would take "
        f"about {final_seconds(costs, epoch):.0f} s; its share is {max(share, 0):.0f} s)"
    )
    return {"epochs": 1, "examples": examples, "seconds": final_seconds(costs, steps)}


def _size_search(seconds: float, costs, full: FullSettings, cuts: list) -> dict:
    """Returns the search that fits `seconds`: images per child, expected children, and
    `max_time` (the last start that still ends within `seconds`)."""
    whole = full.child_train_examples
    most = full.steps(whole) * full.child_epochs
    least = _least_child_steps(full)
    per_child = seconds / TARGET_CHILDREN
    steps = _most_steps(lambda s: child_trial_seconds(costs, s), per_child, least, most) or least
    examples = min(whole, steps * full.batch_size // full.child_epochs)
    one_child = child_trial_seconds(costs, steps)
    children = max(1, min(full.max_children, int(seconds // one_child)))
    if steps < most:
        cuts.append(
            f"search: each child trains on {examples:,} of {whole:,} images (a fraction of an "
            f"epoch: a whole one would take about {child_trial_seconds(costs, most):.0f} s per "
            f"child), so that more children fit its {seconds:.0f} s"
        )
    if children < MIN_CHILDREN:
        cuts.append(
            f"search: only about {children} {'child' if children == 1 else 'children'} fit its "
            f"{seconds:.0f} s at {one_child:.0f} s each ({MIN_CHILDREN} wanted)"
        )
    return {
        "examples": examples,
        "children": children,
        "one_child": one_child,
        # The last child starts by then; at least a moment, so that one child always trains.
        "max_time": max(1.0, seconds - one_child),
    }


def _least_child_steps(full: FullSettings) -> int:
    """Returns the fewest steps a child trains: MIN_CHILD_EXAMPLES, or all it has."""
    return min(
        full.steps(full.child_train_examples) * full.child_epochs, full.steps(MIN_CHILD_EXAMPLES)
    )


def _most_steps(seconds_of, limit: float, least: int, most: int) -> Optional[int]:
    """Returns the most steps in [least, most] whose `seconds_of(steps)` (growing with the
    steps) is within `limit`, or None when even `least` is not."""
    if seconds_of(least) > limit:
        return None
    low, high = least, most
    while low < high:
        middle = (low + high + 1) // 2
        if seconds_of(middle) <= limit:
            low = middle
        else:
            high = middle - 1
    return low
