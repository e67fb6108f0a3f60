"""The comparison directory: what a comparison keeps on disk so that it can resume.

    settings.json              the recipe, dataset, target and seed: a later run must match it
    architectures/<key>.json   each architecture, its matched F (a network: its multiplier, F
                               null), parameters, mult-adds, latencies ("latency_ms" float,
                               "int8_latency_ms"; a failed measurement keeps null and its
                               error in "<kind>_latency_error")
    runs/<key>-seed<S>.json    one file per finished (architecture, seed), written atomically

Every file is checked against what the caller asks for now: a changed recipe, a different
architecture under a known key or a run trained at another width is refused, never mixed
in. Latencies of both kinds are kept side by side: a comparison resumed with another kind
measures that kind and keeps the other.
"""

from __future__ import annotations

import json
import os
from typing import Callable, Optional

from ..training import TrainingSettings
from .candidates import Candidate
from .matching import Match

SETTINGS_FILE = "settings.json"
ARCHITECTURES_DIR = "architectures"
RUNS_DIR = "runs"
SETTINGS_FORMAT = 1
LATENCY_KINDS = ("float", "int8")


def latency_key(kind: str) -> str:
    """Returns the key of a latency `kind` in an architectures/ file ("latency_ms" for float,
    as comparisons without int8 always wrote it)."""
    return "latency_ms" if kind == "float" else f"{kind}_latency_ms"


# keras_nasnet.search is imported where a file is read or written, not with this module:
# search re-exports `compare`, so importing it here would make each package's import wait on
# the other's.
def _write_json(path: str, data: dict) -> None:
    from ..search.state import atomic_write

    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_write(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))


# What a bad file of a comparison directory leaves the user to do.
_ADVICE = "delete it to compute it (or train that run) again, or use another directory"


def _read_json(path: str, what: str = "comparison", fields: Optional[dict] = None) -> dict:
    from ..search.state import read_json_object  # names a truncated or wrong-shaped file

    return read_json_object(path, what, fields, _ADVICE)


def _read_if_exists(path: str, what: str = "comparison", fields=None) -> Optional[dict]:
    return _read_json(path, what, fields) if os.path.exists(path) else None


def _record_fields(kind: str) -> dict:
    """Returns the keys a comparison reads from an architectures/ ("match") or a runs/ ("run")
    file, as `search.state.Field`s."""
    from ..search.state import NULL, NUMBER, Field

    count = Field((int,), "a count")
    fields = {
        "filters": Field((int, NULL), "a filter count F or null"),
        "multiplier": Field((*NUMBER, NULL), "a width multiplier or null", required=False),
        "params": count,
        "architecture": Field((dict,), "an architecture"),
    }
    if kind == "match":
        fields["mult_adds"] = count
        for kind in LATENCY_KINDS:
            fields[latency_key(kind)] = Field(
                (*NUMBER, NULL), "milliseconds or null", required=False
            )
    else:
        fields.update(
            seed=Field((int,), "a seed"),
            accuracy=Field(NUMBER, "an accuracy"),
            seconds=Field(NUMBER, "seconds"),
            train_seconds=Field(NUMBER, "seconds", required=False),
            cpu_seconds=Field(NUMBER, "seconds", required=False),
        )
    return fields


def architecture_path(directory: str, candidate: Candidate) -> str:
    """Returns the file of `candidate`'s matched F (and latency) in a comparison directory."""
    return os.path.join(directory, ARCHITECTURES_DIR, candidate.key + ".json")


def run_path(directory: str, key: str, seed: int) -> str:
    """Returns the file of one finished (architecture, seed) run in a comparison directory."""
    return os.path.join(directory, RUNS_DIR, f"{key}-seed{seed}.json")


def check_settings(directory: str, settings: dict, what: str = "comparison") -> None:
    """Saves `settings` as the directory's settings.json, or checks them against the saved ones;
    `what` names the directory's kind in the messages (a design-space study keeps its own).

    Raises:
        ValueError: the directory holds a `what` with other settings (the first key that
            differs is named with both values).
    """
    path = os.path.join(directory, SETTINGS_FILE)
    stored = _read_if_exists(path, f"{what} settings")
    if stored is None:
        _write_json(path, settings)
        return
    for key in sorted(set(stored) | set(settings)):
        if stored.get(key) != settings.get(key):
            raise ValueError(
                f"{directory!r} holds a {what} with other settings ({key}: "
                f"{stored.get(key)!r} there, {settings.get(key)!r} now); recipes are never "
                "mixed: use another directory, or delete this one to start over."
            )


