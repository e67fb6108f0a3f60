"""`search.run`: the NAS oracle driven by a plain function instead of child training.

For surrogate models, tabular benchmarks, synthetic rewards and tests: the same `NASOracle`
(same sampling, learning, saving and resuming) with ``evaluate(architecture) -> float`` as
the trial, or ``evaluate(architecture) -> dict`` of metrics scored by a `reward` function
(e.g. `MnasNetReward` on accuracy and latency). With ``evaluation="proxy:NAME"`` the trial is
a zero-cost proxy's score of the architecture on a given minibatch (`proxy_batch`).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Union

from .. import compat
from ..genotypes import Architecture
from ..training import TrainingSettings
from ..validation import check_int
from .evaluators.evaluation import DEFAULT_PREFILTER_PROXY, ProxyScorer, parse_evaluation
from .lock import DirectoryLock
from .oracles.base import COMPLETED, FAILED
from .oracles.nasnet import NASOracle
from .reporting.monitors import default_monitors
from .spaces.nasnet_cells import SearchSpace
from .state import ORACLE_FILE, PROJECT_NAME

RUN_TUNER_ID = "run"


@dataclass
class SearchHistory:
    """Trials of one search in the order they started.

    `rewards[i]` is NaN for a trial that failed (raised, or returned a non-finite value);
    `metrics[i]` holds the last value of every metric the trial recorded (e.g. "latency_ms").
    """

    trial_ids: list = field(default_factory=list)
    architectures: list = field(default_factory=list)
    rewards: list = field(default_factory=list)
    statuses: list = field(default_factory=list)
    metrics: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.trial_ids)

    def best(self) -> tuple[Architecture, float]:
        """Returns (architecture, reward) of the best completed trial. Raises ValueError if none
        completed.
        """
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
            history.metrics.append(
                {name: trial.metrics.get_last_value(name) for name in trial.metrics.metrics}
            )
        return history


def run(
    evaluate: Optional[Callable[[Architecture], Union[float, Mapping[str, float]]]],
    space: Optional[SearchSpace] = None,
    algorithm: str = "ppo",
    max_trials: int = 100,
    seed: int = 0,
    directory: Optional[str] = None,
    overwrite: bool = False,
    report: bool = False,
    reward: Optional[Callable[[Mapping[str, float]], float]] = None,
    evaluation: str = "train",
    proxy_batch: Optional[tuple] = None,
    proxy_settings: Optional[TrainingSettings] = None,
    prefilter: int = 1,
    prefilter_proxy=DEFAULT_PREFILTER_PROXY,
    **oracle_kwargs,
) -> SearchHistory:
    """Searches with `evaluate(architecture) -> reward` (higher is better) as the trial.

    Args:
        evaluate: returns the reward of an Architecture, or a dict of metrics that `reward`
            turns into the reward (every metric is recorded in the trial); an exception or a
            non-finite reward records the trial as failed (no reward) and the search goes on.
        space, algorithm, max_trials, seed: see `NASOracle`.
        directory: where the search state lives; running again on the same directory resumes
            (unless `overwrite`). None: a temporary directory, removed at the end.
            TensorBoard events go to `directory`/tensorboard (see `search.monitors`).
        report: also write `directory`/report.html while the search runs and at its end
            (off by default: it builds a model per top architecture to count mult-adds).
        reward: ``reward(metrics) -> float`` for an `evaluate` that returns metrics, e.g.
            `MnasNetReward(target_ms)`.
        evaluation: "train" (default: `evaluate` is the trial) or "proxy:NAME": the reward is
            proxy NAME's score on `proxy_batch` (`evaluate` must then be None); see
            `search.evaluation`.
        proxy_batch: (images, labels) the proxies score on, for proxy evaluation or a
            prefilter by proxy.
        proxy_settings: the child network's N and F the proxies build (default
            `child.CHILD_SETTINGS`).
        prefilter: K; the algorithm proposes K architectures per trial and only the best by
            `prefilter_proxy` on `proxy_batch` is evaluated (or by `prefilter_score`, given
            among `oracle_kwargs`). See `NASOracle`.
        prefilter_proxy: a proxy name (default "naswot") or a proxy function.
        **oracle_kwargs: further `NASOracle` arguments (learning_rate, update_every,
            max_time, ...). With `max_time` the search stops starting trials once the budget
            is spent; running again with a larger one resumes.

    Returns:
        A `SearchHistory` of every trial, including those of earlier runs in `directory`.

    Raises:
        DirectoryLockedError: another process runs a search in `directory` (search/lock.py).
        RuntimeError: more consecutive failures than `max_consecutive_failed_trials`.
        TypeError: `evaluate` or `reward` is not callable, or `evaluate` returned metrics
            and no `reward` was given.
        ValueError: `max_trials` is not an int >= 1.
    """
    parsed = parse_evaluation(evaluation)
    scorer = None
    if parsed.kind == "proxy" or (prefilter != 1 and "prefilter_score" not in oracle_kwargs):
        if proxy_batch is None or len(proxy_batch) != 2:
            raise ValueError(
                f"`proxy_batch` must be (images, labels) for evaluation {str(parsed)!r} with "
                f"prefilter {prefilter!r}; received {proxy_batch!r}."
            )
        images, labels = proxy_batch
        scorer = ProxyScorer(
            parsed.argument if parsed.kind == "proxy" else prefilter_proxy,
            images,
            labels,
            classes=None,
            settings=proxy_settings,
            seed=seed,
        )
        if prefilter != 1 and "prefilter_score" not in oracle_kwargs:
            prefilter_scorer = scorer
            if parsed.kind == "proxy" and prefilter_proxy != parsed.argument:
                prefilter_scorer = ProxyScorer(
                    prefilter_proxy, images, labels, None, proxy_settings, seed
                )
            oracle_kwargs["prefilter_score"] = prefilter_scorer
    if parsed.kind == "proxy":
        if evaluate is not None:
            raise ValueError(
                f"Pass `evaluate=None` with evaluation {str(parsed)!r}: the proxy is the trial."
            )
        evaluate = scorer
    oracle_kwargs.update(evaluation=str(parsed), prefilter=prefilter)
    if not callable(evaluate):
        raise TypeError(f"`evaluate` must be callable; received {evaluate!r}.")
    if reward is not None and not callable(reward):
        raise TypeError(f"`reward` must be callable or None; received {reward!r}.")
    check_int(max_trials, "max_trials", minimum=1)  # keras-tuner reads 0 as "no limit"
    if directory is None:
        with tempfile.TemporaryDirectory(prefix="keras-nasnet-run-") as tmp:
            # Nobody reads event files or a report in a directory deleted at the end.
            return _search(
                evaluate, space, algorithm, max_trials, seed, tmp, True, [], reward, oracle_kwargs
            )
    with DirectoryLock(directory):  # one search per directory (search/lock.py)
        monitors = default_monitors(directory, report=report)
        return _search(
            evaluate,
            space,
            algorithm,
            max_trials,
            seed,
            directory,
            overwrite,
            monitors,
            reward,
            oracle_kwargs,
        )


def _search(
    evaluate,
    space,
    algorithm,
    max_trials,
    seed,
    directory,
    overwrite,
    monitors,
    reward,
    oracle_kwargs,
) -> SearchHistory:
    oracle = NASOracle(
        space=space,
        algorithm=algorithm,
        objective=_objective(),
        max_trials=max_trials,
        seed=seed,
        monitors=monitors,
        **oracle_kwargs,
    )
    oracle.verbose = 0
    open_project(oracle, directory, overwrite)
    while True:
        trial = oracle.create_trial(RUN_TUNER_ID)
        if trial.status != "RUNNING":
            break
        _evaluate_trial(oracle, trial, evaluate, reward)
        oracle.end_trial(trial)
    if oracle.out_of_time() and oracle.end_order:
        oracle.notify_final()  # the budget of trials was not reached: the time ended the search
    return SearchHistory.from_oracle(oracle)


def _objective():
    import keras_tuner

    return keras_tuner.Objective("reward", direction="max")


def open_project(oracle: NASOracle, directory: str, overwrite: bool) -> None:
    """Points `oracle` at `directory` and reloads the search saved there unless `overwrite`."""
    import shutil

    compat.set_project_dir(oracle, directory, PROJECT_NAME)
    project = os.path.join(directory, PROJECT_NAME)
    if overwrite and os.path.exists(project):
        shutil.rmtree(project)
    if os.path.exists(os.path.join(project, ORACLE_FILE)):
        oracle.reload()


class _NoRewardFunction(TypeError):
    """`evaluate` returned metrics but `run` was given no `reward`."""


def _evaluate_trial(oracle: NASOracle, trial, evaluate, reward_function=None) -> None:
    start = time.perf_counter()
    metrics = {}
    try:
        result = evaluate(oracle.architecture(trial))
        if isinstance(result, Mapping):
            if reward_function is None:
                raise _NoRewardFunction(
                    "`evaluate` returned metrics; pass `reward` to turn them into the reward."
                )
            metrics = {name: float(value) for name, value in result.items()}
            reward = float(reward_function(metrics))
        else:
            reward = float(result)
    except _NoRewardFunction:  # a wrong call, not a failed child
        raise
    except Exception:  # a failed child is a result, not the end of the search
        trial.status = FAILED
        trial.message = traceback.format_exc()
        return
    if not math.isfinite(reward):
        trial.status = FAILED
        trial.message = f"evaluate returned a non-finite reward ({reward})."
        return
    oracle.update_trial(
        trial.trial_id, {**metrics, "reward": reward, "seconds": time.perf_counter() - start}
    )
    trial.status = COMPLETED
