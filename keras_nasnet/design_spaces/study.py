"""A design-space study: sample models from spaces, train each once with one recipe, record
them, and write the design-space report.

`run_study(["nasnet", "enas"], 100, "fashion_mnist_sample", "runs/spaces")` draws 100 points of
each space (seeded; optionally only points whose parameter count lies in a window), trains
every model once with the same `TrainingSettings` in worker processes (compare's runner), and
writes records.jsonl and the report (`write_report`: design_spaces.md / .html, narrowing.json).

The study directory lets a killed study resume where it stopped:

    settings.json            dataset, recipe, spaces, seed and window: a resume must match them
    points.json              each space's sampled points (and its generator's state), saved
                             before any training, so a resume trains the very same models
    runs/<key>-seed<S>.json  one file per trained model (compare's run files), written atomically
    failed/<key>-seed<S>.json  one file per model whose training failed (diverged to NaN, or its
                             process died): recorded with a NaN error, not trained again

One process at a time holds the directory (`DirectoryLock`).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from ..compare import directory as files
from ..compare import runner
from ..compare.candidates import Candidate
from ..compare.matching import Match
from ..directory_lock import DirectoryLock
from ..training import TrainingSettings
from ..validation import ArgumentTypeError, check_choice, check_int, check_number
from .records import ModelRecord, save_records
from .report import COMPLEXITY, compare_spaces, write_report
from .sampling import (
    PointSpace,
    SampledPoint,
    check_params_window,
    resolve_spaces,
    rng_from_state,
    rng_state,
    sample_points,
    space_rng,
)

__all__ = [
    "FAILED_DIR",
    "POINTS_FILE",
    "RECORDS_FILE",
    "STUDY_RECIPE",
    "StudyResult",
    "run_study",
]

POINTS_FILE = "points.json"
RECORDS_FILE = "records.jsonl"
FAILED_DIR = "failed"
SETTINGS_FORMAT = 1
WHAT = "design-space study"
# Cheap, as a study trains hundreds of models: N = 1, F = 8, two epochs.
STUDY_RECIPE = TrainingSettings(num_blocks=1, filters=8, epochs=2)
# Models a worker process trains one after another: a fresh process per model (spawn, the
# imports of TensorFlow and Keras, the dataset read again) is a large share of a cheap model's
# time (docs/design_spaces.md, "The command"); a bound, so that whatever a run leaves behind
# in its process cannot grow without end.
RUNS_PER_WORKER = 20


@dataclass
class StudyResult:
    """What `run_study` produced.

    Attributes:
        directory: the study directory.
        records: a `ModelRecord` per model trained or failed, space by space.
        trained: models trained by this call; resumed: models read from the directory.
        unfinished: models left untrained because `last_start` passed.
        paths: the files written, by kind ("records", "markdown", "html", "narrowing", plots).
        notes: what the report had to leave out, one sentence each.
    """

    directory: str
    records: list
    trained: int = 0
    resumed: int = 0
    unfinished: int = 0
    paths: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Returns the number of models whose training failed."""
        return sum(record.failed for record in self.records)


def _failed_path(directory: str, key: str, seed: int) -> str:
    return os.path.join(directory, FAILED_DIR, f"{key}-seed{seed}.json")


def _write_json(path: str, data) -> None:
    from ..search.state import atomic_write

    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_write(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))


def _read_json(path: str, what: str) -> Optional[dict]:
    if not os.path.exists(path):
        return None
    from ..search.state import read_json_object  # names a truncated or wrong-shaped file

    return read_json_object(path, what, None, "delete the study directory to start over")


def _candidate(point: SampledPoint) -> Candidate:
    """The point as compare's run files know an architecture."""
    return Candidate(point.key, point.key, point.point)


def _match(point: SampledPoint, recipe: TrainingSettings) -> Match:
    return Match(recipe.filters, point.params, point.mult_adds)


def _points(
    directory: str,
    spaces: Sequence[PointSpace],
    models: int,
    seed: int,
    window,
    counter: Callable,
    say: Callable,
) -> dict:
    """Returns {space name: its first `models` SampledPoints}: read from points.json, the
    missing ones drawn (continuing each space's generator) and saved before any training."""
    path = os.path.join(directory, POINTS_FILE)
    saved = _read_json(path, "sampled points") or {}
    points = {}
    for space in spaces:
        entry = saved.get(space.name)
        have = [SampledPoint.from_dict(space, p) for p in entry["points"]] if entry else []
        if len(have) < models:
            rng = rng_from_state(entry["rng_state"]) if entry else space_rng(seed, space.name)
            count = counter(space)
            new, draws = sample_points(space, models - len(have), rng, count, window, len(have))
            have += new
            saved[space.name] = {
                "draws": (entry["draws"] if entry else 0) + draws,
                "rng_state": rng_state(rng),
                "points": [p.to_dict() for p in have],
            }
            _write_json(path, saved)
            say(f"{space.name}: sampled {len(new)} points ({draws} draws)", flush=True)
        points[space.name] = have[:models]
    return points


