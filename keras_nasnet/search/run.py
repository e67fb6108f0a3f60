"""`search.run`: the NAS oracle driven by a plain function instead of child training.

For surrogate models, tabular benchmarks, synthetic rewards and tests: the same `NASOracle`
(same sampling, learning, saving and resuming) with ``evaluate(architecture) -> float`` as
the trial.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable, Optional

from ..genotypes import Architecture
from .monitors import default_monitors
from .oracle import COMPLETED, FAILED, NASOracle
from .space import SearchSpace

PROJECT_NAME = "search"
RUN_TUNER_ID = "run"


@dataclass
class SearchHistory:
    """Trials of one search in the order they started.

    `rewards[i]` is NaN for a trial that failed (raised, or returned a non-finite value).
    """

    trial_ids: list = field(default_factory=list)
    architectures: list = field(default_factory=list)
    rewards: list = field(default_factory=list)
    statuses: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.trial_ids)

    def best(self) -> tuple[Architecture, float]:
        """Returns (architecture, reward) of the best completed trial. Raises ValueError if none completed."""
        scored = [(r, i) for i, r in enumerate(self.rewards) if not math.isnan(r)]
        if not scored:
            raise ValueError("No trial of this search completed, so there is no best architecture.")
        reward, index = max(scored, key=lambda item: (item[0], -item[1]))
        return self.architectures[index], reward

    @classmethod
    def from_oracle(cls, oracle: NASOracle) -> "SearchHistory":
        """Returns the history of the trials `oracle` started."""
        history = cls()
        for trial_id in oracle.start_order:
            trial = oracle.trials[trial_id]
            reward = oracle.rewards.get(trial_id)
            history.trial_ids.append(trial_id)
            history.architectures.append(oracle.architecture(trial))
            history.rewards.append(float("nan") if reward is None else reward)
            history.statuses.append(trial.status)
        return history


def run(
    evaluate: Callable[[Architecture], float],
    space: Optional[SearchSpace] = None,
    algorithm: str = "ppo",
    max_trials: int = 100,
    seed: int = 0,
    directory: Optional[str] = None,
    overwrite: bool = False,
    report: bool = False,
    **oracle_kwargs,
) -> SearchHistory:
    """Searches with `evaluate(architecture) -> reward` (higher is better) as the trial.

    Args:
        evaluate: returns the reward of an Architecture; an exception or a non-finite value
            records the trial as failed (no reward) and the search goes on.
        space, algorithm, max_trials, seed: see `NASOracle`.
        directory: where the search state lives; running again on the same directory resumes
            (unless `overwrite`). None: a temporary directory, removed at the end.
            TensorBoard events go to `directory`/tensorboard (see `search.monitors`).
        report: also write `directory`/report.html while the search runs and at its end
            (off by default: it builds a model per top architecture to count mult-adds).
        **oracle_kwargs: further `NASOracle` arguments (learning_rate, update_every, ...).

    Returns:
        A `SearchHistory` of every trial, including those of earlier runs in `directory`.

    Raises:
        RuntimeError: more consecutive failures than `max_consecutive_failed_trials`.
    """
    if not callable(evaluate):
        raise TypeError(f"`evaluate` must be callable; received {evaluate!r}.")
    if directory is None:
        with tempfile.TemporaryDirectory(prefix="keras-nasnet-run-") as tmp:
            # Nobody reads event files or a report in a directory deleted at the end.
            return _search(evaluate, space, algorithm, max_trials, seed, tmp, True, [], oracle_kwargs)
    return _search(evaluate, space, algorithm, max_trials, seed, directory, overwrite, default_monitors(report), oracle_kwargs)


def _search(evaluate, space, algorithm, max_trials, seed, directory, overwrite, monitors, oracle_kwargs) -> SearchHistory:
    oracle = NASOracle(
        space=space,
        algorithm=algorithm,
        objective=_objective(),
        max_trials=max_trials,
        seed=seed,
        **oracle_kwargs,
    )
    oracle.verbose = 0
    oracle.monitors = monitors
    open_project(oracle, directory, overwrite)
    while True:
        trial = oracle.create_trial(RUN_TUNER_ID)
        if trial.status != "RUNNING":
            break
        _evaluate_trial(oracle, trial, evaluate)
        oracle.end_trial(trial)
    return SearchHistory.from_oracle(oracle)


def _objective():
    import keras_tuner

    return keras_tuner.Objective("reward", direction="max")


def open_project(oracle: NASOracle, directory: str, overwrite: bool) -> None:
    """Points `oracle` at `directory` and reloads the search saved there unless `overwrite`."""
    import shutil

    oracle._set_project_dir(directory, PROJECT_NAME)
    project = os.path.join(directory, PROJECT_NAME)
    if overwrite and os.path.exists(project):
        shutil.rmtree(project)
    if os.path.exists(os.path.join(project, "oracle.json")):
        oracle.reload()


def _evaluate_trial(oracle: NASOracle, trial, evaluate) -> None:
    start = time.perf_counter()
    try:
        reward = float(evaluate(oracle.architecture(trial)))
    except Exception:  # a failed child is a result, not the end of the search
        trial.status = FAILED
        trial.message = traceback.format_exc()
        return
    if not math.isfinite(reward):
        trial.status = FAILED
        trial.message = f"evaluate returned a non-finite reward ({reward})."
        return
    oracle.update_trial(trial.trial_id, {"reward": reward, "seconds": time.perf_counter() - start})
    trial.status = COMPLETED
