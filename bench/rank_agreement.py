"""How well each cheap evaluation of a cell ranks cells the way the comparison recipe does.

Cells: `--cells K` random cells of each of `--spaces` (default the NASNet cell space and ENAS's
micro space, `design_spaces.sampling.named_space`, drawn with `space_rng(--seed, space)`),
saved to cells.json before anything trains. Every cell gets each evaluation, a column:

- `full-s0`, `full-s1`: the comparison recipe (`keras-nasnet compare`'s training, here N = 1,
  1 epoch on the whole training split, batch 64; `--num-blocks`, `--filters`, `--epochs`,
  `--batch-size`, `--epoch-examples` change it), training seeds 0 and 1, scored on the test
  split. As `compare` does, each cell is trained at the F whose parameter count is closest to
  NASNet-A's at the recipe (`--filters`, default 16: 235,898 parameters on Fashion-MNIST;
  `--target-params` sets another count, within `--tolerance`): the order that decides whether
  a found cell beats NASNet-A's. `--reference fixed` trains every cell at `--filters` instead,
  an order in which larger cells win by their size. The reference is the mean of the two
  seeds; the tau between them is the ceiling no cheap evaluation can be expected to pass.
- `frac-1/27`, `frac-1/9`, `frac-1/3`: the search's child recipe (`CHILD_SETTINGS`: N = 2,
  F = 8, batch 64; `--child-blocks`, `--child-filters`) for one epoch cut to 1/27, 1/9 and 1/3
  of the reference recipe's epoch (`epoch_examples`, whole batches, at least one), seed 0,
  scored on the test split: the rungs of `search --fidelity 1:27 --eta 3 --epoch-examples E`
  with E the 1/27.
- `main-child`: today's evaluation of the main job (`keras-nasnet main-job`): the child recipe
  for one epoch of `--main-child-examples` (default 2,048, its plan on an AVX2 machine) of the
  bundled sample's training images, seed 0, scored on the last 600 of them, which it holds out
  (`data.holdout_splits`); the column the main job's choice of evaluation is judged against.
- `main-child-matched`: the same at the F whose parameter count is closest to NASNet-A's
  child's (within 25%: a step of F is coarse at a child's width), as the reference is
  matched: whether a search child trained without its size advantage (`search
  --child-params nasnet_a`) ranks cells closer to the matched reference.
- one column per zero-cost proxy of `keras_nasnet.search.proxies` (`params` among them), each
  scored as bench/proxies.py scores them: the child network (child N and F), one minibatch of
  `--proxy-batch` training images (the search's training part, 10% held out), seed 0.
- `proxy-combo`: the mean rank of a cell over the proxies other than `params` (a rank
  aggregation, as the zero-cost-proxy literature does), computed in the analysis; its cost is
  the sum of its proxies'.
- `enas-shared` (only with `--enas-directory DIR`, a finished `keras-nasnet search
  --evaluation shared` directory on the same dataset): each cell's accuracy with the trained
  supernet's shared weights on the search's held-out images (`--enas-validation-size`,
  default the search's 0.1). A cell the supernet's space cannot express (a NASNet-space cell
  with an op ENAS lacks) gets no value, counted in the output. Its cost per cell leaves out
  the supernet's training, which the output states beside it.

Every (cell, evaluation) pair runs in a worker process (`compare.runner.run_in_processes`,
`--jobs` at a time; `enas-shared` restores the supernet once and scores all cells in one
worker) and its result, with the run's wall and CPU seconds, is written atomically to
results/<cell>__<evaluation>.json as it ends: a killed bench run again trains only what is
missing. A run that fails (a diverged training) is recorded as failed and not retried; delete
its file to retry it. settings.json keeps the recipes: a rerun with others is refused.
`--max-time` (seconds or 90m, 2h, ...) of this invocation: no new run starts after it.

The analysis (also alone, `--analyse-only`), per evaluation, per space and over both: Kendall
tau-b and Spearman rho against the reference over the cells with both, each with a 95%
bootstrap interval (1,000 resamples of the cells with replacement, seeded), the median wall
and CPU seconds per cell, cells per CPU-hour (3600 / mean CPU seconds per cell), and whether
it meets the goal: at least 100 cells per CPU-hour and tau >= 0.5 (by the tau, and by its
interval's lower end). It writes
rank_agreement.md, rank_agreement.json and rank_agreement.png (tau and its interval per
evaluation against cells per CPU-hour, log axis, the goal's region shaded) in `--directory`.

    python bench/rank_agreement.py --dataset fashion_mnist_sample --cells 3 --filters 8 \
        --epoch-examples 640 --directory runs/rank_agreement_tiny         # a few minutes
    python bench/rank_agreement.py --cells 30 --jobs 2 --directory runs/rank_agreement \
        --enas-directory runs/enas_full                                   # the measurement

Cost of the measurement (full Fashion-MNIST, 2 cores, `--jobs 2`, docs/benchmarks.md): a
reference run took 215-470 s of one core at F = 16 and 237-432 CPU s at matched parameters;
the cut epochs 17-158 CPU s each, the main-job children 10-37, a proxy 1-2.5 s, a shared-weight
score 5-22. A pair of cells (one of each space) costs 17-20 minutes of the 2 cores; 30 cells
of each space about 10 hours, the ENAS search aside (35-54 minutes). Every result is kept, so
the bench runs in as many sittings as it takes; the analysis alone takes seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Mapping, Optional, Sequence

import numpy as np

# The workers import this module by name ("rank_agreement:evaluate"): a spawned process gets
# the parent's sys.path, so this folder must be on it; it also brings bench/proxies.py.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import proxies as proxies_bench  # noqa: E402

from keras_nasnet import data, training  # noqa: E402
from keras_nasnet.compare import runner  # noqa: E402
from keras_nasnet.design_spaces.sampling import CELL_SPACES, named_space, space_rng  # noqa: E402
from keras_nasnet.genotypes import NASNET_A, Architecture  # noqa: E402
from keras_nasnet.main_job.job import VALIDATION_EXAMPLES  # noqa: E402
from keras_nasnet.search.clock import parse_duration  # noqa: E402
from keras_nasnet.search.evaluators.child import CHILD_SETTINGS  # noqa: E402
from keras_nasnet.search.evaluators.proxies import PROXIES, get_proxy  # noqa: E402
from keras_nasnet.search.reporting.fidelity_view import kendall_tau  # noqa: E402
from keras_nasnet.search.state import atomic_write  # noqa: E402

FULL = ("full-s0", "full-s1")
FRACTIONS = {
    "frac-1/27": Fraction(1, 27),
    "frac-1/9": Fraction(1, 9),
    "frac-1/3": Fraction(1, 3),
}
# Settings whose value maps an evaluation to its recipe: a bench may gain an evaluation (a
# column added later is run for every cell), never change one.
GROWING_SETTINGS = ("fraction_examples",)
# The main job's child evaluation (keras_nasnet.main_job): a search child as that job trains
# it on the bundled sample, scored on the images it holds out.
MAIN_CHILD = "main-child"
# The same child at the F whose parameter count is closest to NASNet-A's child's, as the
# reference matches the recipe's: a search child without its size advantage.
MAIN_CHILD_MATCHED = "main-child-matched"
MAIN_CHILDREN = (MAIN_CHILD, MAIN_CHILD_MATCHED)
# At a child's F (5-12) one step of F changes the count by 17-40%, so the closest F may miss
# NASNet-A's by up to 20%; at 15% a NASNet-space cell was left with none (F = 5: -16.9%,
# F = 6: +17.1%). The closest F is taken either way; the tolerance only refuses.
MAIN_CHILD_TOLERANCE = 0.25
# Settings of evaluations a bench gained after its first results: a settings.json written
# before one existed lacks its key and gains it.
ADDED_SETTINGS = ("main_child", "main_child_match")
MAIN_DATASET = "fashion_mnist_sample"
# The examples of the sample a main-job child trains on: its plan on 2 cores of an AMD EPYC
# with AVX2 (docs/benchmarks.md); a slower machine's plan cuts them.
MAIN_CHILD_EXAMPLES = 2048
ENAS = "enas-shared"
COMBO = "proxy-combo"
# The proxies whose ranks the combo averages: every one but the parameter count, the baseline
# the proxies are judged against.
COMBO_PROXIES = tuple(name for name in PROXIES if name != "params")
EVALUATIONS = FULL + tuple(FRACTIONS) + MAIN_CHILDREN + tuple(PROXIES) + (ENAS,)
CEILING = "full-s0 ~ full-s1"
ALL = "all"
GOAL_CELLS_PER_CPU_HOUR = 100.0
GOAL_TAU = 0.5
CONFIDENCE = 0.95
RESAMPLES = 1000
CELLS_FILE = "cells.json"
SETTINGS_FILE = "settings.json"
RESULTS_DIR = "results"
WORKER_TARGET = "rank_agreement:evaluate"
SHARED_TARGET = "rank_agreement:score_shared"


# -- what the workers run ----------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """A score in the shape `runner.run_once` reads from a `training.TrainResult`: the score as
    `test_accuracy` (higher: better), the seconds it took, and `metrics["params"]`."""

    test_accuracy: Optional[float]
    seconds: float
    metrics: dict = field(default_factory=lambda: {"params": 0})


def evaluate(evaluation: str, **kwargs):
    """Returns the result of one evaluation of one cell: `training.train(**kwargs)` for a
    training evaluation, a `Score` for a proxy (`kwargs`: architecture, images, labels,
    classes, settings, seed).

    Raises:
        ValueError: an unknown evaluation; what `training.train` or the proxy raises.
    """
    if "match" in kwargs:  # a reference or a main child at matched parameters
        match = kwargs.pop("match")
        kwargs["settings"] = matched_settings(
            kwargs["architecture"],
            kwargs["settings"],
            kwargs["dataset"],
            kwargs["data_dir"],
            **match,
        )
    if evaluation in FULL or evaluation in FRACTIONS or evaluation in MAIN_CHILDREN:
        return training.train(**kwargs)
    if evaluation in PROXIES:
        start = time.perf_counter()
        proxy = get_proxy(evaluation)
        value = proxy(
            kwargs["architecture"],
            kwargs["images"],
            kwargs["labels"],
            classes=kwargs["classes"],
            settings=kwargs["settings"],
            seed=kwargs["seed"],
        )
        return Score(float(value), time.perf_counter() - start)
    raise ValueError(f"Unknown evaluation {evaluation!r}; allowed: {', '.join(EVALUATIONS[:-1])}.")


def cell_counter(recipe: training.TrainingSettings, dataset: str, data_dir: Optional[str]):
    """Returns count(architecture, F) -> (parameters, mult-adds) of the model `recipe` trains
    on `dataset` at F (compare's counter; builds models)."""
    from keras_nasnet.compare.matching import model_counter

    info = data.info(dataset, data_dir)
    return model_counter(info.image_shape, info.num_classes, recipe)


def matched_settings(
    architecture,
    recipe: training.TrainingSettings,
    dataset: str,
    data_dir: Optional[str],
    target_params: int,
    tolerance: float,
) -> training.TrainingSettings:
    """Returns `recipe` at the F whose parameter count for `architecture` is closest to
    `target_params` (compare's `match_filters`, from the recipe's F).

    Raises:
        ValueError: no F within `tolerance` of the target (the message names the counts).
    """
    from keras_nasnet.compare.matching import match_filters

    count = cell_counter(recipe, dataset, data_dir)
    match = match_filters(
        lambda f: count(architecture, f), target_params, recipe.filters, tolerance
    )
    return recipe.replace(filters=match.filters)


def score_shared(
    enas_directory: str,
    dataset: str,
    data_dir: Optional[str],
    validation_size: float,
    cells: Sequence[tuple],
    results_directory: str,
) -> Score:
    """Restores the supernet of the ENAS search in `enas_directory` and scores each (key,
    architecture) of `cells` on the search's held-out images of `dataset` with its shared
    weights, writing each cell's result file (`write_result`) as it ends; a cell outside the
    supernet's space gets a result without a value and the reason. Returns a `Score` whose
    value is the number of cells scored and whose `metrics["params"]` is the supernet's.

    Raises:
        ValueError: no finished ENAS search in `enas_directory`, or one on another dataset.
        keras_nasnet.search.state.CorruptStateError: its saved state does not load.
    """
    from keras_nasnet.search.enas import EnasSearch, SharedSettings, load_dataset
    from keras_nasnet.search.enas.loop import STATE_DIR, STATE_FILE, read_state
    from keras_nasnet.search.spaces.nasnet_cells import SearchSpace

    start, start_cpu = time.perf_counter(), time.process_time()
    state_path = os.path.join(enas_directory, STATE_DIR, STATE_FILE)
    if not os.path.exists(state_path):
        raise ValueError(
            f"`--enas-directory` {enas_directory!r} holds no ENAS search ({state_path} is "
            "missing); give the directory of a `keras-nasnet search --evaluation shared`."
        )
    check_enas_dataset(enas_directory, dataset)
    state = read_state(state_path)
    train, validation, classes = load_dataset(dataset, data_dir, validation_size)
    search = EnasSearch(
        train,
        validation,
        classes,
        enas_directory,
        space=SearchSpace.from_config(state["space"]),
        settings=SharedSettings(**state["settings"]),
        seed=int(state.get("seed", 0)),
        # Refused (ValueError) when the search recorded another dataset or validation split.
        data_source={"dataset": dataset, "validation_size": validation_size},
    )
    setup = {
        "setup_seconds": time.perf_counter() - start,
        "setup_cpu_seconds": time.process_time() - start_cpu,
        "supernet_epochs": search.epoch,
        "supernet_training_seconds": float(state.get("elapsed_seconds", 0.0)),
    }
    scored = 0
    for key, architecture in cells:
        try:
            indices = search.space.encode(Architecture.from_dict(architecture))
        except ValueError as error:
            write_result(results_directory, key, ENAS, {"value": None, "outside": str(error)})
            continue
        wall, cpu = time.perf_counter(), time.process_time()
        value = search.trainer.evaluate_all(
            search.val_x, search.val_y, indices, search.settings.batch_size
        )
        record = {
            "value": float(value),
            "seconds": time.perf_counter() - wall,
            "cpu_seconds": time.process_time() - cpu,
            **setup,
        }
        write_result(results_directory, key, ENAS, record)
        scored += 1
    return Score(
        float(scored),
        time.perf_counter() - start,
        {"params": int(search.supernet.count_params())},
    )


def check_enas_dataset(enas_directory: str, dataset: str) -> None:
    """Raises ValueError when the ENAS search's final model (when it has one) was trained on
    another dataset than `dataset`: its supernet would score images it never saw. (Searches
    whose state records its data are checked on restoring, validation split included; this
    check is for states saved before that record.)"""
    path = os.path.join(enas_directory, "final_model.keras.json")
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as f:
        trained_on = json.load(f).get("dataset")
    if trained_on is not None and trained_on != dataset:
        raise ValueError(
            f"`--enas-directory` {enas_directory!r} searched on {trained_on!r}, not on "
            f"`--dataset` {dataset!r}; give the dataset of the search."
        )


# -- cells, settings and results on disk -------------------------------------------------------


def sample_cells(spaces: Sequence[str], count: int, seed: int) -> list:
    """Returns `count` cells of each named space, as {"key", "space", "index", "architecture"
    (its dict)}: space by space, each drawn with `space_rng(seed, space)`, so a larger count
    keeps the first cells.

    Raises:
        ValueError: an unknown space (not one of `CELL_SPACES`) or a bad count or seed.
    """
    cells = []
    for name in spaces:
        if name not in CELL_SPACES:
            raise ValueError(f"Unknown cell space {name!r}; allowed: {', '.join(CELL_SPACES)}.")
        space, rng = named_space(name), space_rng(seed, name)
        for index in range(count):
            architecture, _ = space.sample(rng)
            cells.append(
                {
                    "key": f"{name}-{index:04d}",
                    "space": name,
                    "index": index,
                    "architecture": architecture.to_dict(),
                }
            )
    return cells


def load_cells(directory: str, spaces: Sequence[str], count: int, seed: int) -> list:
    """Returns the cells this bench ranks: those cells.json in `directory` already holds (a
    resume ranks the very cells it began with), and new ones sampled (`sample_cells`) for a
    larger count or another space, which are added to the file before anything trains.

    Raises:
        ValueError: cells.json was sampled with another seed.
    """
    path = os.path.join(directory, CELLS_FILE)
    saved = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            stored = json.load(f)
        if stored["seed"] != seed:
            raise ValueError(
                f"{path} holds cells of --seed {stored['seed']}, not {seed}; use that seed or "
                "another --directory."
            )
        saved = {cell["key"]: cell for cell in stored["cells"]}
    wanted = [saved.get(cell["key"], cell) for cell in sample_cells(spaces, count, seed)]
    added = [cell for cell in wanted if cell["key"] not in saved]
    if added or not os.path.exists(path):
        everything = list(saved.values()) + added
        text = json.dumps({"seed": seed, "cells": everything}, indent=1)
        atomic_write(path, text.encode("utf-8"))
    return wanted


def check_settings(directory: str, settings: dict) -> None:
    """Writes `settings` to settings.json in `directory`, or checks them against the file:
    equal, except that a `GROWING_SETTINGS` mapping may hold evaluations the file lacks (they
    are added to it); those both hold must agree.

    Raises:
        ValueError: the file holds other settings (the message names the differing keys).
    """
    path = os.path.join(directory, SETTINGS_FILE)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
        merged = dict(saved)
        for key in ADDED_SETTINGS:
            if key not in saved and key in settings:
                merged[key] = settings[key]
        for key in GROWING_SETTINGS:
            old, new = saved.get(key), settings.get(key)
            if isinstance(old, dict) and isinstance(new, dict):
                if all(old[k] == new[k] for k in set(old) & set(new)):
                    merged[key] = {**old, **new}
        differing = sorted(
            k for k in set(merged) | set(settings) if merged.get(k) != settings.get(k)
        )
        if differing:
            raise ValueError(
                f"{path} holds results of other settings ({', '.join(differing)} differ); "
                "use the same flags or another --directory."
            )
        if merged == saved:
            return
    atomic_write(path, json.dumps(settings, indent=1, sort_keys=True).encode("utf-8"))


def result_path(directory: str, key: str, evaluation: str) -> str:
    """Returns the result file of cell `key` and `evaluation` ("/" of a fraction as "-")."""
    return os.path.join(directory, f"{key}__{evaluation.replace('/', '-')}.json")


def write_result(directory: str, key: str, evaluation: str, record: Mapping) -> None:
    """Writes one (cell, evaluation) result atomically (NaN and infinities as JSON allows
    them in Python: a proxy's -inf is a score like any other)."""
    os.makedirs(directory, exist_ok=True)
    body = {"cell": key, "evaluation": evaluation, **record}
    atomic_write(result_path(directory, key, evaluation), json.dumps(body, indent=1).encode())


def read_results(directory: str) -> dict:
    """Returns {(cell key, evaluation): record} of the result files in `directory`."""
    results = {}
    if not os.path.isdir(directory):
        return results
    for name in sorted(os.listdir(directory)):
        if name.endswith(".json") and not name.startswith("."):
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                record = json.load(f)
            results[(record["cell"], record["evaluation"])] = record
    return results


# -- the runs ----------------------------------------------------------------------------------


def main_child_settings(examples: int) -> dict:
    """Returns the main child's settings: the sample, `examples` images an epoch, the main
    job's held-out count."""
    return {
        "dataset": MAIN_DATASET,
        "examples": examples,
        "validation_examples": VALIDATION_EXAMPLES,
    }


@dataclass(frozen=True)
class Plan:
    """What each evaluation trains or scores with."""

    dataset: str
    data_dir: Optional[str]
    recipe: training.TrainingSettings
    child: training.TrainingSettings
    fraction_examples: dict  # frac evaluation -> examples of its epoch
    proxy_batch: int
    enas_validation_size: float
    # {"target_params", "tolerance"} of a reference at matched parameters; None: at the
    # recipe's F.
    match: Optional[dict] = None
    # The main-job child: {"dataset", "examples" (an epoch's), "validation_examples" (held out
    # of its training split, scored on)}.
    main_child: dict = field(default_factory=lambda: main_child_settings(MAIN_CHILD_EXAMPLES))
    # {"target_params", "tolerance"} of `MAIN_CHILD_MATCHED`: NASNet-A's child on the sample.
    main_child_match: Optional[dict] = None

    def settings(self) -> dict:
        """Returns the settings a result depends on, as JSON (settings.json)."""
        settings = {
            "dataset": self.dataset,
            "recipe": self.recipe.to_dict(),
            "child": self.child.to_dict(),
            "fraction_examples": dict(self.fraction_examples),
            "proxy_batch": self.proxy_batch,
            "enas_validation_size": self.enas_validation_size,
            "main_child": dict(self.main_child),
        }
        if self.main_child_match is not None:
            settings["main_child_match"] = dict(self.main_child_match)
        if self.match is not None:  # benches at the recipe's F keep their settings.json
            settings["reference_match"] = dict(self.match)
        return settings


def fraction_examples(recipe_examples: int, batch_size: int) -> dict:
    """Returns {frac evaluation: examples}: each fraction of `recipe_examples` (the reference
    recipe's epoch) in whole batches of `batch_size`, at least one."""
    return {
        name: max(1, int(fraction * recipe_examples) // batch_size) * batch_size
        for name, fraction in FRACTIONS.items()
    }


def run_kwargs(plan: Plan, evaluation: str, architecture, minibatch, classes: int) -> dict:
    """Returns the worker's kwargs of `evaluate` for one cell and evaluation."""
    if evaluation in FULL:
        kwargs = {
            "evaluation": evaluation,
            "architecture": architecture,
            "dataset": plan.dataset,
            "settings": plan.recipe,
            "data_dir": plan.data_dir,
            "seed": FULL.index(evaluation),
        }
        if plan.match is not None:
            kwargs["match"] = dict(plan.match)
        return kwargs
    if evaluation in FRACTIONS:
        return {
            "evaluation": evaluation,
            "architecture": architecture,
            "dataset": plan.dataset,
            "settings": plan.child.replace(epoch_examples=plan.fraction_examples[evaluation]),
            "data_dir": plan.data_dir,
            "seed": 0,
        }
    if evaluation in MAIN_CHILDREN:
        main = plan.main_child
        train_split, validation_split = data.holdout_splits(
            main["dataset"], main["validation_examples"], plan.data_dir
        )
        kwargs = {
            "evaluation": evaluation,
            "architecture": architecture,
            "dataset": main["dataset"],
            "settings": plan.child.replace(epoch_examples=main["examples"]),
            "data_dir": plan.data_dir,
            "seed": 0,
            "train_split": train_split,
            "evaluate_on": validation_split,
        }
        if evaluation == MAIN_CHILD_MATCHED:
            if plan.main_child_match is None:
                raise ValueError(f"{MAIN_CHILD_MATCHED} needs the plan's main_child_match.")
            kwargs["match"] = dict(plan.main_child_match)
        return kwargs
    images, labels = minibatch
    return {
        "evaluation": evaluation,
        "architecture": architecture,
        "images": images,
        "labels": labels,
        "classes": classes,
        "settings": plan.child,
        "seed": 0,
    }


def interleaved(cells: Sequence[dict]) -> list:
    """Returns `cells` in the order their runs start: index by index, one of each space in
    turn, so a bench stopped early has whole rows of both spaces."""
    return sorted(cells, key=lambda cell: (cell["index"], cell["space"]))


def run_evaluations(
    plan: Plan,
    cells: Sequence[dict],
    evaluations: Sequence[str],
    results_directory: str,
    jobs: int,
    may_start: Callable[[], bool],
    enas_directory: Optional[str] = None,
    runs_per_worker: int = 10,
    verbose: bool = True,
) -> int:
    """Runs every (cell, evaluation) without a result file in `results_directory`, writing
    each result as it ends; returns how many runs started (the shared-weight scoring counts as
    one). Failed runs are recorded with their error and no value."""
    done = read_results(results_directory)
    started = 0
    if ENAS in evaluations:
        pending = [
            (cell["key"], cell["architecture"]) for cell in cells if (cell["key"], ENAS) not in done
        ]
        if pending and may_start():
            kwargs = {
                "enas_directory": enas_directory,
                "dataset": plan.dataset,
                "data_dir": plan.data_dir,
                "validation_size": plan.enas_validation_size,
                "cells": pending,
                "results_directory": results_directory,
            }
            runner.run_in_processes([(ENAS, kwargs)], 1, lambda *_: None, target=SHARED_TARGET)
            started += 1
    per_cell = [e for e in evaluations if e != ENAS]
    order = [
        (cell, evaluation)
        for cell in interleaved(cells)
        for evaluation in per_cell
        if (cell["key"], evaluation) not in done
    ]
    if not order:
        return started
    classes = data.info(plan.dataset, plan.data_dir).num_classes
    minibatch = None
    if any(evaluation in PROXIES for _, evaluation in order):
        minibatch = proxies_bench.minibatch(plan.proxy_batch, 0, plan.dataset, plan.data_dir)
    runs = [
        (
            (cell["key"], evaluation),
            run_kwargs(
                plan, evaluation, Architecture.from_dict(cell["architecture"]), minibatch, classes
            ),
        )
        for cell, evaluation in order
    ]
    count = [0]

    def gate() -> bool:
        allowed = may_start()
        count[0] += allowed
        return allowed

    def on_done(key, outcome) -> None:
        cell, evaluation = key
        record = {
            "value": outcome["test_accuracy"],
            "seconds": outcome["seconds"],
            "cpu_seconds": outcome["cpu_seconds"],
            "train_seconds": outcome["train_seconds"],
        }
        if outcome["params"]:  # a trained model's; a proxy trains none
            record["params"] = outcome["params"]
        write_result(results_directory, cell, evaluation, record)
        if verbose:
            print(
                f"{cell} {evaluation}: {outcome['test_accuracy']:.4g} "
                f"({outcome['seconds']:.1f} s, {outcome['cpu_seconds']:.1f} CPU s)",
                flush=True,
            )

    def on_failed(key, error) -> None:
        cell, evaluation = key
        message = f"{type(error).__name__}: {error}"
        write_result(results_directory, cell, evaluation, {"value": None, "error": message})
        if verbose:
            print(f"{cell} {evaluation}: failed ({message})", flush=True)

    runner.run_in_processes(
        runs,
        jobs,
        on_done,
        target=WORKER_TARGET,
        may_start=gate,
        on_failed=on_failed,
        # The many short proxy runs would otherwise each pay a process start.
        runs_per_worker=runs_per_worker,
    )
    return started + count[0]


# -- the analysis ------------------------------------------------------------------------------


def _signs(values: np.ndarray) -> np.ndarray:
    # sign(v_i - v_j) by comparison, not subtraction: -inf - -inf would be NaN.
    left, right = values[..., :, None], values[..., None, :]
    return (left > right).astype(np.int8) - (left < right).astype(np.int8)


def kendall_taus(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Returns Kendall's tau-b of each row pair of `x` and `y` ([resamples, cells]; one row
    may be given as 1-D), NaN where a row is all ties (`fidelity_view.kendall_tau`'s figure,
    vectorized for the bootstrap)."""
    sx, sy = _signs(np.atleast_2d(x)), _signs(np.atleast_2d(y))
    # Each unordered pair appears twice in the full matrices: the factors cancel in the ratio.
    agreement = (sx * sy).sum(axis=(-2, -1), dtype=np.int64)
    untied = np.abs(sx).sum(axis=(-2, -1), dtype=np.int64) * np.abs(sy).sum(
        axis=(-2, -1), dtype=np.int64
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(untied > 0, agreement / np.sqrt(untied), np.nan)


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Returns the 0-based ranks of each row of `values` (1-D or [rows, cells]), ties sharing
    their mean rank."""
    values = np.asarray(values, dtype=np.float64)
    left, right = values[..., :, None], values[..., None, :]
    below = (right < left).sum(axis=-1)
    tied = (right == left).sum(axis=-1)
    return below + (tied - 1) / 2.0


def spearmans(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Returns Spearman's rho (Pearson's r of average ranks) of each row pair of `x` and `y`,
    NaN where a row is all ties (bench/proxies.py's `spearman`, vectorized)."""
    rx = average_ranks(np.atleast_2d(x))
    ry = average_ranks(np.atleast_2d(y))
    rx = rx - rx.mean(axis=-1, keepdims=True)
    ry = ry - ry.mean(axis=-1, keepdims=True)
    norm = np.sqrt((rx * rx).sum(axis=-1) * (ry * ry).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (rx * ry).sum(axis=-1) / norm, np.nan)


def bootstrap_interval(
    x,
    y,
    statistic: Callable[[np.ndarray, np.ndarray], np.ndarray],
    resamples: int = RESAMPLES,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> Optional[tuple]:
    """Returns the percentile bootstrap interval (low, high) of `statistic` over the pairs
    (x[i], y[i]): `resamples` resamples of the pairs with replacement drawn with `seed`;
    resamples where the statistic is undefined (all ties) are left out. None for fewer than
    two pairs or when no resample is defined.

    Raises:
        ValueError: `x` and `y` differ in length, or a bad `resamples` or `confidence`.
    """
    return _bootstrap((x, y), statistic, resamples, seed, confidence)


def _bootstrap(arrays, statistic, resamples: int, seed: int, confidence: float):
    # `bootstrap_interval` over any number of paired arrays: every array resampled at the same
    # picks, so a statistic of several (a difference of two taus) stays paired by cell.
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
        shapes = " and ".join(str(a.shape) for a in arrays)
        raise ValueError(f"The paired arrays must be 1-D of one length; received {shapes}.")
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 1:
        raise ValueError(f"`resamples` must be a positive int; received {resamples!r}.")
    if not 0 < confidence < 1:
        raise ValueError(f"`confidence` must be in (0, 1); received {confidence!r}.")
    count = len(arrays[0])
    if count < 2:
        return None
    picks = np.random.default_rng(seed).integers(0, count, size=(resamples, count))
    values = np.concatenate(
        [
            statistic(*(a[chunk] for a in arrays))
            for chunk in np.array_split(picks, max(1, resamples // 250))
        ]
    )
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def proxy_combo(scores: Mapping[str, Sequence[float]]) -> list:
    """Returns each cell's mean rank over the proxies of `scores` ({proxy: a score per cell,
    the same cells in the same order}; 0 the worst, ties sharing their mean rank): higher is
    better, as for every proxy.

    Raises:
        ValueError: no proxies, or proxies with different numbers of cells.
    """
    if not scores:
        raise ValueError("`scores` must hold at least one proxy's scores; received none.")
    lengths = {name: len(values) for name, values in scores.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"Every proxy must score the same cells; received counts {lengths}.")
    ranks = [average_ranks(np.asarray(values, dtype=np.float64)) for values in scores.values()]
    return [float(v) for v in np.mean(ranks, axis=0)]


def cells_per_cpu_hour(cpu_seconds: Sequence[float]) -> Optional[float]:
    """Returns 3600 / the mean of `cpu_seconds` (one cost per cell); None without costs, inf
    for a cost of zero."""
    if not cpu_seconds:
        return None
    mean = statistics.fmean(cpu_seconds)
    return math.inf if mean <= 0 else 3600.0 / mean


def meets_goal(per_cpu_hour: Optional[float], tau: Optional[float]) -> bool:
    """Returns whether an evaluation ranks at least `GOAL_CELLS_PER_CPU_HOUR` cells per
    CPU-hour with a tau of at least `GOAL_TAU`."""
    return (
        per_cpu_hour is not None
        and tau is not None
        and not math.isnan(tau)
        and per_cpu_hour >= GOAL_CELLS_PER_CPU_HOUR
        and tau >= GOAL_TAU
    )


def _defined(value) -> Optional[float]:
    return None if value is None or not math.isfinite(value) else float(value)


def agreement_row(
    group: str,
    evaluation: str,
    scores: Sequence[float],
    reference: Sequence[float],
    seconds: Sequence[float],
    cpu_seconds: Sequence[float],
    resamples: int = RESAMPLES,
    seed: int = 0,
    missing: int = 0,
) -> dict:
    """Returns the figures of one evaluation over one group of cells: tau and rho of `scores`
    against `reference` (a pair per cell) with bootstrap intervals, the median costs, cells
    per CPU-hour and the goal."""
    scores, reference = [float(v) for v in scores], [float(v) for v in reference]
    tau = _defined(kendall_tau(scores, reference)) if len(scores) >= 2 else None
    rho = _defined(proxies_bench.spearman(scores, reference)) if len(scores) >= 2 else None
    tau_interval = bootstrap_interval(scores, reference, kendall_taus, resamples, seed)
    rho_interval = bootstrap_interval(scores, reference, spearmans, resamples, seed)
    per_hour = cells_per_cpu_hour(cpu_seconds)
    return {
        "group": group,
        "evaluation": evaluation,
        "cells": len(scores),
        "missing": missing,
        "tau": tau,
        "tau_interval": list(tau_interval) if tau_interval else None,
        "spearman": rho,
        "spearman_interval": list(rho_interval) if rho_interval else None,
        "median_seconds": statistics.median(seconds) if seconds else None,
        "median_cpu_seconds": statistics.median(cpu_seconds) if cpu_seconds else None,
        "cells_per_cpu_hour": per_hour,
        "meets_goal": meets_goal(per_hour, tau),
        # Whether the whole interval clears the goal's tau, not just the point estimate: with
        # few cells a tau of 1 is cheap.
        "meets_goal_interval": bool(tau_interval) and meets_goal(per_hour, tau_interval[0]),
    }


def _value(record: Optional[Mapping]) -> Optional[float]:
    if record is None or record.get("value") is None:
        return None
    value = float(record["value"])
    return None if math.isnan(value) else value


def analyse(
    cells: Sequence[dict],
    results: Mapping,
    evaluations: Sequence[str],
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> dict:
    """Returns the analysis of `results` ({(cell key, evaluation): record}) over `cells`: a
    row per group (each space, then all) and evaluation (`agreement_row`), the seed ceiling
    first, `proxy-combo` after the proxies; with the per-cell values, failures and notes."""
    groups = [(space, [c for c in cells if c["space"] == space]) for space in _spaces(cells)]
    if len(groups) > 1:
        groups.append((ALL, list(cells)))
    shown = [e for e in evaluations if e not in FULL]
    combo_parts = [p for p in COMBO_PROXIES if p in evaluations]
    last_proxy = ([e for e in shown if e in PROXIES] or [None])[-1]  # the combo follows it
    rows = []
    for group, members in groups:
        reference = {}
        for cell in members:
            seeds = reference_seeds(results, cell["key"])
            if seeds is not None:
                reference[cell["key"]] = (seeds, statistics.fmean(seeds))
        keys = list(reference)
        first = [_record(results, k, FULL[0]) for k in keys]
        rows.append(
            agreement_row(
                group,
                CEILING,
                [reference[k][0][0] for k in keys],
                [reference[k][0][1] for k in keys],
                [r["seconds"] for r in first],
                [r["cpu_seconds"] for r in first],
                resamples,
                seed,
            )
        )
        for evaluation in shown:
            scored = [k for k in keys if _value(results.get((k, evaluation))) is not None]
            records = [results[(k, evaluation)] for k in scored]
            rows.append(
                agreement_row(
                    group,
                    evaluation,
                    [_value(r) for r in records],
                    [reference[k][1] for k in scored],
                    [r["seconds"] for r in records],
                    [r["cpu_seconds"] for r in records],
                    resamples,
                    seed,
                    missing=len(keys) - len(scored),
                )
            )
            if combo_parts and evaluation == last_proxy:
                rows.append(
                    _combo_row(group, keys, reference, results, combo_parts, resamples, seed)
                )
    against = []
    if MAIN_CHILD in evaluations:
        against = against_baseline(cells, results, evaluations, MAIN_CHILD, resamples, seed)
    return {
        "rows": rows,
        "against": against,
        "values": {
            cell["key"]: {e: _value(results.get((cell["key"], e))) for e in evaluations}
            for cell in cells
        },
        "failed": sorted(
            f"{key} {evaluation}: {record['error']}"
            for (key, evaluation), record in results.items()
            if record.get("error")
        ),
        "notes": _notes(cells, results, evaluations),
    }


OTHER_REFERENCE = "other reference"


def reference_seeds(results: Mapping, key: str) -> Optional[list]:
    """Returns the values of cell `key`'s `FULL` runs (its reference is their mean), None
    without all of them."""
    seeds = [_value(results.get((key, e))) for e in FULL]
    return None if None in seeds else seeds


def reference_value(results: Mapping, key: str) -> Optional[float]:
    """Returns the reference of cell `key` (the mean of its `FULL` runs), None without all."""
    seeds = reference_seeds(results, key)
    return None if seeds is None else statistics.fmean(seeds)


def references_agreement(
    cells: Sequence[dict],
    results: Mapping,
    other: Mapping,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> dict:
    """Returns how the reference of `results` orders `cells` against the reference of `other`
    (another bench's results on the same cells, e.g. every cell at one F against matched
    parameters): per cell both values and the reference's parameter count, and per group
    (each space, then all) Kendall tau and Spearman with bootstrap intervals."""
    both = []
    for cell in cells:
        mine, theirs = reference_value(results, cell["key"]), reference_value(other, cell["key"])
        if mine is not None and theirs is not None:
            params = (results.get((cell["key"], FULL[0])) or {}).get("params")
            other_params = (other.get((cell["key"], FULL[0])) or {}).get("params")
            both.append((cell, mine, theirs, params, other_params))
    groups = [(space, [b for b in both if b[0]["space"] == space]) for space in _spaces(cells)]
    if len(groups) > 1:
        groups.append((ALL, both))
    rows = [
        agreement_row(
            group,
            OTHER_REFERENCE,
            [b[2] for b in members],
            [b[1] for b in members],
            [],
            [],
            resamples,
            seed,
        )
        for group, members in groups
    ]
    return {
        "rows": rows,
        "cells": [
            {
                "cell": b[0]["key"],
                "reference": b[1],
                "other": b[2],
                "params": b[3],
                "other_params": b[4],
            }
            for b in both
        ],
    }


def references_markdown(agreement: Mapping, other_directory: str) -> list:
    """Returns the Markdown lines of `references_agreement` against `other_directory`."""
    lines = [
        "",
        f"## Against the reference of {other_directory}",
        "",
        "| space | cells | Kendall tau [95%] | Spearman [95%] |",
        "|---|---|---|---|",
    ]
    for row in agreement["rows"]:
        lines.append(
            f"| {row['group']} | {row['cells']} | "
            f"{_with_interval(row['tau'], row['tau_interval'])} | "
            f"{_with_interval(row['spearman'], row['spearman_interval'])} |"
        )
    lines += ["", "| cell | reference (params) | the other's (params) |", "|---|---|---|"]
    for cell in agreement["cells"]:
        lines.append(
            f"| {cell['cell']} | {cell['reference']:.4f} ({_count(cell['params'])}) | "
            f"{cell['other']:.4f} ({_count(cell['other_params'])}) |"
        )
    return lines


def _count(value) -> str:
    return "-" if value is None else f"{value:,}"


def _spaces(cells: Sequence[dict]) -> list:
    return list(dict.fromkeys(cell["space"] for cell in cells))


def _record(results: Mapping, key: str, evaluation: str) -> dict:
    record = results[(key, evaluation)]
    return {"seconds": record.get("seconds", 0.0), "cpu_seconds": record.get("cpu_seconds", 0.0)}


def combo_values(keys: Sequence[str], results: Mapping, parts: Sequence[str]) -> dict:
    """Returns {cell key: its proxy-combo value} over the cells of `keys` every proxy of
    `parts` scored (a mean rank among those cells)."""
    scored = [k for k in keys if all(_value(results.get((k, p))) is not None for p in parts)]
    if not scored:
        return {}
    combo = proxy_combo({p: [_value(results[(k, p)]) for k in scored] for p in parts})
    return dict(zip(scored, combo))


def tau_differences(a: np.ndarray, b: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Returns tau(a, reference) - tau(b, reference) per row (`kendall_taus`' shapes)."""
    return kendall_taus(a, reference) - kendall_taus(b, reference)


def against_baseline(
    cells: Sequence[dict],
    results: Mapping,
    evaluations: Sequence[str],
    baseline: str = MAIN_CHILD,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> list:
    """Returns, per evaluation of `evaluations` but the reference and `baseline` (and the
    proxy combo where its proxies are there), its tau minus `baseline`'s over every cell both
    scored, with a paired 95% bootstrap interval (both taus on the same resampled cells):
    whether an evaluation ranks better than `baseline` (today's main-job evaluation)."""
    keys = [
        c["key"]
        for c in cells
        if reference_value(results, c["key"]) is not None
        and _value(results.get((c["key"], baseline))) is not None
    ]
    values = {
        e: {k: _value(results.get((k, e))) for k in keys}
        for e in evaluations
        if e not in FULL and e != baseline
    }
    parts = [p for p in COMBO_PROXIES if p in evaluations]
    if parts:  # mean ranks among the cells the baseline scored too
        values[COMBO] = combo_values(keys, results, parts)
    rows = []
    for evaluation, scores in values.items():
        both = [k for k in keys if scores.get(k) is not None]
        a = [scores[k] for k in both]
        b = [_value(results[(k, baseline)]) for k in both]
        reference = [reference_value(results, k) for k in both]
        difference = (
            _defined(float(tau_differences(np.array(a), np.array(b), np.array(reference))[0]))
            if len(both) >= 2
            else None
        )
        interval = (
            _bootstrap((a, b, reference), tau_differences, resamples, seed, CONFIDENCE)
            if len(both) >= 2
            else None
        )
        rows.append(
            {
                "evaluation": evaluation,
                "baseline": baseline,
                "cells": len(both),
                "difference": difference,
                "interval": list(interval) if interval else None,
                "better": bool(interval) and interval[0] > 0,
            }
        )
    return rows


def _combo_row(group, keys, reference, results, parts, resamples, seed) -> dict:
    values = combo_values(keys, results, parts)
    scored, combo = list(values), list(values.values())
    return agreement_row(
        group,
        COMBO,
        combo,
        [reference[k][1] for k in scored],
        [sum(results[(k, p)]["seconds"] for p in parts) for k in scored],
        [sum(results[(k, p)]["cpu_seconds"] for p in parts) for k in scored],
        resamples,
        seed,
        missing=len(keys) - len(scored),
    )


def _notes(cells, results, evaluations) -> list:
    notes = []
    if ENAS in evaluations:
        outside = [c["key"] for c in cells if (results.get((c["key"], ENAS)) or {}).get("outside")]
        if outside:
            spaces = ", ".join(sorted({k.rsplit("-", 1)[0] for k in outside}))
            notes.append(
                f"{ENAS}: {len(outside)} cell(s) ({spaces}) use ops or combines the supernet "
                "lacks: no shared-weight value."
            )
        setups = {
            (r["supernet_epochs"], round(r["supernet_training_seconds"]), r["setup_seconds"])
            for (_, e), r in results.items()
            if e == ENAS and "setup_seconds" in r
        }
        for epochs, seconds, setup in sorted(setups):  # several: the supernet trained on
            notes.append(
                f"{ENAS}: costs per cell leave out the supernet's training ({epochs} epochs, "
                f"{seconds:,} s wall) and its restore ({setup:.1f} s)."
            )
    if COMBO_PROXIES and any(p in evaluations for p in COMBO_PROXIES):
        parts = [p for p in COMBO_PROXIES if p in evaluations]
        notes.append(f"{COMBO}: the mean rank over {', '.join(parts)}; its cost their sum.")
    return notes


# -- the report --------------------------------------------------------------------------------


def _figure(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def _with_interval(value, interval) -> str:
    if value is None:
        return "-"
    if interval is None:
        return _figure(value)
    return f"{_figure(value)} [{interval[0]:+.2f}, {interval[1]:+.2f}]"


def _number(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    return "inf" if math.isinf(value) else f"{value:,.{digits}f}"


def _goal_text(row: Mapping) -> str:
    if row.get("meets_goal_interval"):
        return "yes"
    return "tau only, not its interval" if row["meets_goal"] else "no"


def reference_text(settings: Optional[Mapping]) -> str:
    """Returns how the bench of `settings` trained its reference, for the report."""
    if not settings:
        return ""
    recipe = settings.get("recipe", {})
    match = settings.get("reference_match")
    if match is None:
        return f"every cell at F = {recipe.get('filters')}, N = {recipe.get('num_blocks')}"
    return (
        f"each cell at the F closest to {match['target_params']:,} parameters, within "
        f"{match['tolerance']:.0%}, N = {recipe.get('num_blocks')}"
    )


def markdown(
    analysis: Mapping,
    title: str = "Rank agreement with the comparison recipe",
    settings: Optional[Mapping] = None,
) -> str:
    """Returns the analysis as Markdown: one table row per group and evaluation, then the
    notes and failures; `settings` (settings.json) says how the reference was trained."""
    trained = reference_text(settings)
    lines = [
        f"# {title}",
        "",
        f"Reference: mean test accuracy of {FULL[0]} and {FULL[1]}"
        + (f" ({trained})" if trained else "")
        + f"; `{CEILING}` is the tau "
        "between the two seeds (the ceiling). Intervals: 95% bootstrap over cells "
        f"({RESAMPLES:,} resamples). Goal: >= {GOAL_CELLS_PER_CPU_HOUR:.0f} cells per "
        f'CPU-hour and tau >= {GOAL_TAU} ("yes": the tau\'s whole interval is; "tau '
        "only\": the tau is, its interval's lower end is not).",
        "",
        "| space | evaluation | cells | Kendall tau [95%] | Spearman [95%] | median s/cell "
        "| median CPU s/cell | cells per CPU-hour | goal |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in analysis["rows"]:
        cells = f"{row['cells']}" + (f" ({row['missing']} without)" if row["missing"] else "")
        lines.append(
            f"| {row['group']} | {row['evaluation']} | {cells} | "
            f"{_with_interval(row['tau'], row['tau_interval'])} | "
            f"{_with_interval(row['spearman'], row['spearman_interval'])} | "
            f"{_number(row['median_seconds'])} | {_number(row['median_cpu_seconds'])} | "
            f"{_number(row['cells_per_cpu_hour'])} | {_goal_text(row)} |"
        )
    for note in analysis["notes"]:
        lines += ["", f"- {note}"]
    if analysis.get("against"):
        lines += against_markdown(analysis["against"])
    if analysis.get("other_reference"):
        other = analysis["other_reference"]
        lines += references_markdown(other, other["directory"])
    if analysis["failed"]:
        lines += ["", "Failed runs (not retried; delete their result files to retry):", ""]
        lines += [f"- {failure}" for failure in analysis["failed"]]
    return "\n".join(lines) + "\n"


def against_markdown(rows: Sequence[Mapping]) -> list:
    """Returns the Markdown lines of `against_baseline`'s rows."""
    baseline = rows[0]["baseline"]
    lines = [
        "",
        f"## Against today's main-job evaluation ({baseline})",
        "",
        f"Each evaluation's Kendall tau minus {baseline}'s, over every cell both scored (all "
        "spaces), with a paired 95% bootstrap interval: it ranks better than the main job's "
        "evaluation only where the whole interval is above 0.",
        "",
        "| evaluation | cells | tau difference [95%] | better |",
        "|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['evaluation']} | {row['cells']} | "
            f"{_with_interval(row['difference'], row['interval'])} | "
            f"{'yes' if row['better'] else 'no'} |"
        )
    return lines


def agreement_figure(rows: Sequence[Mapping]):
    """Returns a matplotlib Figure: each evaluation's tau and its interval (y) against its cells
    per CPU-hour (x, log), one marker per group, the goal's region shaded."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8.5, 5))
    ax = figure.add_subplot(1, 1, 1)
    shown = [r for r in rows if r["tau"] is not None and r["cells_per_cpu_hour"]]
    finite = [r["cells_per_cpu_hour"] for r in shown if math.isfinite(r["cells_per_cpu_hour"])]
    low = min(finite + [GOAL_CELLS_PER_CPU_HOUR]) / 3
    high = max(finite + [GOAL_CELLS_PER_CPU_HOUR]) * 3
    ax.fill_between(
        [GOAL_CELLS_PER_CPU_HOUR, high], GOAL_TAU, 1.0, color="#a6dba0", alpha=0.35, label="goal"
    )
    markers = ["o", "s", "^", "D"]
    groups = list(dict.fromkeys(r["group"] for r in rows))
    for k, group in enumerate(groups):
        mine = [r for r in shown if r["group"] == group]
        if not mine:
            continue
        x = np.array([min(r["cells_per_cpu_hour"], high) for r in mine])
        y = np.array([r["tau"] for r in mine])
        intervals = [r["tau_interval"] or [r["tau"], r["tau"]] for r in mine]
        errors = np.array(
            [[t - i[0] for t, i in zip(y, intervals)], [i[1] - t for t, i in zip(y, intervals)]]
        )
        ax.errorbar(
            x * (1.0 + 0.03 * k),
            y,
            yerr=np.clip(errors, 0, None),
            fmt=markers[k % 4],
            capsize=3,
            label=group,
        )
        if group == groups[-1]:
            for xi, yi, r in zip(x, y, mine):
                ax.annotate(
                    r["evaluation"], (xi, yi), textcoords="offset points", xytext=(5, 4), fontsize=7
                )
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.set_ylim(-1.05, 1.05)
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.set_xlabel("cells per CPU-hour (log)")
    ax.set_ylabel("Kendall tau vs the comparison recipe (95% interval)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    figure.tight_layout()
    return figure


def write_report(directory: str, analysis: Mapping, settings: Mapping) -> dict:
    """Writes rank_agreement.md, .json and .png into `directory`; returns their paths."""
    from keras_nasnet.viz import save_figure

    paths = {ext: os.path.join(directory, f"rank_agreement.{ext}") for ext in ("md", "json", "png")}
    atomic_write(paths["md"], markdown(analysis, settings=settings).encode("utf-8"))
    body = {"settings": dict(settings), **analysis}
    atomic_write(paths["json"], json.dumps(body, indent=1).encode("utf-8"))
    save_figure(agreement_figure(analysis["rows"]), [paths["png"]])
    return paths


# -- the command -------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    """Returns the flags, checked.

    Raises:
        SystemExit: a bad flag (argparse's message).
    """
    d = training.TrainingSettings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--directory", default="runs/rank_agreement")
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--data-dir")
    parser.add_argument("--cells", type=int, default=30, help="cells per space (default 30)")
    parser.add_argument("--spaces", nargs="+", default=list(CELL_SPACES), choices=CELL_SPACES)
    parser.add_argument("--seed", type=int, default=0, help="seeds the cells' sampling")
    parser.add_argument(
        "--evaluations",
        nargs="+",
        choices=EVALUATIONS,
        help=f"default: all ({ENAS} only with --enas-directory); {FULL[0]} and {FULL[1]} are "
        "always run (the reference)",
    )
    parser.add_argument("--num-blocks", type=int, default=1, help="reference N (default 1)")
    parser.add_argument(
        "--filters",
        type=int,
        default=16,
        help="reference F: NASNet-A's at which the cells match parameters (default 16)",
    )
    parser.add_argument(
        "--reference",
        choices=("matched", "fixed"),
        default="matched",
        help="train the reference at matched parameters, as compare (default), or every "
        "cell at --filters",
    )
    parser.add_argument(
        "--target-params", type=int, help="the count to match (default NASNet-A's at --filters)"
    )
    parser.add_argument(
        "--tolerance", type=float, default=0.15, help="matched within this (default 0.15)"
    )
    parser.add_argument("--epochs", type=int, default=1, help="reference epochs (default 1)")
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument(
        "--epoch-examples", type=int, help="reference examples per epoch (default: the split)"
    )
    parser.add_argument("--child-blocks", type=int, default=CHILD_SETTINGS.num_blocks)
    parser.add_argument("--child-filters", type=int, default=CHILD_SETTINGS.filters)
    parser.add_argument(
        "--main-child-examples",
        type=int,
        default=MAIN_CHILD_EXAMPLES,
        help=f"images of {MAIN_DATASET} a {MAIN_CHILD} trains on (default {MAIN_CHILD_EXAMPLES})",
    )
    parser.add_argument("--proxy-batch", type=int, default=64)
    parser.add_argument("--enas-directory")
    parser.add_argument("--enas-validation-size", type=float, default=0.1)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument(
        "--runs-per-worker", type=int, default=10, help="runs a worker process trains in turn"
    )
    parser.add_argument("--max-time", help="no new run starts after this (600, 90m, 2h)")
    parser.add_argument("--resamples", type=int, default=RESAMPLES)
    parser.add_argument("--bootstrap-seed", type=int, default=0)
    parser.add_argument("--analyse-only", action="store_true")
    parser.add_argument(
        "--other-reference",
        metavar="DIR",
        help="another bench directory on the same cells (e.g. --reference fixed): how its "
        "reference orders them against this one's",
    )
    args = parser.parse_args(argv)
    if args.evaluations is None:
        args.evaluations = [e for e in EVALUATIONS if e != ENAS or args.enas_directory]
    args.evaluations = list(dict.fromkeys(list(FULL) + args.evaluations))
    if ENAS in args.evaluations and not args.enas_directory:
        parser.error(f"--evaluations {ENAS} needs --enas-directory")
    if args.cells < 2:
        parser.error(f"--cells must be at least 2 to rank; received {args.cells}")
    if args.reference == "fixed" and (args.target_params is not None or args.tolerance != 0.15):
        parser.error("--target-params and --tolerance apply to --reference matched only")
    if args.target_params is not None and args.target_params < 1:
        parser.error(f"--target-params must be at least 1; received {args.target_params}")
    if not 0 < args.tolerance < 1:
        parser.error(f"--tolerance must lie in (0, 1); received {args.tolerance}")
    if args.main_child_examples < 1:
        parser.error(
            f"--main-child-examples must be at least 1; received {args.main_child_examples}"
        )
    try:
        args.max_time = parse_duration(args.max_time, "--max-time")
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    return args


def make_plan(args: argparse.Namespace) -> Plan:
    """Returns the evaluations' recipes the flags give.

    Raises:
        ValueError: a bad recipe setting (the message names it).
    """
    recipe = training.TrainingSettings(
        num_blocks=args.num_blocks,
        filters=args.filters,
        epochs=args.epochs,
        batch_size=args.batch_size,
        epoch_examples=args.epoch_examples,
    )
    child = CHILD_SETTINGS.replace(
        num_blocks=args.child_blocks, filters=args.child_filters, epochs=1
    )
    split = data.num_examples(args.dataset, "train", args.data_dir)
    recipe_examples = min(split, args.epoch_examples or split)
    match = None
    if args.reference == "matched":
        target = args.target_params
        if target is None:
            count = cell_counter(recipe, args.dataset, args.data_dir)
            target = count(NASNET_A, recipe.filters)[0]
        match = {"target_params": int(target), "tolerance": float(args.tolerance)}
    # Whatever --evaluations says: settings.json must not depend on the columns run today.
    count = cell_counter(child, MAIN_DATASET, args.data_dir)
    main_child_match = {
        "target_params": int(count(NASNET_A, child.filters)[0]),
        "tolerance": MAIN_CHILD_TOLERANCE,
    }
    return Plan(
        dataset=args.dataset,
        data_dir=args.data_dir,
        recipe=recipe,
        child=child,
        fraction_examples=fraction_examples(recipe_examples, child.batch_size),
        proxy_batch=args.proxy_batch,
        enas_validation_size=args.enas_validation_size,
        match=match,
        main_child=main_child_settings(args.main_child_examples),
        main_child_match=main_child_match,
    )


def saved(directory: str, name: str) -> dict:
    """Returns the JSON object of file `name` in a bench directory.

    Raises:
        ValueError: the file is missing (the directory holds no bench).
    """
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        raise ValueError(f"{path} is missing: {directory!r} holds no rank-agreement bench.")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def main(argv=None) -> dict:
    """Runs the bench as the flags ask (see the module docstring); returns {"runs": runs
    started, "paths": the report's files, "analysis": the figures}.

    Raises:
        SystemExit: a bad flag, or a directory holding another bench's settings or cells.
    """
    args = parse_args(argv)
    results_directory = os.path.join(args.directory, RESULTS_DIR)
    started = 0
    try:
        if args.analyse_only:  # what the directory holds, whatever the flags say
            settings = saved(args.directory, SETTINGS_FILE)
            cells = saved(args.directory, CELLS_FILE)["cells"]
        else:
            os.makedirs(args.directory, exist_ok=True)
            plan = make_plan(args)
            settings = plan.settings()
            check_settings(args.directory, settings)
            cells = load_cells(args.directory, args.spaces, args.cells, args.seed)
            deadline = None if args.max_time is None else time.monotonic() + args.max_time
            started = run_evaluations(
                plan,
                cells,
                args.evaluations,
                results_directory,
                args.jobs,
                lambda: deadline is None or time.monotonic() < deadline,
                enas_directory=args.enas_directory,
                runs_per_worker=args.runs_per_worker,
            )
    except ValueError as error:
        raise SystemExit(f"rank_agreement: {error}") from None
    results = read_results(results_directory)
    found = {evaluation for _, evaluation in results}
    if not args.analyse_only:  # the flags' evaluations show, run or not yet
        found |= set(args.evaluations)
    evaluations = [e for e in EVALUATIONS if e in found or e in FULL]
    analysis = analyse(cells, results, evaluations, args.resamples, args.bootstrap_seed)
    if args.other_reference:
        other = read_results(os.path.join(args.other_reference, RESULTS_DIR))
        analysis["other_reference"] = {
            "directory": args.other_reference,
            **references_agreement(cells, results, other, args.resamples, args.bootstrap_seed),
        }
    paths = write_report(args.directory, analysis, settings)
    print(markdown(analysis, settings=settings))
    print(f"{started} run(s) started; report: {', '.join(paths.values())}")
    return {"runs": started, "paths": paths, "analysis": analysis}


if __name__ == "__main__":
    main()
