"""A fair comparison of cells and networks: one recipe, matched parameter counts, several seeds
each.

`compare(["runs/main/best_architecture.json", "nasnet_a", "random:2"], "fashion_mnist", "cmp")`
trains every architecture with the same `TrainingSettings` except F, the filters of the first
stack, which is chosen per architecture so that its parameter count is within `tolerance` (5%)
of a target (by default the first architecture's count at the recipe's F). Whole networks
(`networks`: MnasNet-A1, MobileNetV2, a MnasNet-space search result) are matched by their
width multiplier instead. Each one is trained with `seeds` seeds on the dataset's "train"
split and scored on its test split; the table gives the mean and standard deviation of test
accuracy, parameters, mult-adds, the width, optionally the batch-1 float or int8 LiteRT
latency, and each row's difference to the first with a Welch t interval.

The comparison directory (see `directory`) keeps every matched F and finished run, so a killed
comparison run again trains only what is missing, more seeds or architectures can be added
later, and a changed recipe is refused instead of mixed in; compare.md / .json / .html hold
the table (see `report`). One process at a time holds the directory (`DirectoryLock`).
"""

from __future__ import annotations

import math
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional, Sequence, Union

from .. import training
from ..directory_lock import DirectoryLock
from ..genotypes import Architecture
from ..training import TrainingSettings
from ..validation import check_int, check_number
from . import directory as files
from . import networks, runner
from .candidates import ArchitectureSpec, Candidate, resolve_architectures
from .directory import RUNS_DIR, run_path  # noqa: F401  (names `search.compare` had)
from .matching import (
    TOLERANCE,
    Match,
    match_filters,
    match_multiplier,
    model_counter,
    relative_difference,
)
from .report import markdown_table, write_reports
from .stats import Interval, welch_interval

if TYPE_CHECKING:
    from ..search.spaces.nasnet_cells import SearchSpace

CONFIDENCE = 0.95
# What `latency` may be: no latency, float (True too) or full-integer LiteRT models.
LATENCY_CHOICES = (False, True, None, "float", "int8")
# The worker target of a comparison with networks (cells only: `runner.TRAIN_TARGET`).
MIXED_TARGET = "keras_nasnet.compare.networks:train_candidate"


class NoFinishedSeedError(RuntimeError):
    """The time to start runs ran out before every architecture finished one seed."""


# The recipe `keras-nasnet train` uses: N = 2, F = 16, 10 epochs.
DEFAULT_RECIPE = TrainingSettings()


@dataclass
class ComparisonRow:
    """One architecture's results: per-seed test accuracies and what they were measured at.

    `difference` is the row's mean accuracy minus the first row's, with its Welch interval
    (None for the first row).
    """

    label: str
    architecture: Union[Architecture, networks.Network]
    filters: Optional[int]
    params: int
    mult_adds: int
    seeds: tuple
    accuracies: tuple
    seconds: tuple
    latency_ms: Optional[float] = None
    difference: Optional[Interval] = None
    multiplier: Optional[float] = None  # a network's width multiplier (filters is None)
    latency_error: Optional[str] = None  # why the latency could not be measured

    @property
    def width(self) -> str:
        """Returns "F=16" for a cell, "x0.35" for a network."""
        return Match(self.filters, self.params, self.mult_adds, self.multiplier).width

    @property
    def mean(self) -> float:
        """Returns the mean test accuracy over seeds (NaN without any)."""
        return statistics.fmean(self.accuracies) if self.accuracies else math.nan

    @property
    def std(self) -> float:
        """Returns the sample standard deviation over seeds (NaN with fewer than two)."""
        return statistics.stdev(self.accuracies) if len(self.accuracies) > 1 else math.nan

    def to_dict(self) -> dict:
        """Returns a JSON-ready dict."""
        difference = None
        if self.difference is not None:
            d = self.difference
            difference = {"difference": d.difference, "low": d.low, "high": d.high, "df": d.df}
        return {
            "label": self.label,
            "filters": self.filters,
            "multiplier": self.multiplier,
            "width": self.width,
            "params": self.params,
            "mult_adds": self.mult_adds,
            "latency_ms": self.latency_ms,
            "latency_error": self.latency_error,
            "seeds": list(self.seeds),
            "accuracies": list(self.accuracies),
            "mean_accuracy": None if math.isnan(self.mean) else self.mean,
            "std_accuracy": None if math.isnan(self.std) else self.std,
            "seconds_per_run": list(self.seconds),
            "difference_to_first": difference,
            "architecture": self.architecture.to_dict(),
        }


