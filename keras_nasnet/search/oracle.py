"""`NASOracle`: the NASNet controller as a keras-tuner Oracle.

The oracle proposes one architecture per trial (one `hp.Choice` value per decision) and
learns from each trial's score when the trial ends. Everything the controller needs to go on
exactly where it stopped is saved beside keras-tuner's ``oracle.json`` each time keras-tuner
saves: the small state (baseline, buffered results, the samples still out for evaluation, the
random state) in ``nas_state.json``, the weights and Adam slots in ``controller-<updates>.npz``,
written only when a policy update changed them. Every file is replaced atomically and the JSON
names the weights file it goes with, so `overwrite=False` resumes a search after a crash without
losing or double-counting a result.

Behind a keras-tuner chief (distributed search) the oracle also watches its workers: with
`worker_timeout` set, a worker silent for that long (no create_trial, update_trial or
heartbeat) is taken for dead and its trial goes back to the queue for another worker (see
`requeue_lost_trials`), and no worker is told to stop while another one's trial could still
come back that way.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import time
from typing import Callable, Optional

import keras_tuner
import numpy as np
from keras_tuner.src.engine.oracle import synchronized
from keras_tuner.src.engine.trial import Trial, TrialStatus

from .controller import Controller
from .evolution import RegularizedEvolution
from .policy import ALGORITHMS, PolicyLearner, preset_settings
from .space import SearchSpace

STATE_FILE = "nas_state.json"
WEIGHTS_FILE = "controller-{:06d}.npz"
COMPLETED = TrialStatus.COMPLETED
FAILED = TrialStatus.FAILED
RUNNING = TrialStatus.RUNNING
IDLE = TrialStatus.IDLE


# Read once, while importing is still single-threaded: os.umask can only be read by setting it.
_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str, data: bytes) -> None:
    """Writes `data` to `path` so that a reader (or a crash) sees the old or the new file, never half."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        # mkstemp makes the file private (0600); give it the permissions open() would.
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


