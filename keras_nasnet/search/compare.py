"""A fair comparison of cells: one recipe, matched parameter counts, several seeds each.

`compare(["runs/main/best_architecture.json", "nasnet_a", "random:2"], "fashion_mnist", "cmp")`
trains every architecture with the same `TrainingSettings` except F, the filters of the first
stack, which is chosen per architecture so that its parameter count is within `tolerance` (5%)
of a target (by default the first architecture's count at the recipe's F). Each one is trained
with `seeds` seeds on the dataset's "train" split and scored on its test split; the table gives
the mean and standard deviation of test accuracy, parameters, mult-adds, F, optionally the
batch-1 LiteRT latency, and each row's difference to the first with a Welch t interval.

A comparison directory holds::

    settings.json              the recipe, dataset, target and seed: a later run must match it
    architectures/<key>.json   each architecture, its matched F, parameters, mult-adds (latency)
    runs/<key>-seed<S>.json    one file per finished (architecture, seed), written atomically
    compare.md / .json / .html the table (compare.html with a chart), rewritten at the end

so a killed comparison run again trains only what is missing, more seeds or architectures can
be added later, and a changed recipe is refused instead of mixed in. One process at a time
holds the directory (`DirectoryLock`).
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import statistics
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence, Union

import numpy as np

from ..genotypes import ARCHITECTURES, Architecture, read_architecture
from ..training import TrainingSettings
from ..validation import check_bool, check_int, check_number
from . import parallel_runs
from .files import atomic_write
from .integrity import read_json_object
from .lock import DirectoryLock
from .space import SearchSpace
from .welch import Interval, welch_interval

RANDOM_PREFIX = "random:"
MAX_RANDOM_CELLS = 100
TOLERANCE = 0.05
CONFIDENCE = 0.95
SETTINGS_FILE = "settings.json"
ARCHITECTURES_DIR = "architectures"
RUNS_DIR = "runs"
SETTINGS_FORMAT = 1
# The recipe `keras-nasnet train` uses: N = 2, F = 16, 10 epochs.
DEFAULT_RECIPE = TrainingSettings()
# Beyond this many measurements the parameter count is not the quadratic in F it should be.
_MAX_MEASUREMENTS = 12

ArchitectureSpec = Union[str, Architecture, tuple]


@dataclass(frozen=True)
class Candidate:
    """One architecture to compare: its label in the table, its file-name key, the cell pair."""

    label: str
    key: str
    architecture: Architecture


@dataclass(frozen=True)
class Match:
    """F chosen for an architecture, with the parameters and mult-adds it gives."""

    filters: int
    params: int
    mult_adds: int


@dataclass
class ComparisonRow:
    """One architecture's results: per-seed test accuracies and what they were measured at.

    `difference` is the row's mean accuracy minus the first row's, with its Welch interval
    (None for the first row).
    """

    label: str
    architecture: Architecture
    filters: int
    params: int
    mult_adds: int
    seeds: tuple
    accuracies: tuple
    seconds: tuple
    latency_ms: Optional[float] = None
    difference: Optional[Interval] = None

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
            "params": self.params,
            "mult_adds": self.mult_adds,
            "latency_ms": self.latency_ms,
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

    def table(self) -> str:
        """Returns the table as Markdown (what `keras-nasnet compare` prints)."""
        from .compare_report import markdown_table

        return markdown_table(self)

    def to_dict(self) -> dict:
        """Returns a JSON-ready dict (what compare.json holds)."""
        return {
            "dataset": self.dataset,
            "recipe": self.recipe.to_dict(),
            "target_params": self.target_params,
            "tolerance": self.tolerance,
            "confidence": self.confidence,
            "interval": "Welch t interval of mean(row) - mean(first row), unpaired",
            "rows": [row.to_dict() for row in self.rows],
        }


# -- naming architectures ----------------------------------------------------------------------


def _random_count(identifier: str) -> int:
    text = identifier[len(RANDOM_PREFIX) :]
    if not text.isdigit() or not 1 <= int(text) <= MAX_RANDOM_CELLS:
        raise ValueError(
            f"Architecture {identifier!r}: random:K needs a count K from 1 to "
            f"{MAX_RANDOM_CELLS} (random:3 compares three random cells of the default space)."
        )
    return int(text)


def _named(identifier: str) -> Architecture:
    if identifier in ARCHITECTURES:
        return ARCHITECTURES[identifier]
    if os.path.isdir(identifier):
        raise ValueError(f"Architecture {identifier!r} is a directory, not a JSON file.")
    if os.path.exists(identifier):
        return read_architecture(identifier)  # its errors name the file and the key at fault
    hint = difflib.get_close_matches(identifier, list(ARCHITECTURES), n=1)
    suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
    raise ValueError(
        f"Unknown architecture {identifier!r}{suggestion}: give a zoo cell "
        f"({', '.join(ARCHITECTURES)}), random:K for K random cells, or an architecture JSON "
        "file (such as a search's best_architecture.json)."
    )


def _file_key(label: str, taken: set) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("._-")[:80] or "architecture"
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}-{n}"
    taken.add(key)
    return key


def resolve_architectures(
    architectures: Sequence[ArchitectureSpec], seed: int = 0, space: Optional[SearchSpace] = None
) -> list[Candidate]:
    """Returns the `Candidate`s `architectures` name, in order.

    Each item is a zoo cell name ("nasnet_a"), the path of an architecture JSON file,
    "random:K" (K cells drawn uniformly from `space`, default `SearchSpace()`, reproducibly from
    `seed`; labelled random-1, random-2, ... across the whole list), an `Architecture`
    (labelled "architecture-<position>"), or a pair (label, one of those but random:K).

    Raises:
        ValueError: an empty list, an unknown name, a bad random:K, an unreadable or invalid
            file (named), or the same name or label twice.
        TypeError: an item of another type.
    """
    if isinstance(architectures, (str, Architecture)) or not isinstance(architectures, Sequence):
        raise TypeError(
            "`architectures` must be a list of names, JSON paths, random:K or Architecture "
            f"values; received {architectures!r}."
        )
    if not architectures:
        raise ValueError("`architectures` is empty: give at least one architecture to train.")
    seed = check_int(seed, "seed", minimum=0)
    space = SearchSpace() if space is None else space
    rng = np.random.default_rng([seed, 0xC0])
    candidates, labels, keys = [], set(), set()
    random_index = 0

    def add(label, architecture):
        if label in labels:
            raise ValueError(
                f"Architecture {label!r} is given twice; each architecture once (use random:K "
                "for several random cells)."
            )
        labels.add(label)
        candidates.append(Candidate(label, _file_key(label, keys), architecture))

    for position, item in enumerate(architectures, 1):
        if isinstance(item, Architecture):
            add(f"architecture-{position}", item)
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            label, value = item
            add(label, value if isinstance(value, Architecture) else _named(str(value)))
        elif isinstance(item, (str, os.PathLike)):
            identifier = os.fspath(item)
            if identifier.startswith(RANDOM_PREFIX):
                for _ in range(_random_count(identifier)):
                    random_index += 1
                    add(f"random-{random_index}", space.decode(space.sample_uniform(rng)))
            else:
                add(identifier, _named(identifier))
        else:
            raise TypeError(
                f"`architectures` item {position} must be a name, a JSON path, random:K, an "
                f"Architecture or a (label, architecture) pair; received {item!r}."
            )
    return candidates


# -- matching parameters -----------------------------------------------------------------------


def model_counter(input_shape, classes: int, recipe: TrainingSettings) -> Callable:
    """Returns count(architecture, F) -> (parameters, mult-adds) of the inference model
    `training.train` builds with `recipe` at F for `input_shape` images and `classes` classes."""
    import keras

    from ..mult_adds import count_mult_adds
    from ..training import build_model

    settings = recipe.replace(use_aux_head=False)
    counted: dict = {}

    def count(architecture: Architecture, filters: int) -> tuple[int, int]:
        key = (architecture, filters)
        if key not in counted:
            model = build_model(
                architecture, input_shape, classes, settings.replace(filters=filters), 1
            )
            counted[key] = int(model.count_params()), int(count_mult_adds(model))
            del model
            keras.backend.clear_session()  # matching builds a few models each; keep memory flat
        return counted[key]

    return count


def _relative(params: int, target: int) -> float:
    return (params - target) / target


def _quadratic_guess(points: dict, target: int) -> int:
    """Returns the integer F >= 1 whose parameter count, by the quadratic through `points`
    ({F: (parameters, mult-adds)}, three of them), is closest to `target`."""
    xs = sorted(points)
    a, b, c = np.polyfit(np.array(xs, float), np.array([points[x][0] for x in xs], float), 2)
    if abs(a) < 1e-12:
        root = (target - c) / b if b else float(xs[-1])
    else:
        disc = max(b * b - 4 * a * (c - target), 0.0)
        root = (-b + math.sqrt(disc)) / (2 * a)
    low = max(1, math.floor(root))
    return min((low, low + 1), key=lambda f: abs(a * f * f + b * f + c - target))


def match_filters(
    count: Callable[[int], tuple[int, int]],
    target_params: int,
    start: int,
    tolerance: float = TOLERANCE,
    label: str = "architecture",
) -> Match:
    """Returns the F >= 1 whose parameter count is closest to `target_params`.

    `count(F)` returns (parameters, mult-adds). A NASNet's parameter count is a quadratic in F
    (every conv is F wide on both sides, BN and the classifier linear), so three measurements
    near `start` predict the answer and one more confirms it; when a measurement departs from
    the prediction, the three measured points nearest the guess are refitted.

    Raises:
        ValueError: no F gives a count within `tolerance` of the target (the message names
            `label`, the target, and the closest F and its neighbours with their counts).
    """
    measured: dict = {}

    def measure(f: int):
        if f not in measured:
            measured[f] = count(f)
        return measured[f]

    if abs(_relative(measure(start)[0], target_params)) <= 1e-12:
        return Match(start, *measured[start])
    for f in (start + 1, start + 2) if start == 1 else (start - 1, start + 1):
        measure(f)
    guess = None
    while len(measured) < _MAX_MEASUREMENTS:
        nearest = sorted(measured, key=lambda f: (abs(f - (guess or start)), f))[:3]
        guess = _quadratic_guess({f: measured[f] for f in nearest}, target_params)
        if guess in measured:
            break
        measure(guess)
    best = min(measured, key=lambda f: (abs(measured[f][0] - target_params), f))
    if abs(_relative(measured[best][0], target_params)) <= tolerance:
        return Match(best, *measured[best])
    found = ", ".join(
        f"F={f} gives {measure(f)[0]:,} ({_relative(measure(f)[0], target_params):+.1%})"
        for f in (best - 1, best, best + 1)
        if f >= 1
    )
    raise ValueError(
        f"No filter count F brings {label!r} within {tolerance:.0%} of the target "
        f"{target_params:,} parameters: {found}. Choose another target (--target-params), a "
        "larger recipe F (one step of F changes the count by about 2/F) or a looser --tolerance."
    )


# -- the comparison directory ------------------------------------------------------------------


def _write_json(path: str, data: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_write(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))


def _read_if_exists(path: str) -> Optional[dict]:
    return read_json_object(path) if os.path.exists(path) else None


def _check_settings(directory: str, settings: dict) -> None:
    path = os.path.join(directory, SETTINGS_FILE)
    stored = _read_if_exists(path)
    if stored is None:
        _write_json(path, settings)
        return
    for key in sorted(set(stored) | set(settings)):
        if stored.get(key) != settings.get(key):
            raise ValueError(
                f"{directory!r} holds a comparison with other settings ({key}: "
                f"{stored.get(key)!r} there, {settings.get(key)!r} now); recipes are never "
                "mixed: use another directory, or delete this one to start over."
            )


def _check_same_architecture(path: str, record: dict, candidate: Candidate) -> None:
    if record.get("architecture") != candidate.architecture.to_dict():
        raise ValueError(
            f"{path!r} holds another architecture than {candidate.label!r} is now (the file, "
            "the zoo or the seed changed); use another directory, or delete this one."
        )


def _matched(directory: str, candidate: Candidate, compute: Callable[[], Match]) -> Match:
    """Returns the candidate's Match, from its architectures/ file or computed and saved."""
    path = os.path.join(directory, ARCHITECTURES_DIR, candidate.key + ".json")
    record = _read_if_exists(path)
    if record is not None:
        _check_same_architecture(path, record, candidate)
        return Match(record["filters"], record["params"], record["mult_adds"])
    match = compute()
    _write_json(
        path,
        {
            "label": candidate.label,
            "filters": match.filters,
            "params": match.params,
            "mult_adds": match.mult_adds,
            "architecture": candidate.architecture.to_dict(),
        },
    )
    return match