def _check_same_architecture(path: str, record: dict, candidate: Candidate) -> None:
    if record.get("architecture") != candidate.architecture.to_dict():
        raise ValueError(
            f"{path!r} holds another architecture than {candidate.label!r} is now (the file, "
            "the zoo or the seed changed); use another directory, or delete this one."
        )


def matched(directory: str, candidate: Candidate, compute: Callable[[], Match]) -> Match:
    """Returns the candidate's Match, from its architectures/ file or computed and saved.

    Raises:
        ValueError: the file holds another architecture.
    """
    path = architecture_path(directory, candidate)
    record = _read_if_exists(path, "matched architecture", _record_fields("match"))
    if record is not None:
        _check_same_architecture(path, record, candidate)
        return Match(
            record["filters"], record["params"], record["mult_adds"], record.get("multiplier")
        )
    match = compute()
    _write_json(
        path,
        {
            "label": candidate.label,
            "filters": match.filters,
            "multiplier": match.multiplier,
            "params": match.params,
            "mult_adds": match.mult_adds,
            "architecture": candidate.architecture.to_dict(),
        },
    )
    return match


def first_count(directory: str, first: Candidate, recipe: TrainingSettings, counter) -> int:
    """Returns the first architecture's parameter count at the recipe's F (a network's at
    multiplier 1.0): from its architectures/ file when that was matched there (no model to
    build), else counted."""
    from .networks import REFERENCE_MULTIPLIER

    width = REFERENCE_MULTIPLIER if first.is_network else recipe.filters
    field = "multiplier" if first.is_network else "filters"
    record = _read_if_exists(
        architecture_path(directory, first), "matched architecture", _record_fields("match")
    )
    if record is not None and record.get("architecture") == first.architecture.to_dict():
        if record.get(field) == width:
            return int(record["params"])
    return counter(first.architecture, width)[0]


def cached_latency(
    directory: str, candidate: Candidate, measure: Callable[[], float], kind: str = "float"
) -> tuple[Optional[float], Optional[str]]:
    """Returns (the candidate's `kind` latency in ms or None, the error text of a failed
    measurement or None), from its architectures/ file, or `measure()`d and saved there (the
    file must exist: `matched` writes it). A measurement that raises RuntimeError or
    ValueError (a converter or XNNPACK refusal) is saved as a null latency with its error, and
    not tried again."""
    path = architecture_path(directory, candidate)
    record = _read_json(path, "matched architecture", _record_fields("match"))
    key, error_key = latency_key(kind), f"{kind}_latency_error"
    if record.get(key) is None and record.get(error_key) is None:
        try:
            record[key] = float(measure())
        except (RuntimeError, ValueError) as error:
            record[error_key] = f"{type(error).__name__}: {error}"
        _write_json(path, record)
    return record.get(key), record.get(error_key)


def finished(directory: str, candidate: Candidate, match: Match, seed: int) -> Optional[dict]:
    """Returns the saved record of (candidate, seed), or None when that run has not finished.

    Raises:
        ValueError: the record holds another architecture, or was trained at another F.
    """
    path = run_path(directory, candidate.key, seed)
    record = _read_if_exists(path, "comparison run", _record_fields("run"))
    if record is None:
        return None
    _check_same_architecture(path, record, candidate)
    trained = Match(record.get("filters"), 0, 0, record.get("multiplier"))
    if trained.width != match.width:
        raise ValueError(
            f"{path!r} was trained at {trained.width}, but {candidate.label!r} "
            f"now matches at {match.width}; use another directory."
        )
    record["resumed"] = True
    return record


def save_run(directory: str, candidate: Candidate, match: Match, seed: int, outcome) -> dict:
    """Saves one finished run (an outcome of `runner.run_once` or `runner.run_in_processes`)
    at once and returns its record."""
    record = {
        "label": candidate.label,
        "seed": seed,
        "filters": match.filters,
        "multiplier": match.multiplier,
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