class NASOracle(keras_tuner.Oracle):
    """Neural Architecture Search oracle: an LSTM controller trained with PPO or REINFORCE,
    regularized evolution, or random search.

    Args:
        space: the `SearchSpace` (default: the paper's, B = 5, 14 ops, add/concat).
        algorithm: "ppo", "reinforce", "evolution" (regularized evolution, see
            `search.evolution`), or "random" (uniform over the same space: the baseline the
            paper compares with).
        objective: keras-tuner objective; its value is the reward (negated if minimized).
        max_trials: number of architectures to evaluate.
        seed: seeds the controller's weights and every sample.
        reward: optional `reward(trial) -> float | None` replacing the objective-based reward
            (None or a non-finite value: the trial teaches the controller nothing). A completed
            trial's `score` is then its reward, so `get_best_trials` and keras-tuner's
            `get_best_models` rank by what the controller maximizes; the objective's own value
            stays in `trial.metrics`.
        preset: where the settings left as None come from: "budget" (default; chosen by
            measurement for searches of 100-1,000 architectures, scaled to `max_trials`) or
            "paper" (the NASNet and AmoebaNet papers' settings); see `policy.preset_settings`.
        controller_units, temperature, tanh_constant: see `Controller`.
        learning_rate, entropy_weight, baseline_decay, update_every, clip_epsilon, ppo_epochs:
            see `PolicyLearner` (None: from `preset`).
        population_size, tournament_size: P and S of regularized evolution (None: from `preset`).
        max_retries_per_trial, max_consecutive_failed_trials: as in keras-tuner.
        worker_timeout: seconds of silence after which a distributed worker counts as dead and
            its trial is re-queued (None: never; workers of `NASTuner` send a heartbeat every
            `child.HEARTBEAT_SECONDS`, so keep it several times larger).

    Raises:
        ValueError: an unknown algorithm or a bad setting.
    """

    def __init__(
        self,
        space: Optional[SearchSpace] = None,
        algorithm: str = "ppo",
        objective="val_accuracy",
        max_trials: int = 100,
        seed: int = 0,
        reward: Optional[Callable] = None,
        preset: str = "budget",
        controller_units: int = 100,
        temperature: Optional[float] = None,
        tanh_constant: Optional[float] = None,
        learning_rate: Optional[float] = None,
        entropy_weight: Optional[float] = None,
        baseline_decay: Optional[float] = None,
        update_every: Optional[int] = None,
        clip_epsilon: Optional[float] = None,
        ppo_epochs: Optional[int] = None,
        population_size: Optional[int] = None,
        tournament_size: Optional[int] = None,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 5,
        worker_timeout: Optional[float] = None,
    ):
        space = SearchSpace() if space is None else space
        if not isinstance(space, SearchSpace):
            raise TypeError(f"`space` must be a SearchSpace; received {space!r}.")
        if algorithm not in ALGORITHMS:
            raise ValueError(f"Unknown `algorithm` {algorithm!r}; allowed: {', '.join(ALGORITHMS)}.")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"`seed` must be a non-negative int; received {seed!r}.")
        if worker_timeout is not None and not (isinstance(worker_timeout, (int, float)) and worker_timeout > 0):
            raise ValueError(f"`worker_timeout` must be a positive number of seconds or None; received {worker_timeout!r}.")
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            hyperparameters=space.hyperparameters(),
            allow_new_entries=True,
            tune_new_entries=False,
            seed=seed + 1,  # keras-tuner treats a seed of 0 as "pick one at random"
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        self.space = space
        self.algorithm = algorithm
        self.nas_seed = seed
        self.reward_function = reward
        self.learner: Optional[PolicyLearner] = None
        self.evolution: Optional[RegularizedEvolution] = None
        settings = preset_settings(preset, max_trials, algorithm)
        given = {
            "learning_rate": learning_rate, "entropy_weight": entropy_weight,
            "baseline_decay": baseline_decay, "update_every": update_every,
            "clip_epsilon": clip_epsilon, "ppo_epochs": ppo_epochs,
            "population_size": population_size, "tournament_size": tournament_size,
        }
        settings.update({k: v for k, v in given.items() if v is not None})
        self.preset = preset
        self.settings = settings  # what this search runs with, for reports and logs
        if algorithm == "random":
            self._random = np.random.default_rng([seed, 2])
        elif algorithm == "evolution":
            self.evolution = RegularizedEvolution(
                space,
                population_size=settings["population_size"],
                # The preset's S is half its own P; shrink it to fit a smaller P given here.
                tournament_size=settings["tournament_size"] if tournament_size is not None
                else min(settings["tournament_size"], settings["population_size"]),
                seed=seed,
            )
        else:
            controller = Controller(
                space, units=controller_units, temperature=temperature, tanh_constant=tanh_constant, seed=seed
            )
            learner_keys = ("learning_rate", "entropy_weight", "baseline_decay", "update_every",
                            "clip_epsilon", "ppo_epochs")
            learner_settings = {k: settings[k] for k in learner_keys}
            self.learner = PolicyLearner(controller, algorithm, **learner_settings)
        # trial_id -> {"actions", "log_prob"} for samples out for evaluation.
        self.pending: dict[str, dict] = {}
        # trial_id -> reward the controller learned from (None: failed or no reward).
        self.rewards: dict[str, Optional[float]] = {}
        # One dict of statistics per policy update (for logs, TensorBoard and reports).
        self.updates: list[dict] = []
        # The weights file the saved JSON names, as written or loaded by this process.
        self._weights_file: Optional[str] = None
        # Called as monitor(oracle, final) after each ended trial (search/monitors.py);
        # None: the defaults (TensorBoard and the HTML report), [] for none.
        self.monitors: Optional[list] = None
        self.worker_timeout = worker_timeout
        # tuner_id -> time.monotonic() of its last request (not saved: a restarted chief
        # re-queues every running trial anyway).
        self._last_seen: dict[str, float] = {}

    @property
    def controller(self) -> Optional[Controller]:
        """The controller, or None for random search."""
        return None if self.learner is None else self.learner.controller

    # -- proposing ---------------------------------------------------------------------------

    def populate_space(self, trial_id):
        extra = {}
        if self.evolution is not None:
            extra = self.evolution.propose()
            actions, log_prob = extra.pop("actions"), None
        elif self.learner is None:
            actions, log_prob = self.space.sample_uniform(self._random), None
        else:
            sample = self.controller.sample()
            actions, log_prob = sample.actions, sample.log_prob
        self.pending[trial_id] = {"actions": list(actions), "log_prob": log_prob, **extra}
        values = {d.name: d.choices[a] for d, a in zip(self.space.decisions, actions)}
        return {"status": RUNNING, "values": values}

    def architecture(self, trial):
        """Returns the Architecture a trial (or its id) evaluates."""
        if isinstance(trial, str):
            trial = self.trials[trial]
        return self.space.from_values(trial.hyperparameters.values)

    # -- learning ----------------------------------------------------------------------------

    @synchronized
    def end_trial(self, trial):
        if self._end_late_duplicate(trial):
            return
        super().end_trial(trial)
        if trial.trial_id in self._retry_queue and self.trials[trial.trial_id].status in (COMPLETED, FAILED):
            self._retry_queue.remove(trial.trial_id)  # re-queued, then ended by its first worker after all
        self._learn_from_ended_trials()
        self.save()
        self._notify_monitors()

    def _notify_monitors(self) -> None:
        from . import monitors

        if self.monitors is None:
            self.monitors = monitors.default_monitors()
        monitors.notify(self, self.monitors, final=bool(self.max_trials) and len(self.end_order) >= self.max_trials)

    def score_trial(self, trial):
        super().score_trial(trial)
        if self.reward_function is not None:
            reward = self.reward_function(trial)
            # A trial without a reward ranks last; negated for a minimized objective, whose
            # ascending ranking then still puts the highest reward first.
            score = float(reward) if reward is not None and math.isfinite(reward) else -math.inf
            trial.score = score if getattr(self.objective, "direction", "max") == "max" else -score

    def trial_reward(self, trial) -> Optional[float]:
        """Returns the reward of a completed trial: the objective, negated if it is minimized."""
        if self.reward_function is not None:
            return self.reward_function(trial)
        if trial.score is None:
            return None
        direction = getattr(self.objective, "direction", "max")
        return float(trial.score) if direction == "max" else -float(trial.score)

    def _learn_from_ended_trials(self) -> None:
        # Runs after every end_trial and after a reload, so a result whose end was saved
        # just before a crash is still learned from, once.
        ended = set(self.end_order)
        for trial_id in sorted(self.pending):
            trial = self.trials.get(trial_id)
            if trial is None or trial_id not in ended or trial.status not in (COMPLETED, FAILED):
                continue
            sample = self.pending.pop(trial_id)
            reward = self.trial_reward(trial) if trial.status == COMPLETED else None
            if reward is not None and not math.isfinite(reward):
                reward = None
            self.rewards[trial_id] = reward
            if reward is not None and self.evolution is not None:
                self.evolution.observe(sample["actions"], reward, trial_id)
            if reward is not None and self.learner is not None:
                stats = self.learner.observe(sample["actions"], sample["log_prob"], reward)
                if stats is not None:
                    stats["trial_id"] = trial_id
                    self.updates.append(stats)

    # -- workers -----------------------------------------------------------------------------

    @synchronized
    def create_trial(self, tuner_id):
        self._last_seen[tuner_id] = time.monotonic()
        if (
            self.worker_timeout is not None
            and tuner_id not in self.ongoing_trials
            and not self._retry_queue
            and self.max_trials
            and len(self.trials) >= self.max_trials
            and any(other != tuner_id for other in self.ongoing_trials)
        ):
            # The budget is spent, but another worker's trial may still be re-queued if that
            # worker dies: keep this one waiting (keras-tuner workers ask again) instead of
            # stopping it.
            return Trial(self.get_space(), status=IDLE)
        return super().create_trial(tuner_id)

    def update_trial(self, trial_id, metrics, step=0):
        # Not synchronized as a whole: a heartbeat must register while another request (a
        # controller update in end_trial) holds the lock, or a busy chief would take its
        # healthy workers for dead.
        self._mark_seen(trial_id)
        if not metrics:  # a heartbeat: the worker is alive, nothing to record
            return self.trials[trial_id]
        return self._update_trial(trial_id, metrics, step)

    @synchronized
    def _update_trial(self, trial_id, metrics, step):
        return super().update_trial(trial_id, metrics, step=step)

    def _mark_seen(self, trial_id) -> None:
        now = time.monotonic()
        for tuner_id, trial in list(self.ongoing_trials.items()):
            if trial.trial_id == trial_id:
                self._last_seen[tuner_id] = now

    @synchronized
    def get_trial(self, trial_id):
        return super().get_trial(trial_id)

    @synchronized
    def get_best_trials(self, num_trials=1):
        # Synchronized: the chief's server threads read while others end trials.
        return super().get_best_trials(num_trials)

    @synchronized
    def requeue_lost_trials(self, now: Optional[float] = None) -> list:
        """Re-queues the trials of workers silent for `worker_timeout`; returns their tuner ids.

        Re-queued rather than failed: the sample's log-probability is kept, so the next worker's
        result teaches the controller as the lost one would have, and the search keeps its
        budget of `max_trials` evaluated architectures. A worker restarted with the same id
        before the timeout gets its own trial back (keras-tuner's rule for a known tuner id).
        """
        if self.worker_timeout is None:
            return []
        now = time.monotonic() if now is None else now
        lost = []
        for tuner_id in sorted(set(self.tuner_ids) | set(self.ongoing_trials)):
            if now - self._last_seen.setdefault(tuner_id, now) <= self.worker_timeout:
                continue
            lost.append(tuner_id)
            self.tuner_ids.discard(tuner_id)
            self._last_seen.pop(tuner_id)
            trial = self.ongoing_trials.pop(tuner_id, None)
            if trial is not None and trial.trial_id not in self._retry_queue:
                self._retry_queue.append(trial.trial_id)
        if lost:
            self.save()
        return lost

    @synchronized
    def search_finished(self) -> bool:
        """Returns whether every trial of the budget ended and every worker was told to stop."""
        return (
            bool(self.max_trials)
            and len(self.trials) >= self.max_trials
            and not self.ongoing_trials
            and not self._retry_queue
            and not self.tuner_ids
        )

    def _end_late_duplicate(self, trial) -> bool:
        # A trial re-queued from a worker that was only slow can end twice; the first end
        # counts, the second only frees the worker that ran it again.
        if trial.trial_id not in self.end_order:
            return False
        for tuner_id, ongoing in list(self.ongoing_trials.items()):
            if ongoing.trial_id == trial.trial_id:
                self.ongoing_trials.pop(tuner_id)
        if trial.trial_id in self._retry_queue:
            self._retry_queue.remove(trial.trial_id)
        self.save()
        return True

    # -- state -------------------------------------------------------------------------------

    def _state_path(self) -> str:
        return os.path.join(self._project_dir, STATE_FILE)

    def nas_state(self) -> dict:
        """Returns the JSON-ready state beyond keras-tuner's own (weights: `learner.get_arrays()`)."""
        state = {
            "space": self.space.get_config(),
            "algorithm": self.algorithm,
            "seed": self.nas_seed,
            "pending": self.pending,
            "rewards": self.rewards,
            "updates": self.updates,
        }
        if self.evolution is not None:
            state["evolution"] = self.evolution.get_state()
        elif self.learner is None:
            state["random_state"] = self._random.bit_generator.state
        else:
            state["learner"] = self.learner.get_state()
            state["weights_file"] = WEIGHTS_FILE.format(self.learner.num_updates)
        return state

    def set_nas_state(self, state: dict, arrays: dict) -> None:
        """Restores `nas_state()` output. Raises ValueError if it is from a different search."""
        if state["space"] != self.space.get_config() or state["algorithm"] != self.algorithm:
            raise ValueError(
                f"This directory holds a {state['algorithm']!r} search over SearchSpace(**{state['space']}); "
                f"this oracle is a {self.algorithm!r} search over {self.space!r}. Use another directory, "
                "or overwrite=True to start over."
            )
        if self.evolution is not None:
            self.evolution.set_state(state["evolution"])
        elif self.learner is None:
            self._random.bit_generator.state = state["random_state"]
        else:
            self.learner.set_state(state["learner"], arrays)
        self.pending = dict(state["pending"])
        self.rewards = dict(state["rewards"])
        self.updates = list(state["updates"])

    def save(self):
        state = self.nas_state()
        written = None
        if self.learner is not None and state["weights_file"] != self._weights_file:
            # Always (re)write a weights file this process has not written or loaded itself: a
            # file of that name left by a crash between it and the JSON may hold other weights.
            buffer = io.BytesIO()
            np.savez(buffer, **self.learner.get_arrays())
            atomic_write(os.path.join(self._project_dir, state["weights_file"]), buffer.getvalue())
            written = state["weights_file"]
        atomic_write(self._state_path(), json.dumps(state).encode("utf-8"))
        # keras-tuner's own writer is not atomic; a kill mid-write would corrupt oracle.json.
        atomic_write(self._get_oracle_fname(), json.dumps(self.get_state()).encode("utf-8"))
        if written is not None:  # only now does the JSON point at it
            self._weights_file = written
            self._remove_stale_weights(written)

    def _remove_stale_weights(self, current: str) -> None:
        for name in os.listdir(self._project_dir):
            if name.startswith("controller-") and name.endswith(".npz") and name != current:
                os.remove(os.path.join(self._project_dir, name))

    def reload(self):
        super().reload()
        path = self._state_path()
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                state = json.load(f)
            arrays = {}
            if state.get("weights_file"):
                with np.load(os.path.join(self._project_dir, state["weights_file"])) as data:
                    arrays = {k: data[k] for k in data.files}
            self.set_nas_state(state, arrays)
            self._weights_file = state.get("weights_file")
        self._learn_from_ended_trials()

    def _save_trial(self, trial):
        path = os.path.join(self._get_trial_dir(trial.trial_id), "trial.json")
        atomic_write(path, json.dumps(trial.get_state()).encode("utf-8"))