def _first_count(directory: str, first: Candidate, recipe: TrainingSettings, counter) -> int:
    """Returns the first architecture's parameter count at the recipe's F: from its
    architectures/ file when that was matched there (no model to build), else counted."""
    path = os.path.join(directory, ARCHITECTURES_DIR, first.key + ".json")
    record = _read_if_exists(path)
    if record is not None and record.get("architecture") == first.architecture.to_dict():
        if record.get("filters") == recipe.filters:
            return int(record["params"])
    return counter(first.architecture, recipe.filters)[0]


def _latency(directory: str, candidate: Candidate, measure: Callable[[], float]) -> float:
    path = os.path.join(directory, ARCHITECTURES_DIR, candidate.key + ".json")
    record = read_json_object(path)
    if record.get("latency_ms") is None:
        record["latency_ms"] = float(measure())
        _write_json(path, record)
    return record["latency_ms"]


def run_path(directory: str, key: str, seed: int) -> str:
    """Returns the file of one finished (architecture, seed) run in a comparison directory."""
    return os.path.join(directory, RUNS_DIR, f"{key}-seed{seed}.json")


def _finished(directory: str, candidate: Candidate, match: Match, seed: int) -> Optional[dict]:
    """Returns the saved record of (candidate, seed), or None when that run has not finished."""
    path = run_path(directory, candidate.key, seed)
    record = _read_if_exists(path)
    if record is None:
        return None
    _check_same_architecture(path, record, candidate)
    if record.get("filters") != match.filters:
        raise ValueError(
            f"{path!r} was trained at F={record.get('filters')}, but {candidate.label!r} "
            f"now matches at F={match.filters}; use another directory."
        )
    record["resumed"] = True
    return record


