"""Runs the main job within one wall-clock budget: measure, plan, search, final model, compare.

Layout of its directory (the search's own files, see `search.pipeline`, plus):

    plan.json      the costs measured and the plan made from them; running again reuses it,
                   so the search resumes with the same children and the comparison with the
                   same recipe
    compare/       the comparison (`keras_nasnet.compare`): compare.md, .json, .html
"""

from __future__ import annotations

import functools
import json
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from .. import data
from ..compare import DEFAULT_RECIPE, ComparisonResult, NoFinishedSeedError, compare
from ..search.clock import parse_duration
from ..search.evaluators.child import CHILD_SETTINGS
from ..search.pipeline import BEST_FILE, FINAL_SETTINGS, SearchResult, search_dataset
from ..search.state import atomic_write, read_json_object
from ..training import TrainingSettings
from ..validation import check_int, check_number
from .deadline import StopAt
from .measure import measure_costs
from .plan import FullSettings, Plan, plan_main_job

PLAN_FILE = "plan.json"
COMPARE_DIR = "compare"
PLAN_FORMAT = 1
# Held out of the training split for the children's rewards.
VALIDATION_EXAMPLES = 600
# Every matched count within 15% of NASNet-A's: one step of F near the matched F (7 to 12)
# changes the count by 17-30%, so the closest F may miss by half of that; at 10% a found cell
# was left with none (F = 8: -10.7%, F = 9: +10.7%).
COMPARE_TOLERANCE = 0.15
# The found cell's companions in the comparison: the reference first; the random cell is the
# one a plan short of time leaves out.
REFERENCE = "nasnet_a"
RANDOM_CELL = "random:1"