@dataclass
class ComparisonResult:
    """What `compare` produced: one row per architecture, in the order given."""

    directory: str
    dataset: str
    recipe: TrainingSettings
    target_params: int
    tolerance: float
    confidence: float
    rows: list
    paths: dict = field(default_factory=dict)
    unfinished: int = 0  # runs left untrained because `last_start` passed
    latency: Optional[str] = None  # the kind of the rows' latency: "float", "int8" or None

    def table(self) -> str:
        """Returns the table as Markdown (what `keras-nasnet compare` prints)."""
        return markdown_table(self)

    def to_dict(self) -> dict:
        """Returns a JSON-ready dict (what compare.json holds)."""
        return {
            "dataset": self.dataset,
            "recipe": self.recipe.to_dict(),
            "target_params": self.target_params,
            "tolerance": self.tolerance,
            "confidence": self.confidence,
            "latency_kind": self.latency,
            "interval": "Welch t interval of mean(row) - mean(first row), unpaired",
            "rows": [row.to_dict() for row in self.rows],
            "unfinished_runs": self.unfinished,
        }


def compare(
    architectures: Sequence[ArchitectureSpec],
    dataset: str,
    directory: str,
    seeds: int = 3,
    target_params: Optional[int] = None,
    recipe: TrainingSettings = DEFAULT_RECIPE,
    data_dir: Optional[str] = None,
    latency: Union[bool, str, None] = False,
    seed: int = 0,
    tolerance: float = TOLERANCE,
    confidence: float = CONFIDENCE,
    test_split: str = "test",
    space: Optional[SearchSpace] = None,
    latency_runs: int = 20,
    verbose: bool = False,
    jobs: int = 1,
    last_start: Optional[float] = None,
) -> ComparisonResult:
    """Trains `architectures` with one recipe at matched parameter counts and compares them.

    Args:
        architectures: zoo cells and networks ("nasnet_a", "mnasnet-a1", "mobilenet_v2"), JSON
            files (a cell, or a `search --space mnasnet` result), "random:K", Architecture or
            `networks.Network` values or (label, architecture) pairs (see
            `resolve_architectures`); the first is the reference.
        dataset: a `keras_nasnet.data` dataset, trained on "train", scored on `test_split`.
        directory: the comparison directory (created; resumed when it exists).
        seeds: training seeds per architecture: `seed`, `seed + 1`, ...
        target_params: the parameter count to match (None: the first architecture's at the
            recipe's F, or a network's at multiplier 1.0).
        recipe: N, epochs, batch size, learning rate, ...: identical for all; its F is the
            first architecture's (and the start of every search for F). Networks take its
            training settings (not N, F, drop-path or the aux head: with networks, drop-path
            must be off and the aux head too) and are matched by their width multiplier.
        latency: also measure each architecture's batch-1 LiteRT latency (1 thread, median of
            `latency_runs`, untrained weights) at its matched width: True or "float" for the
            float model, "int8" for the full-integer one; False or None for none. A model
            the converter or LiteRT refuses gets no latency and its error in the row.
        seed: draws the random cells and offsets the training seeds.
        tolerance: how far from the target a matched count may be (0.05: 5%).
        confidence: of the interval on each row's difference to the first.
        verbose: print one line per architecture matched and per run.
        jobs: runs trained at once, each in its own process sharing the CPU cores (1: one
            after the other in this process). Small models on a few cores spend much of a run
            tracing its step in one Python thread, which other runs can overlap.
        last_start: a `time.monotonic()` reading after which no run starts (the running ones
            finish): the table then holds the seeds every architecture finished and
            `result.unfinished` counts the runs left out; run again to train them.

    Returns:
        A `ComparisonResult`; compare.md, compare.json and compare.html are written into
        `directory` (their paths in `result.paths`).

    Raises:
        ValueError: an unknown or invalid architecture, a bad argument, settings that differ
            from the ones `directory` was started with, an architecture no F (a network no
            multiplier) matches, networks with a recipe that has the aux head or drop-path.
        keras_nasnet.data.DatasetNotFoundError: an unknown or missing dataset.
        DirectoryLockedError: another process uses `directory`.
        DivergenceError: a training diverged (the finished runs stay saved).
        NoFinishedSeedError: `last_start` passed before every architecture finished a seed.
    """
    from .. import data

    seeds = check_int(seeds, "seeds", minimum=1)
    if target_params is not None:
        target_params = check_int(target_params, "target_params", minimum=1)
    if not isinstance(recipe, TrainingSettings):
        raise TypeError(f"`recipe` must be a TrainingSettings; received {recipe!r}.")
    latency = _latency_kind(latency)
    tolerance = check_number(tolerance, "tolerance", minimum=0, maximum=1, min_inclusive=False)
    confidence = check_number(
        confidence, "confidence", minimum=0, maximum=1, min_inclusive=False, max_inclusive=False
    )
    check_int(latency_runs, "latency_runs", minimum=1)
    jobs = check_int(jobs, "jobs", minimum=1)
    if last_start is not None:
        last_start = check_number(last_start, "last_start")
    if not isinstance(directory, (str, os.PathLike)) or not os.fspath(directory):
        raise TypeError(f"`directory` must be a path; received {directory!r}.")
    directory = os.fspath(directory)
    candidates = resolve_architectures(architectures, seed=seed, space=space)
    if any(c.is_network for c in candidates):
        networks.check_recipe(recipe)
    info = data.info(dataset, data_dir)  # an unknown dataset fails before anything is written
    sizes = {split: data.num_examples(dataset, split, data_dir) for split in ("train", test_split)}
    say = print if verbose else (lambda *args, **kwargs: None)
    seed_list = list(range(seed, seed + seeds))

    with DirectoryLock(directory, purpose="compare"):
        counter = model_counter(info.image_shape, info.num_classes, recipe)
        target = target_params or files.first_count(directory, candidates[0], recipe, counter)
        files.check_settings(
            directory,
            {
                "format": files.SETTINGS_FORMAT,
                "dataset": dataset,
                "split_sizes": sizes,
                "test_split": test_split,
                "recipe": recipe.to_dict(),
                "target_params": target,
                "tolerance": tolerance,
                "seed": seed,
            },
        )
        matches = _match_all(directory, candidates, counter, target, recipe, tolerance, say)
        latencies = {}
        if latency:
            latencies = _latencies(
                directory, candidates, matches, info, recipe, latency_runs, latency
            )
        common = {"dataset": dataset, "data_dir": data_dir, "evaluate_on": test_split}
        records, pending = _finished_and_pending(
            directory, candidates, matches, seed_list, recipe, common
        )
        may_start = None if last_start is None else (lambda: time.monotonic() < last_start)
        worker = MIXED_TARGET if any(c.is_network for c in candidates) else None
        _train(directory, matches, pending, records, jobs, say, may_start, worker)
        finished = [s for s in seed_list if all((c.key, s) in records for c in candidates)]
        if not finished:
            raise NoFinishedSeedError(
                f"No seed finished for every architecture before the time to start runs ran "
                f"out; the {len(records)} runs that finished are saved in {directory!r}: run "
                "again to train the rest."
            )
        rows = _rows(candidates, matches, records, latencies, finished, confidence)
        result = ComparisonResult(directory, dataset, recipe, target, tolerance, confidence, rows)
        result.latency = latency
        result.unfinished = len(candidates) * len(seed_list) - sum(
            (c.key, s) in records for c in candidates for s in seed_list
        )
        result.paths = write_reports(result)
    return result