def _interleaved(points: dict) -> list:
    """The points model 0 of every space first, then model 1, ...: a study stopped early still
    covers every space alike."""
    lists = list(points.values())
    longest = max((len(p) for p in lists), default=0)
    return [p[i] for i in range(longest) for p in lists if i < len(p)]


def _record(point: SampledPoint, error: float, seconds: Optional[float]) -> ModelRecord:
    return ModelRecord(point.space, point.values, error, point.params, point.mult_adds, seconds)


def run_study(
    spaces: Sequence,
    models: int,
    dataset: str,
    directory: str,
    recipe: TrainingSettings = STUDY_RECIPE,
    seed: int = 0,
    jobs: int = 1,
    data_dir: Optional[str] = None,
    last_start: Optional[float] = None,
    params_window=None,
    normalize_by: Optional[str] = "params",
    bins: int = 20,
    num_blocks: int = 5,
    verbose: bool = False,
    command: Optional[str] = None,
) -> StudyResult:
    """Samples `models` points of each space, trains each once with `recipe`, and writes the
    records and the design-space report into `directory` (resumed when it exists).

    Args:
        spaces: space names ("nasnet", "enas", "file:PATH"; see `sampling.resolve_spaces`)
            or `PointSpace` values.
        models: points per space.
        dataset: a `keras_nasnet.data` dataset, trained on "train", scored on "test".
        directory: the study directory (created; resumed when it exists).
        recipe: the one recipe of every model (its N and F also count the parameters).
        seed: draws the points (each space from the seed and its name) and seeds training.
        jobs: models trained at once, each in its own process sharing the CPU cores.
        last_start: a `time.monotonic()` reading after which no model starts (the running
            ones finish); run again to train the rest.
        params_window: (low, high): only points with a parameter count in it are kept.
        normalize_by: the report's normalized EDF ("params", "mult_adds" or None).
        bins: complexity bins of the normalized EDF; with too few models for them, the report
            leaves the normalized EDF out and says so in `notes`.
        num_blocks: blocks per cell B of the named spaces.
        verbose: print a line per space sampled and per model trained.
        command: the command line the HTML report names.

    Returns:
        A `StudyResult`.

    Raises:
        ValueError: a bad argument or space, a parameter window no point meets, settings that
            differ from the ones `directory` was started with.
        keras_nasnet.data.DatasetNotFoundError: an unknown or missing dataset.
        DirectoryLockedError: another process uses `directory`.
    """
    from .. import data

    models = check_int(models, "models", minimum=1)
    if not isinstance(recipe, TrainingSettings):
        raise ArgumentTypeError(f"`recipe` must be a TrainingSettings; received {recipe!r}.")
    seed = check_int(seed, "seed", minimum=0)
    jobs = check_int(jobs, "jobs", minimum=1)
    if last_start is not None:
        last_start = check_number(last_start, "last_start")
    window = check_params_window(params_window)
    if normalize_by is not None:
        check_choice(normalize_by, "normalize_by", COMPLEXITY)
    bins = check_int(bins, "bins", minimum=1)
    if not isinstance(directory, (str, os.PathLike)) or not os.fspath(directory):
        raise ArgumentTypeError(f"`directory` must be a path; received {directory!r}.")
    directory = os.fspath(directory)
    spaces = resolve_spaces(spaces, num_blocks)
    info = data.info(dataset, data_dir)  # an unknown dataset fails before anything is written
    sizes = {split: data.num_examples(dataset, split, data_dir) for split in ("train", "test")}
    say = print if verbose else (lambda *args, **kwargs: None)

    with DirectoryLock(directory, purpose="spaces"):
        settings = {
            "format": SETTINGS_FORMAT,
            "dataset": dataset,
            "split_sizes": sizes,
            "recipe": recipe.to_dict(),
            "spaces": [space.config() for space in spaces],
            "seed": seed,
            "params_window": list(window) if window else None,
        }
        fresh = not os.path.exists(os.path.join(directory, files.SETTINGS_FILE))
        files.check_settings(directory, settings, what=WHAT)
        counters = {}

        def counter(space: PointSpace) -> Callable:
            if space.name not in counters:
                counters[space.name] = space.counter(info.image_shape, info.num_classes, recipe)
            return counters[space.name]

        try:
            points = _points(directory, spaces, models, seed, window, counter, say)
        except ValueError:
            if fresh:  # nothing trained yet: another window or recipe may use the directory
                for name in (files.SETTINGS_FILE, POINTS_FILE):
                    if os.path.exists(os.path.join(directory, name)):
                        os.remove(os.path.join(directory, name))
            raise
        by_space = {space.name: space for space in spaces}
        outcomes, pending, resumed = {}, [], 0
        common = {"settings": recipe, "seed": seed, "dataset": dataset, "data_dir": data_dir}
        for point in _interleaved(points):
            saved = _saved_outcome(directory, point, recipe, seed)
            if saved is not None:
                outcomes[point.key] = saved
                resumed += 1
                continue
            space = by_space[point.space]
            kwargs = {**space.train_kwargs(point.point), **common, "evaluate_on": "test"}
            pending.append((space.train_target, (point, kwargs)))
        trained = _train(directory, pending, outcomes, recipe, seed, jobs, last_start, say)
        records = [
            _record(point, *outcomes[point.key])
            for space_points in points.values()
            for point in space_points
            if point.key in outcomes
        ]
        result = StudyResult(directory, records, trained=trained, resumed=resumed)
        result.unfinished = sum(len(p) for p in points.values()) - len(records)
        result.paths["records"] = save_records(records, os.path.join(directory, RECORDS_FILE))
        categorical = [name for space in spaces for name in space.categorical]
        result.paths.update(
            _report(
                records, directory, normalize_by, bins, categorical, seed, command, result.notes
            )
        )
    return result