@dataclass(frozen=True)
class MainJobModels:
    """The models of the main job at full size: search children (one epoch each), the final
    model (at most `final.epochs` epochs) and the comparison's recipe (one for all cells)."""

    child: TrainingSettings = CHILD_SETTINGS.replace(epochs=1)
    final: TrainingSettings = FINAL_SETTINGS.replace(filters=12, epochs=3)
    compare: TrainingSettings = DEFAULT_RECIPE.replace(num_blocks=1, filters=12, epochs=1)

    def full_settings(self, train_examples: int, jobs: int, max_children: int) -> FullSettings:
        """Returns the plan's view of these models on a training split of `train_examples`."""
        return FullSettings(
            train_examples=train_examples,
            validation_examples=min(VALIDATION_EXAMPLES, train_examples // 10),
            batch_size=self.child.batch_size,
            child_epochs=self.child.epochs,
            final_epochs=self.final.epochs,
            compare_epochs=self.compare.epochs,
            child_cells=_cells(self.child),
            final_cells=_cells(self.final),
            compare_cells_per_model=_cells(self.compare),
            max_children=max_children,
            jobs=jobs,
        )


def _cells(settings: TrainingSettings) -> int:
    # Three stacks of N normal cells and the two reduction cells between them.
    return 3 * settings.num_blocks + 2


@dataclass
class MainJobResult:
    """What `run_main_job` produced: its plan, the search's and the comparison's results (None
    when the plan left the comparison out or no seed of it finished) and the seconds each step
    took."""

    plan: Plan
    search: SearchResult
    comparison: Optional[ComparisonResult]
    seconds: dict = field(default_factory=dict)


def run_main_job(
    directory: str,
    dataset: str = "fashion_mnist_sample",
    budget=900.0,
    spent: float = 0.0,
    seed: int = 0,
    jobs: int = 2,
    data_dir: Optional[str] = None,
    models: MainJobModels = MainJobModels(),
    max_children: int = 30,
    startup: Optional[float] = None,
    say: Callable = print,
    clock: Callable = time.monotonic,
) -> MainJobResult:
    """Runs the main job in `directory` within `budget` (seconds or "15m"), of which `spent`
    seconds went before this call (setting up, say): measures the machine, plans (printing
    the plan and what it cut, and why), searches with PPO, trains and exports the best cell,
    compares it with NASNet-A's cell and a random cell; then prints each step's seconds against
    the plan. Running again in the same directory reuses the saved plan and resumes.

    `startup` is the seconds this process took to import TensorFlow, when the caller timed it
    (the command line does; it is part of `spent`), else a fresh process's import is timed.
    The job ends within the budget unless the machine slows down after it was measured: the
    search starts no child that would end past its share, the final model stops at the time
    the comparison needs, and the comparison starts no run that would end past the budget.

    Returns:
        A `MainJobResult`.

    Raises:
        ValueError: a bad budget, `spent`, seed or jobs, or a saved plan.json of another format.
        keras_nasnet.data.DatasetNotFoundError: the dataset is not available.
        keras_nasnet.search.lock.DirectoryLockedError: another process uses `directory`.
    """
    start = clock()
    budget = parse_duration(budget, "budget")
    spent = check_number(spent, "spent", minimum=0)
    check_int(seed, "seed", minimum=0)
    check_int(jobs, "jobs", minimum=1)
    check_int(max_children, "max_children", minimum=1)
    deadline = start + budget - spent
    say(
        f"main job: a budget of {budget:.0f} s, {spent:.0f} s of it spent before this step "
        f"(setting up, starting); {deadline - start:.0f} s left",
        flush=True,
    )
    full = models.full_settings(data.num_examples(dataset, "train", data_dir), jobs, max_children)
    plan = _plan(
        directory, dataset, data_dir, seed, budget, models, full, deadline, startup, say, clock
    )
    for line in plan.lines():
        say(f"plan: {line}", flush=True)

    seconds = {}
    started = clock()
    e = plan.estimates
    result = search_dataset(
        dataset,
        directory,
        max_trials=full.max_children,
        algorithm="ppo",
        seed=seed,
        child=_limited(models.child, plan.child_examples, full.child_train_examples),
        final=_limited(
            models.final.replace(epochs=plan.final_epochs), plan.final_examples, full.train_examples
        ),
        data_dir=data_dir,
        validation_size=full.validation_examples,
        max_time=plan.max_time,
        # The final model's training ends early rather than take the comparison's time.
        final_callbacks=[
            StopAt(deadline - plan.reserve / 2 - e["compare"] - e["after_final"], say, clock)
        ],
    )
    seconds["search and final model"] = clock() - started

    comparison = None
    if plan.compare_cells:
        started = clock()
        # A run's cost varies with its cell and the machine's other load: half as much again.
        last_start = deadline - plan.reserve / 2 - 1.5 * e["compare_run"]
        comparison = _compare(
            plan, directory, dataset, data_dir, seed, jobs, models, full, last_start, say
        )
        seconds["comparison"] = clock() - started
    _summarize(plan, seconds, budget, spent, clock() - start, say)
    return MainJobResult(plan, result, comparison, seconds)


def _compare(plan: Plan, directory, dataset, data_dir, seed, jobs, models, full, last_start, say):
    """Runs the planned comparison, starting no run after `last_start` (a `time.monotonic()`
    reading); returns its result, or None when it could not run (printed: no seed finished for
    every cell, no F matched a cell's parameters, the directory holds another recipe).

    The found cell and NASNet-A's are trained first, every seed, and the random cell after
    them: a comparison cut short by time still holds the interval that answers the job's
    question (did the search beat the reference?). When the random cell's seeds do not all
    fit, the table leaves it out rather than drop the others to its seeds."""
    say("", flush=True)
    architectures = [REFERENCE, os.path.join(directory, BEST_FILE), RANDOM_CELL]
    run = functools.partial(
        compare,
        dataset=dataset,
        directory=os.path.join(directory, COMPARE_DIR),
        seeds=plan.compare_seeds,
        recipe=_limited(models.compare, plan.compare_examples, full.train_examples),
        data_dir=data_dir,
        seed=seed,
        tolerance=COMPARE_TOLERANCE,
        verbose=True,
        jobs=jobs,
        last_start=last_start,
    )
    try:
        comparison = run(architectures[:2])
        if plan.compare_cells > 2:
            comparison = _with_random_cell(run, architectures, comparison, say)
    except (NoFinishedSeedError, ValueError) as error:
        # After the search and the final model, whose files are written: say why, keep them.
        # (A cell no F brings within the tolerance, a directory of another recipe.)
        say(f"comparison: not run to the end: {error}", flush=True)
        return None
    say("", flush=True)
    say(comparison.table(), flush=True)
    return comparison


def _with_random_cell(run: Callable, architectures: list, pair, say):
    """Returns the comparison of all three cells when the random cell finished as many seeds as
    the pair did, else the pair's (its reports written again), saying why."""
    seeds = len(pair.rows[0].seeds)
    try:
        everything = run(architectures)
    except NoFinishedSeedError:
        everything = None
    if everything is not None and len(everything.rows[0].seeds) >= seeds:
        return everything
    say(
        f"comparison: the random cell left out of the table: its {seeds} seeds did not fit "
        "the time left (run again to train them)",
        flush=True,
    )
    # Nothing is left to start for the pair: this writes its reports again, without training.
    return run(architectures[:2], verbose=False)


def _limited(settings: TrainingSettings, examples: Optional[int], whole: int) -> TrainingSettings:
    """Returns `settings` training on `examples` images per epoch (None or all: every one)."""
    if examples is None or examples >= whole:
        return settings
    return settings.replace(epoch_examples=examples)


def _plan(
    directory, dataset, data_dir, seed, budget, models, full, deadline, startup, say, clock
) -> Plan:
    """Returns the plan saved in `directory`, or measures this machine, plans the seconds left
    and saves the plan."""
    path = os.path.join(directory, PLAN_FILE)
    if os.path.exists(path):
        saved = read_json_object(path)
        if saved.get("format") != PLAN_FORMAT:
            raise ValueError(
                f"{path!r} holds a plan of format {saved.get('format')!r}; this version reads "
                f"format {PLAN_FORMAT}: delete it to plan again."
            )
        say(
            f"main job: resuming the plan in {path} (made for a budget of "
            f"{saved['budget']:.0f} s); delete it to measure and plan again",
            flush=True,
        )
        return Plan.from_dict(saved["plan"])
    measuring = clock()
    costs = measure_costs(models.child, models.final, dataset, data_dir, seed, startup)
    say(
        f"measured in {clock() - measuring:.0f} s: a child's first step {costs.child.fixed:.1f} s "
        f"then {costs.child.step:.2f} s a step; the final model's {costs.final.fixed:.1f} s then "
        f"{costs.final.step:.2f} s; a process start-up {costs.startup:.1f} s",
        flush=True,
    )
    plan = plan_main_job(deadline - clock(), costs, full)
    os.makedirs(directory, exist_ok=True)
    record = {
        "format": PLAN_FORMAT,
        "budget": budget,
        "costs": costs.to_dict(),
        "plan": plan.to_dict(),
    }
    atomic_write(path, (json.dumps(record, indent=2) + "\n").encode("utf-8"))
    return plan


def _summarize(plan: Plan, seconds: dict, budget: float, spent: float, total: float, say) -> None:
    e = plan.estimates
    planned = {
        "search and final model": e["search"] + e["final"],
        "comparison": e["compare"],
    }
    parts = [f"{name} {s:.0f} s (planned {planned[name]:.0f})" for name, s in seconds.items()]
    say(
        f"main job: {spent + total:.0f} s of its {budget:.0f} s budget: " + "; ".join(parts),
        flush=True,
    )
    for cut in plan.cuts:
        say(f"main job: cut: {cut}", flush=True)