def _latency_kind(latency) -> Optional[str]:
    """Returns the latency kind `latency` asks for ("float", "int8") or None for none."""
    if isinstance(latency, str) and latency in LATENCY_CHOICES:
        return latency
    if latency is None or isinstance(latency, bool):
        return "float" if latency else None
    raise ValueError(f"`latency` must be False, True, 'float' or 'int8'; received {latency!r}.")


def _match_all(
    directory: str,
    candidates: list,
    counter: Callable,
    target: int,
    recipe: TrainingSettings,
    tolerance: float,
    say: Callable,
) -> dict:
    """Returns {candidate key: Match}, each read from the directory or matched and saved."""
    matches = {}
    for c in candidates:

        def match(c=c) -> Match:
            def count(width):
                return counter(c.architecture, width)

            if c.is_network:
                return match_multiplier(count, target, tolerance, c.label)
            return match_filters(count, target, recipe.filters, tolerance, c.label)

        m = matches[c.key] = files.matched(directory, c, match)
        say(
            f"{c.label}: {m.width}, {m.params:,} parameters "
            f"({relative_difference(m.params, target):+.1%} of {target:,}), "
            f"{m.mult_adds:,} mult-adds",
            flush=True,
        )
    return matches


def _latencies(
    directory: str,
    candidates: list,
    matches: dict,
    info,
    recipe: TrainingSettings,
    runs: int,
    kind: str,
) -> dict:
    """Returns {candidate key: (batch-1 `kind` LiteRT latency in ms at its matched width, or
    None, the error that prevented it, or None)}, each read from the directory or measured
    (median of `runs`, 1 thread) and saved."""
    from ..search.evaluators import latency

    quantize = None if kind == "float" else kind

    def measure(c: Candidate) -> float:
        m = matches[c.key]
        if c.is_network:
            model = networks.build_network(
                c.architecture, info.image_shape, info.num_classes, m.multiplier
            )
            try:
                return latency.model_latency_ms(model, runs=runs, threads=1, quantize=quantize)
            finally:
                del model
                _release_memory()
        return latency.architecture_latency_ms(
            c.architecture,
            info.image_shape,
            info.num_classes,
            recipe.replace(filters=m.filters),
            runs=runs,
            quantize=quantize,
        )

    return {
        c.key: files.cached_latency(directory, c, lambda c=c: measure(c), kind) for c in candidates
    }