def _saved_outcome(
    directory: str, point: SampledPoint, recipe: TrainingSettings, seed: int
) -> Optional[tuple]:
    """Returns (error, seconds) of a model trained or failed before, or None."""
    record = files.finished(directory, _candidate(point), _match(point, recipe), seed)
    if record is not None:
        return 1.0 - record["accuracy"], record.get("train_seconds")
    if _read_json(_failed_path(directory, point.key, seed), "failed model") is not None:
        return math.nan, None
    return None


def _train(
    directory: str,
    pending: list,
    outcomes: dict,
    recipe: TrainingSettings,
    seed: int,
    jobs: int,
    last_start: Optional[float],
    say: Callable,
) -> int:
    """Trains the `pending` (target, (point, kwargs)) runs in worker processes, saving each
    model's run file (or failure file) and outcome as it ends; returns how many ended."""
    ended = []

    def done(point: SampledPoint, outcome: dict) -> None:
        record = files.save_run(directory, _candidate(point), _match(point, recipe), seed, outcome)
        error = 1.0 - record["accuracy"]
        if not math.isfinite(error):  # an evaluation that gave NaN is a failed model too
            error = math.nan
        outcomes[point.key] = (error, record["train_seconds"])
        ended.append(point.key)
        say(f"{point.key}: error {error:.4f} ({record['seconds']:.0f} s)", flush=True)

    def failed(point: SampledPoint, error: BaseException) -> None:
        if not isinstance(error, Exception):  # Ctrl-C reached the worker too: stop, record nothing
            raise error
        message = f"{type(error).__name__}: {error}"
        _write_json(
            _failed_path(directory, point.key, seed),
            {"label": point.key, "seed": seed, "error": message, "point": point.point.to_dict()},
        )
        outcomes[point.key] = (math.nan, None)
        ended.append(point.key)
        say(f"{point.key}: failed ({message})", flush=True)

    may_start = None if last_start is None else (lambda: time.monotonic() < last_start)
    targets = list(dict.fromkeys(target for target, _ in pending))
    for target in targets:
        runs = [run for run_target, run in pending if run_target == target]
        runner.run_in_processes(
            runs,
            jobs,
            done,
            target=target,
            may_start=may_start,
            on_failed=failed,
            runs_per_worker=RUNS_PER_WORKER,
        )
    return len(ended)


def _report(records, directory, normalize_by, bins, categorical, seed, command, notes) -> dict:
    """Writes the report of the spaces that have a trained model; returns its paths (none when
    no space has one). What it leaves out is added to `notes`."""
    trained = {r.space for r in records if not r.failed}
    left_out = sorted({r.space for r in records} - trained)
    if left_out:
        notes.append(f"Left out of the report (no trained model): {', '.join(left_out)}.")
    kept = [r for r in records if r.space in trained]
    if not kept:
        notes.append("No model trained: no report written.")
        return {}
    options = {"categorical": categorical, "seed": seed}
    comparison = None
    if normalize_by is not None:
        try:
            comparison = compare_spaces(kept, normalize_by=normalize_by, bins=bins, **options)
        except ValueError as error:
            notes.append(f"Normalized EDF left out: {error}")
    if comparison is None:
        try:
            comparison = compare_spaces(kept, normalize_by=None, **options)
        except ValueError as error:  # the records stay saved for another analysis
            notes.append(f"No report written: {error}")
            return {}
    return write_report(comparison, directory, command)