def _save_run(directory: str, candidate: Candidate, match: Match, seed: int, outcome) -> dict:
    """Saves one finished run (an outcome of `parallel_runs`) at once and returns its record."""
    record = {
        "label": candidate.label,
        "seed": seed,
        "filters": match.filters,
        "accuracy": float(outcome["test_accuracy"]),
        "params": outcome["params"],
        "train_seconds": outcome["train_seconds"],
        "seconds": outcome["seconds"],
        "cpu_seconds": outcome["cpu_seconds"],
        "architecture": candidate.architecture.to_dict(),
    }
    _write_json(run_path(directory, candidate.key, seed), record)
    record["resumed"] = False
    return record


# -- compare -----------------------------------------------------------------------------------


def compare(
    architectures: Sequence[ArchitectureSpec],
    dataset: str,
    directory: str,
    seeds: int = 3,
    target_params: Optional[int] = None,
    recipe: TrainingSettings = DEFAULT_RECIPE,
    data_dir: Optional[str] = None,
    latency: bool = False,
    seed: int = 0,
    tolerance: float = TOLERANCE,
    confidence: float = CONFIDENCE,
    test_split: str = "test",
    space: Optional[SearchSpace] = None,
    latency_runs: int = 20,
    verbose: bool = False,
    jobs: int = 1,
) -> ComparisonResult:
    """Trains `architectures` with one recipe at matched parameter counts and compares them.

    Args:
        architectures: zoo names, JSON files, "random:K", Architecture values or (label,
            architecture) pairs (see `resolve_architectures`); the first is the reference.
        dataset: a `keras_nasnet.data` dataset, trained on "train", scored on `test_split`.
        directory: the comparison directory (created; resumed when it exists).
        seeds: training seeds per architecture: `seed`, `seed + 1`, ...
        target_params: the parameter count to match (None: the first architecture's at the
            recipe's F).
        recipe: N, epochs, batch size, learning rate, ...: identical for all; its F is the
            first architecture's (and the start of every search for F).
        latency: also measure each architecture's batch-1 float LiteRT latency (1 thread,
            median of `latency_runs`, untrained weights) at its matched F.
        seed: draws the random cells and offsets the training seeds.
        tolerance: how far from the target a matched count may be (0.05: 5%).
        confidence: of the interval on each row's difference to the first.
        verbose: print one line per architecture matched and per run.
        jobs: runs trained at once, each in its own process sharing the CPU cores (1: one
            after the other in this process). Small models on a few cores spend much of a run
            tracing its step in one Python thread, which other runs can overlap.

    Returns:
        A `ComparisonResult`; compare.md, compare.json and compare.html are written into
        `directory` (their paths in `result.paths`).

    Raises:
        ValueError: an unknown or invalid architecture, a bad argument, settings that differ
            from the ones `directory` was started with, an architecture no F matches.
        keras_nasnet.data.DatasetNotFoundError: an unknown or missing dataset.
        DirectoryLockedError: another process uses `directory`.
        DivergenceError: a training diverged (the finished runs stay saved).
    """
    from .. import data, training
    from .compare_report import write_reports

    seeds = check_int(seeds, "seeds", minimum=1)
    if target_params is not None:
        target_params = check_int(target_params, "target_params", minimum=1)
    if not isinstance(recipe, TrainingSettings):
        raise TypeError(f"`recipe` must be a TrainingSettings; received {recipe!r}.")
    latency = check_bool(latency, "latency")
    tolerance = check_number(tolerance, "tolerance", minimum=0, maximum=1, min_inclusive=False)
    confidence = check_number(
        confidence, "confidence", minimum=0, maximum=1, min_inclusive=False, max_inclusive=False
    )
    check_int(latency_runs, "latency_runs", minimum=1)
    jobs = check_int(jobs, "jobs", minimum=1)
    if not isinstance(directory, (str, os.PathLike)) or not os.fspath(directory):
        raise TypeError(f"`directory` must be a path; received {directory!r}.")
    directory = os.fspath(directory)
    candidates = resolve_architectures(architectures, seed=seed, space=space)
    info = data.info(dataset, data_dir)
    sizes = {split: data.num_examples(dataset, split, data_dir) for split in ("train", test_split)}
    say = print if verbose else (lambda *args, **kwargs: None)

    with DirectoryLock(directory, purpose="compare"):
        counter = model_counter(info.image_shape, info.num_classes, recipe)
        target = target_params or _first_count(directory, candidates[0], recipe, counter)
        _check_settings(
            directory,
            {
                "format": SETTINGS_FORMAT,
                "dataset": dataset,
                "split_sizes": sizes,
                "test_split": test_split,
                "recipe": recipe.to_dict(),
                "target_params": target,
                "tolerance": tolerance,
                "seed": seed,
            },
        )
        matches = {}
        for c in candidates:
            m = matches[c.key] = _matched(
                directory,
                c,
                lambda c=c: match_filters(
                    lambda f: counter(c.architecture, f), target, recipe.filters, tolerance, c.label
                ),
            )
            say(
                f"{c.label}: F={m.filters}, {m.params:,} parameters "
                f"({_relative(m.params, target):+.1%} of {target:,}), {m.mult_adds:,} mult-adds",
                flush=True,
            )
        latencies = {}
        if latency:
            from .latency import architecture_latency_ms

            for c in candidates:
                latencies[c.key] = _latency(
                    directory,
                    c,
                    lambda c=c: architecture_latency_ms(
                        c.architecture,
                        info.image_shape,
                        info.num_classes,
                        recipe.replace(filters=matches[c.key].filters),
                        runs=latency_runs,
                    ),
                )

        # Seed by seed, so that a comparison stopped early still covers every architecture.
        records, pending = {}, []
        for s in range(seed, seed + seeds):
            for c in candidates:
                record = _finished(directory, c, matches[c.key], s)
                if record is not None:
                    records[c.key, s] = record
                    continue
                kwargs = {
                    "architecture": c.architecture,
                    "dataset": dataset,
                    "settings": recipe.replace(filters=matches[c.key].filters),
                    "data_dir": data_dir,
                    "seed": s,
                    "evaluate_on": test_split,
                }
                pending.append(((c, s), kwargs))

        def save(run, outcome):
            c, s = run
            record = records[c.key, s] = _save_run(directory, c, matches[c.key], s, outcome)
            say(
                f"{c.label} seed {s}: test accuracy {record['accuracy']:.4f} "
                f"({record['seconds']:.0f} s)",
                flush=True,
            )

        if jobs == 1:
            for run, kwargs in pending:
                outcome = parallel_runs.run_once(training.train, kwargs)
                _release_memory()
                save(run, outcome)
        else:
            parallel_runs.run_in_processes(pending, jobs, save)

        rows = []
        for c in candidates:
            runs = [records[c.key, s] for s in range(seed, seed + seeds)]
            m = matches[c.key]
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
                    latency_ms=latencies.get(c.key),
                )
            )
        for row in rows[1:]:
            row.difference = welch_interval(rows[0].accuracies, row.accuracies, confidence)
        result = ComparisonResult(directory, dataset, recipe, target, tolerance, confidence, rows)
        result.paths = write_reports(result)
    return result


def _release_memory() -> None:
    import keras

    keras.backend.clear_session()