def _finished_and_pending(
    directory: str,
    candidates: list,
    matches: dict,
    seed_list: list,
    recipe: TrainingSettings,
    common: dict,
) -> tuple[dict, list]:
    """Returns ({(key, seed): saved record}, [((candidate, seed), `training.train` kwargs)] of
    the runs still to train), seed by seed, so that a comparison stopped early still covers
    every architecture."""
    records, pending = {}, []
    for s in seed_list:
        for c in candidates:
            record = files.finished(directory, c, matches[c.key], s)
            if record is not None:
                records[c.key, s] = record
                continue
            m = matches[c.key]
            if c.is_network:
                kwargs = {"network": c.architecture, "multiplier": m.multiplier}
                kwargs.update(settings=recipe, seed=s, **common)
            else:
                settings = recipe.replace(filters=m.filters)
                kwargs = {"architecture": c.architecture, "settings": settings, "seed": s}
                kwargs.update(common)
            pending.append(((c, s), kwargs))
    return records, pending


def _train(
    directory: str,
    matches: dict,
    pending: list,
    records: dict,
    jobs: int,
    say: Callable,
    may_start: Optional[Callable[[], bool]] = None,
    target: Optional[str] = None,
) -> None:
    """Trains the `pending` runs, `jobs` at a time, saving each into the directory and
    `records` as it ends; no run starts once `may_start()` returns False. `target` is the
    workers' "module:function" (None: `runner.TRAIN_TARGET`, cells only)."""

    def save(run: tuple[Candidate, int], outcome: dict) -> None:
        c, s = run
        record = records[c.key, s] = files.save_run(directory, c, matches[c.key], s, outcome)
        say(
            f"{c.label} seed {s}: test accuracy {record['accuracy']:.4f} "
            f"({record['seconds']:.0f} s)",
            flush=True,
        )

    if jobs > 1:
        runner.run_in_processes(pending, jobs, save, may_start=may_start, target=target)
        return
    for run, kwargs in pending:
        if may_start is not None and not may_start():
            return
        function = networks.train_network if "network" in kwargs else training.train
        outcome = runner.run_once(function, kwargs)
        _release_memory()
        save(run, outcome)


def _rows(
    candidates: list,
    matches: dict,
    records: dict,
    latencies: dict,
    seed_list: list,
    confidence: float,
) -> list:
    """Returns a `ComparisonRow` per candidate, each after the first with its difference."""
    rows = []
    for c in candidates:
        runs = [records[c.key, s] for s in seed_list]
        m: Match = matches[c.key]
        rows.append(
            ComparisonRow(
                label=c.label,
                architecture=c.architecture,
                filters=m.filters,
                params=m.params,
                mult_adds=m.mult_adds,
                seeds=tuple(r["seed"] for r in runs),
                accuracies=tuple(r["accuracy"] for r in runs),
                seconds=tuple(r["seconds"] for r in runs),
                latency_ms=latencies.get(c.key, (None, None))[0],
                multiplier=m.multiplier,
                latency_error=latencies.get(c.key, (None, None))[1],
            )
        )
    for row in rows[1:]:
        row.difference = welch_interval(rows[0].accuracies, row.accuracies, confidence)
    return rows


def _release_memory() -> None:
    import keras

    keras.backend.clear_session()
