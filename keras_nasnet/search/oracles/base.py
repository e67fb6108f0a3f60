"""`ProposerOracle`: a keras-tuner Oracle that delegates proposing and learning to a proposer.

The oracle asks its proposer (random search, regularized evolution, the LSTM controller; see
`search.proposers`) for one point of the space per trial and tells it each trial's reward when
the trial ends. Everything the proposer needs to go on exactly where it stopped is saved beside
keras-tuner's ``oracle.json`` each time keras-tuner saves: the small state (buffered results, the
points still out for evaluation, random states) in ``nas_state.json``, weights and optimizer
slots in ``controller-<version>.npz``, written only when they changed. Every file is replaced
atomically and the JSON names the weights file it goes with, so `overwrite=False` resumes a
search after a crash without losing or double-counting a result.

The space is any keras-tuner `HyperParameters` space (see `spaces.decisions`), taken from the
hyperparameters the hypermodel declares before the first trial, or given by a subclass.

Behind a keras-tuner chief (distributed search) the oracle also watches its workers: with
`worker_timeout` set, a worker silent for that long (no create_trial, update_trial or
heartbeat) is taken for dead and its trial goes back to the queue for another worker (see
`requeue_lost_trials`), and no worker is told to stop while another one's trial could still
come back that way.

The oracle only proposes and learns: what a running search writes besides its state
(TensorBoard events, reports) comes from the `monitors` it is given, called after each ended
trial once the oracle's lock is released, so a slow report never delays a worker's request.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import threading
import time
from typing import Callable, Optional, Sequence

import keras_tuner
import numpy as np
from keras_tuner.engine.trial import Trial, TrialStatus

from ... import compat
from ...compat import synchronized
from ...validation import check_int, check_positive
from ..clock import Stopwatch, parse_duration
from ..proposers.base import Proposal, Proposer
from ..spaces.decisions import DecisionSpace
from ..state import (
    NAS_STATE_FIELDS,
    STATE_FILE,
    TRIAL_FILE,
    WEIGHTS_FILE,
    CorruptStateError,
    atomic_write,
    check_fields,
    read_json_object,
    verify_search_state,
)

COMPLETED = TrialStatus.COMPLETED
FAILED = TrialStatus.FAILED
RUNNING = TrialStatus.RUNNING
IDLE = TrialStatus.IDLE
STOPPED = TrialStatus.STOPPED
ENDED = (COMPLETED, FAILED)

logger = logging.getLogger("keras_nasnet.search")


class StateWriteError(OSError):
    """A file of the search state could not be written; the message says what the disk holds."""


class ProposerOracle(keras_tuner.Oracle):
    """A keras-tuner Oracle whose trials a `Proposer` proposes and learns from.

    Subclasses say which proposer (`make_proposer`); `EvolutionOracle`, `ControllerOracle`,
    `RandomOracle` and `NASOracle` are the ones the package ships.

    Args:
        objective, max_trials, hyperparameters, allow_new_entries, tune_new_entries,
            max_retries_per_trial, max_consecutive_failed_trials: as in `keras_tuner.Oracle`.
            Hyperparameters the proposer's space does not hold (declared after the first
            proposal, or beyond a subclass's fixed space) are drawn at random from their
            declared space and recorded with each trial; `tune_new_entries=False` leaves them
            at their defaults.
        seed: seeds the proposer and every draw (None: one drawn at random, then saved).
        space: the `DecisionSpace` to search (None: every tunable hyperparameter known when
            the first trial is proposed).
        reward: optional `reward(trial) -> float | None` replacing the objective-based reward
            (None or a non-finite value: the trial teaches the proposer nothing). A completed
            trial's `score` is then its reward, so `get_best_trials` and keras-tuner's
            `get_best_models` rank by what the proposer maximizes; the objective's own value
            stays in `trial.metrics`.
        allow_duplicates: False (default): a proposal whose values an earlier trial already
            holds is proposed again, up to `max_collisions` times, as keras-tuner's own oracles
            do; True: evaluated again (for noisy evaluations, as AmoebaNet does).
        max_collisions: proposals tried per trial before a duplicate is accepted.
        worker_timeout: seconds of silence after which a distributed worker counts as dead and
            its trial is re-queued (None: never; workers of `NASTuner` send a heartbeat every
            `child.HEARTBEAT_SECONDS`, so keep it several times larger).
        monitors: callables ``monitor(oracle, final)`` run after each ended trial, outside the
            oracle's lock and one at a time (``final``: the last trial of `max_trials` ended);
            a monitor that raises is logged and skipped. See `search.monitors`.
        prefilter: K; each trial, the proposer proposes K points and only the one
            `prefilter_score` ranks highest is evaluated (1: no prefilter). A learning
            proposer is given the log-probability of that point under the policy that sampled
            it, as if it had been the only sample: the filter makes the search off-policy,
            which PPO's clip bounds; evolution's population gets the evaluated child.
        prefilter_score: ``score(point) -> float`` (a point: see `point`), required when
            `prefilter` > 1; ties go to the earliest proposal.
        max_time: wall-clock budget of the search in seconds (a number or a string such as
            "10m", see `clock.parse_duration`; None: none). Once spent, no new trial starts;
            running ones finish. The time is accumulated over every run on the same directory
            (saved with the state), so running again with a larger budget resumes.
        clock: a monotonic ``clock() -> seconds`` (tests give a fake one).
        recipe: a JSON-ready dict of what a reward depends on beyond the proposed point (the
            child's training settings, its data, the reward's parameters; None: nothing to
            record). Saved with the state; a search resumed with another recipe is refused
            (its rewards would not compare with the saved ones). States saved without one
            resume under any.

    Raises:
        ValueError: a bad setting.
        TypeError: `monitors` is not a sequence of callables, or `space` not a DecisionSpace.
    """

    algorithm = "proposer"

    def __init__(
        self,
        objective=None,
        max_trials: Optional[int] = None,
        seed: Optional[int] = None,
        hyperparameters=None,
        allow_new_entries: bool = True,
        tune_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        *,
        space: Optional[DecisionSpace] = None,
        reward: Optional[Callable] = None,
        allow_duplicates: bool = False,
        max_collisions: int = 20,
        worker_timeout: Optional[float] = None,
        monitors: Optional[Sequence[Callable]] = None,
        prefilter: int = 1,
        prefilter_score: Optional[Callable] = None,
        max_time=None,
        clock: Callable[[], float] = time.monotonic,
        recipe: Optional[dict] = None,
    ):
        # keras-tuner reads a max_trials of 0 as "no limit": only None says that here.
        check_int(max_trials, "max_trials", minimum=1, allow_none=True)
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31 - 1))
        seed = check_int(seed, "seed", minimum=0)
        if space is not None and not isinstance(space, DecisionSpace):
            raise TypeError(f"`space` must be a DecisionSpace or None; received {space!r}.")
        prefilter = check_int(prefilter, "prefilter", minimum=1)
        if prefilter > 1 and not callable(prefilter_score):
            raise ValueError(
                f"`prefilter` {prefilter} needs `prefilter_score`, a function scoring a "
                f"point of the space; received {prefilter_score!r}."
            )
        if monitors is not None and (
            isinstance(monitors, (str, bytes)) or not all(callable(m) for m in monitors)
        ):
            raise TypeError(
                f"`monitors` must be a list of callables monitor(oracle, final) or None; "
                f"received {monitors!r}."
            )
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            hyperparameters=hyperparameters,
            allow_new_entries=allow_new_entries,
            tune_new_entries=bool(tune_new_entries),
            seed=seed + 1,  # keras-tuner treats a seed of 0 as "pick one at random"
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        self.nas_seed = seed
        self.reward_function = reward
        self.allow_duplicates = bool(allow_duplicates)
        self.max_collisions = check_int(max_collisions, "max_collisions", minimum=1)
        self.prefilter = prefilter
        self.prefilter_score = prefilter_score
        self.max_time = parse_duration(max_time, "max_time")
        self.worker_timeout = check_positive(worker_timeout, "worker_timeout", allow_none=True)
        self._stopwatch = Stopwatch(clock)
        self.recipe = _json_ready(recipe, "recipe")
        self._space = space
        self._fixed_space = space is not None
        self._proposer: Optional[Proposer] = None
        # What this search runs with, for reports and logs (subclasses add their settings).
        self.settings: dict = {"prefilter": prefilter, "max_time": self.max_time}
        # trial_id -> {"actions", ...the proposal's info} for points out for evaluation.
        self.pending: dict[str, dict] = {}
        # trial_id -> reward the proposer learned from (None: failed or no reward).
        self.rewards: dict[str, Optional[float]] = {}
        # One dict of statistics per learning step (for logs, TensorBoard and reports).
        self.updates: list[dict] = []
        # The weights file the saved JSON names, as written or loaded by this process.
        self._weights_file: Optional[str] = None
        # Called as monitor(oracle, final) after each ended trial, outside the oracle's lock;
        # None: not given (NASTuner then gives its defaults), and the oracle runs none.
        self.monitors: Optional[list] = None if monitors is None else list(monitors)
        # One monitor call at a time, but never while holding the oracle's lock.
        self._monitor_lock = threading.Lock()
        # Draws the values of hyperparameters beyond the space (saved with the state).
        self._extra_random = np.random.default_rng([seed, 3])
        # Set while end_trial writes, so a failed trial.json still lets oracle.json record the end.
        self._ending = False
        self._trial_write_error: Optional[StateWriteError] = None
        # tuner_id -> time.monotonic() of its last request (not saved: a restarted chief
        # re-queues every running trial anyway).
        self._last_seen: dict[str, float] = {}

    # -- the space and the proposer ----------------------------------------------------------

    def make_proposer(self, space: DecisionSpace) -> Proposer:
        """Returns the proposer of this oracle over `space` (subclasses implement it)."""
        raise NotImplementedError

    @property
    def space(self) -> DecisionSpace:
        """Returns the space searched (see `decision_space`)."""
        return self.decision_space

    @property
    def decision_space(self) -> DecisionSpace:
        """Returns the space searched: the given one, or the tunable hyperparameters declared
        when the first trial was proposed, and those declared since where the proposer can
        take them (evolution and random search can; the controller keeps its decisions and
        the others are drawn at random).

        Raises:
            ValueError: no tunable hyperparameter is declared yet.
        """
        if self._space is None:
            self._space = DecisionSpace(self.hyperparameters)
        return self._space

    @property
    def proposer(self) -> Proposer:
        """Returns the proposer, made over `space` on first use."""
        if self._proposer is None:
            self._proposer = self.make_proposer(self.decision_space)
        return self._proposer

    @synchronized
    def update_space(self, hyperparameters):
        super().update_space(hyperparameters)
        if self._proposer is None or self._fixed_space or not self._proposer.can_extend:
            return
        grown = DecisionSpace(self.hyperparameters)
        if grown.names[: len(self.decision_space)] != self.decision_space.names or len(
            grown
        ) == len(self.decision_space):
            return
        added = grown.dimensions[len(self.decision_space) :]
        self._proposer.extend(grown)
        for sample in self.pending.values():
            sample["actions"] = list(sample["actions"]) + [d.placeholder for d in added]
        self._space = grown

    def point(self, values: dict):
        """Returns what `prefilter_score` and users score: the hyperparameter values (a NASNet
        search: the Architecture)."""
        return values

    # -- proposing ---------------------------------------------------------------------------

    def elapsed(self) -> float:
        """Returns the seconds this search has run, earlier runs on its directory included."""
        return self._stopwatch.elapsed()

    def out_of_time(self) -> bool:
        """Returns whether `max_time` is set and spent (no new trial starts)."""
        return self._stopwatch.spent(self.max_time)

    def _out_of_budget(self) -> bool:
        spent_trials = bool(self.max_trials) and len(self.trials) >= self.max_trials
        return spent_trials or self.out_of_time()

    def _values_key(self, values) -> str:
        names = {d.name for d in self.decision_space.dimensions}
        return json.dumps(sorted((k, v) for k, v in values.items() if k in names), default=str)

    def _new_proposal(self, seen: set) -> Proposal:
        # A proposal no earlier trial holds, unless `max_collisions` proposals all were.
        for _ in range(self.max_collisions):
            proposal = self.proposer.propose()
            key = self._values_key(self.decision_space.decode(proposal.actions))
            if self.allow_duplicates or key not in seen:
                break
        seen.add(key)
        return proposal

    def _prefiltered_proposal(self) -> Proposal:
        seen = {self._values_key(t.hyperparameters.values) for t in self.trials.values()}
        seen |= {
            self._values_key(self.decision_space.decode(p["actions"]))
            for p in self.pending.values()
        }
        candidates = [self._new_proposal(seen) for _ in range(self.prefilter)]
        if self.prefilter == 1:
            return candidates[0]
        scores = []
        for candidate in candidates:
            try:
                point = self.point(self.decision_space.decode(candidate.actions))
                score = float(self.prefilter_score(point))
            except Exception:  # a candidate the proxy cannot score ranks last, others go on
                logger.exception("keras-nasnet: the prefilter could not score a candidate.")
                score = -math.inf
            scores.append(score if math.isfinite(score) else -math.inf)
        chosen = int(np.argmax(scores))  # the first of equal scores
        if all(s == -math.inf for s in scores):
            chosen = 0
        saved = [s if math.isfinite(s) else None for s in scores]  # strict JSON has no inf
        proposal = candidates[chosen]
        return Proposal(
            proposal.actions, {**proposal.info, "prefilter": {"scores": saved, "chosen": chosen}}
        )

    def populate_space(self, trial_id):
        if self.out_of_time():
            return {"status": STOPPED}
        self.proposer  # noqa: B018 (made now, over the space declared so far)
        proposal = self._prefiltered_proposal()
        self.pending[trial_id] = {"actions": list(proposal.actions), **proposal.info}
        values = self.decision_space.decode(proposal.actions)
        return {"status": RUNNING, "values": self._with_extra_values(values)}

    def _with_extra_values(self, values: dict) -> dict:
        # The hypermodel's hyperparameters beyond the space: keras-tuner's random sampling of
        # each active one, seeded from this oracle's own generator.
        hps = keras_tuner.HyperParameters()
        for hp in self.hyperparameters.space:
            hps.merge([hp])
            if hp.name in values:
                hps.values[hp.name] = values[hp.name]
            elif hps.is_active(hp):
                hps.values[hp.name] = hp.random_sample(int(self._extra_random.integers(2**31)))
        return {name: value for name, value in hps.values.items() if hps.is_active(name)}

    # -- learning ----------------------------------------------------------------------------

    def end_trial(self, trial):
        """Records the end of `trial` and learns from it, then runs the monitors (unlocked).

        Raises:
            StateWriteError: a state file could not be written (disk full, read-only): the
                end is recorded in memory and in every file that could be written, and a
                resumed search does not train the trial again.
        """
        final = self._end_trial(trial)
        if final is not None:
            self._notify_monitors(final)

    @synchronized
    def _end_trial(self, trial) -> Optional[bool]:
        # Returns whether the last trial of the budget has ended (None: a late duplicate).
        if self._end_late_duplicate(trial):
            return None
        self._ending, self._trial_write_error = True, None
        try:
            super().end_trial(trial)
        except StateWriteError:
            self._settle_unsaved_end(trial.trial_id)
            raise
        finally:
            self._ending = False
        queue = compat.retry_queue(self)
        if trial.trial_id in queue and self.trials[trial.trial_id].status in ENDED:
            queue.remove(trial.trial_id)  # re-queued, then ended by its first worker after all
        self._learn_from_ended_trials()
        self.save()
        if self._trial_write_error is not None:
            raise self._trial_write_error
        return bool(self.max_trials) and len(self.end_order) >= self.max_trials

    def _settle_unsaved_end(self, trial_id: str) -> None:
        # keras-tuner frees the worker only after saving: free it anyway, and learn in memory,
        # so a chief that goes on serving other workers stays consistent.
        for tuner_id, ongoing in list(self.ongoing_trials.items()):
            if ongoing.trial_id == trial_id:
                self.ongoing_trials.pop(tuner_id)
        self._learn_from_ended_trials()

    def notify_final(self) -> None:
        """Runs the monitors as after the search's last trial (e.g. when `max_time` ended it
        before `max_trials`), so the final report is written."""
        self._notify_monitors(True)

    def _notify_monitors(self, final: bool) -> None:
        if not self.monitors:
            return
        with self._monitor_lock:
            for monitor in self.monitors:
                try:
                    monitor(self, final)
                except Exception:  # a report or an event file is not worth a search
                    name = getattr(monitor, "__name__", type(monitor).__name__)
                    logger.exception("keras-nasnet: monitor %s failed; the search goes on.", name)

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
            if reward is None:
                continue
            stats = self.proposer.observe(sample["actions"], sample, reward, trial_id)
            if stats is not None:
                self.updates.append(stats)

    # -- workers -----------------------------------------------------------------------------

    @synchronized
    def create_trial(self, tuner_id):
        self._last_seen[tuner_id] = time.monotonic()
        if (
            self.worker_timeout is not None
            and tuner_id not in self.ongoing_trials
            and not compat.retry_queue(self)
            and self._out_of_budget()
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
            if trial is not None and trial.trial_id not in compat.retry_queue(self):
                compat.retry_queue(self).append(trial.trial_id)
        if lost:
            self.save()
        return lost

    @synchronized
    def search_finished(self) -> bool:
        """Returns whether every trial of the budget ended and every worker was told to stop."""
        return (
            self._out_of_budget()
            and not self.ongoing_trials
            and not compat.retry_queue(self)
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
        if trial.trial_id in compat.retry_queue(self):
            compat.retry_queue(self).remove(trial.trial_id)
        self.save()
        return True

    # -- state -------------------------------------------------------------------------------

    def _state_path(self) -> str:
        return os.path.join(compat.project_dir(self), STATE_FILE)

    def space_config(self):
        """Returns the JSON-ready description of the space a saved search is checked against."""
        return self.decision_space.get_config()

    def nas_state(self) -> dict:
        """Returns the JSON-ready state beyond keras-tuner's own (arrays:
        `proposer.get_arrays()`)."""
        state = {
            "algorithm": self.algorithm,
            "seed": self.nas_seed,
            "pending": self.pending,
            "rewards": self.rewards,
            "updates": self.updates,
            "extra_random_state": self._extra_random.bit_generator.state,
            "elapsed_seconds": self.elapsed(),
            "space": None,
            "recipe": self.recipe,
        }
        if self._proposer is not None or self._fixed_space:
            state["space"] = self.space_config()
            state.update(self.proposer.get_state())
            version = self.proposer.arrays_version
            if version is not None:
                state["weights_file"] = WEIGHTS_FILE.format(version)
        return state

    def check_saved_state(self, state: dict) -> None:
        """Raises ValueError if `state` is from a different search than this oracle's."""
        if state["space"] is not None and not self._fixed_space:
            # The dimensions it searched, as declared again by the restored hyperparameters.
            names = [d.get("name") for d in state["space"] if isinstance(d, dict)]
            self._space = DecisionSpace(self.hyperparameters, include=names)
        if state["algorithm"] != self.algorithm or (
            state["space"] is not None and state["space"] != self.space_config()
        ):
            ours = self.space_config() if state["space"] is not None else "its hyperparameters"
            raise ValueError(
                f"This directory holds a {state['algorithm']!r} search over {state['space']}; "
                f"this oracle is a {self.algorithm!r} search over {ours}. Use another "
                "directory, or overwrite=True to start over."
            )
        saved_recipe = state.get("recipe")  # absent from states saved before it existed
        if saved_recipe is not None and self.recipe is not None and saved_recipe != self.recipe:
            raise ValueError(
                "This directory holds a search whose rewards came from another recipe: "
                f"{recipe_difference(saved_recipe, self.recipe)}. Its rewards would not "
                "compare with this run's. Resume with the same settings, use another "
                "directory, or overwrite=True to start over."
            )

    def set_nas_state(self, state: dict, arrays: dict) -> None:
        """Restores `nas_state()` output. Raises ValueError if it is from a different search."""
        self.check_saved_state(state)
        if state["space"] is not None:
            self.proposer.set_state(state, arrays)
        if "extra_random_state" in state:  # absent from states saved before it existed
            self._extra_random.bit_generator.state = state["extra_random_state"]
        self.pending = dict(state["pending"])
        self.rewards = dict(state["rewards"])
        self.updates = list(state["updates"])
        self._stopwatch.restore(state.get("elapsed_seconds", 0.0))

    def _write(self, path: str, data: bytes) -> None:
        try:
            atomic_write(path, data)
        except OSError as error:
            raise StateWriteError(
                error.errno,
                f"keras-nasnet could not write {path} ({error.strerror or error}). What the other "
                "state files hold stays true: a trial recorded as ended in any of them is not "
                "trained again when the search resumes. Free space or make the directory "
                "writable, then run the same search again to resume it",
                path,
            ) from error

    def save(self):
        """Writes the oracle's state (atomically, file by file).

        Raises:
            StateWriteError: a file could not be written; the message names it.
        """
        project = compat.project_dir(self)
        state = self.nas_state()
        written = None
        if state.get("weights_file") not in (None, self._weights_file):
            # Always (re)write a weights file this process has not written or loaded itself: a
            # file of that name left by a crash between it and the JSON may hold other weights.
            buffer = io.BytesIO()
            np.savez(buffer, **self.proposer.get_arrays())
            self._write(os.path.join(project, state["weights_file"]), buffer.getvalue())
            written = state["weights_file"]
        self._write(self._state_path(), json.dumps(state).encode("utf-8"))
        # keras-tuner's own writer is not atomic; a kill mid-write would corrupt oracle.json.
        self._write(compat.oracle_file(self), json.dumps(self.get_state()).encode("utf-8"))
        if written is not None:  # only now does the JSON point at it
            self._weights_file = written
            self._remove_stale_weights(written)

    def _remove_stale_weights(self, current: str) -> None:
        project = compat.project_dir(self)
        for name in os.listdir(project):
            if name.startswith("controller-") and name.endswith(".npz") and name != current:
                os.remove(os.path.join(project, name))

    def reload(self):
        """Restores the search saved in the project directory (keras-tuner's and ours).

        Raises:
            ValueError: the directory holds a search over another space or algorithm, or a
                state file of the wrong shape (the message names it).
        """
        # Names a truncated, missing or wrong-shaped file before keras-tuner reads one.
        verify_search_state(compat.project_dir(self))
        super().reload()
        path = self._state_path()
        if os.path.exists(path):
            state = read_json_object(path, "controller state", NAS_STATE_FIELDS)
            arrays = {}
            if state.get("weights_file"):
                weights = os.path.join(compat.project_dir(self), state["weights_file"])
                with np.load(weights) as data:
                    arrays = {k: data[k] for k in data.files}
            self.check_saved_state(state)  # another search: refused as such, not as corrupt
            if state["space"] is not None:
                check_fields(state, self.proposer.STATE_FIELDS, path, "controller state")
            try:
                self.set_nas_state(state, arrays)
            except (KeyError, TypeError, IndexError, AttributeError) as error:
                # What the declared shape cannot see, e.g. a random generator's state that
                # numpy refuses.
                raise CorruptStateError(
                    f"The controller state file {path!r} is of the wrong shape "
                    f"({type(error).__name__}: {error}); restore it from a copy, or start the "
                    "search over (--overwrite / overwrite=True)."
                ) from error
            self._weights_file = state.get("weights_file")
        before = (list(self.end_order), len(self.pending))
        self._settle_unstarted_trials()
        self._settle_ended_trials()
        self._learn_from_ended_trials()
        if (list(self.end_order), len(self.pending)) != before:
            self.save()  # what was learned from the ended trials, before anything else runs

    def _settle_unstarted_trials(self) -> None:
        # A kill inside create_trial, after trial.json was written but before oracle.json, leaves
        # a trial keras-tuner reloads but never started. If nas_state.json already holds its
        # proposal (the algorithm's random state has moved past it), it runs as proposed, like
        # a re-queued trial; otherwise it is forgotten and proposed again from the same state.
        # Either way the resumed search is the one that was never killed.
        started = set(self.start_order)
        queue = compat.retry_queue(self)
        for trial_id in sorted(set(self.trials) - started):
            if trial_id in self.pending:
                self.start_order.append(trial_id)
                queue.append(trial_id)
                continue
            del self.trials[trial_id]
            path = os.path.join(compat.trial_dir(self, trial_id), TRIAL_FILE)
            if os.path.exists(path):
                os.remove(path)

    def _settle_ended_trials(self) -> None:
        # keras-tuner re-queues every trial oracle.json lists as running. One whose end reached
        # another file before a write failed (trial.json says COMPLETED or FAILED, or oracle.json
        # lists it as ended) has ended: it must not be trained again.
        queue = compat.retry_queue(self)
        for trial_id in list(queue):
            trial = self.trials.get(trial_id)
            if trial is not None and (trial.status in ENDED or trial_id in self.end_order):
                queue.remove(trial_id)
                if trial_id not in self.end_order:
                    self.end_order.append(trial_id)
        for trial_id in self.end_order:
            trial = self.trials.get(trial_id)
            if trial is not None and trial.status == RUNNING:  # trial.json missed its end
                trial.status = FAILED
                trial.message = (
                    "Its result was lost: trial.json could not be written when it ended."
                )

    def _save_trial(self, trial):
        # Overrides keras-tuner's writer (compat.TRIAL_WRITER), which is not atomic.
        path = os.path.join(compat.trial_dir(self, trial.trial_id), TRIAL_FILE)
        try:
            self._write(path, json.dumps(trial.get_state()).encode("utf-8"))
        except StateWriteError as error:
            if not self._ending:
                raise
            # Raised once end_trial has also tried oracle.json, which records the end.
            self._trial_write_error = error


def _json_ready(recipe: Optional[dict], name: str) -> Optional[dict]:
    # Compared with the saved state after a JSON round trip: tuples become lists there.
    if recipe is None:
        return None
    if not isinstance(recipe, dict):
        raise TypeError(f"`{name}` must be a dict or None; received {recipe!r}.")
    try:
        return json.loads(json.dumps(recipe))
    except (TypeError, ValueError) as error:
        raise TypeError(f"`{name}` must be JSON-ready ({error}); received {recipe!r}.") from None


def with_caller_recipe(recipe: dict, oracle_kwargs: dict) -> dict:
    """Returns `recipe` (what a search function records) with the caller's own `recipe`, popped
    from `oracle_kwargs`, under "caller": both are checked on a resume."""
    caller = oracle_kwargs.pop("recipe", None)
    return recipe if caller is None else {**recipe, "caller": caller}


def recipe_difference(saved: dict, current: dict, prefix: str = "") -> str:
    """Returns the entries in which two recipes differ, as "key: SAVED saved, CURRENT now"
    joined by "; " (nested dicts by dotted keys; an entry one of them lacks: "none")."""
    differences = []
    for key in sorted(set(saved) | set(current), key=str):
        old, new = saved.get(key, _ABSENT), current.get(key, _ABSENT)
        name = f"{prefix}{key}"
        if isinstance(old, dict) and isinstance(new, dict):
            if old != new:
                differences.append(recipe_difference(old, new, f"{name}."))
        elif old != new:
            differences.append(f"{name}: {_entry(old)} saved, {_entry(new)} now")
    return "; ".join(differences)


_ABSENT = object()


def _entry(value) -> str:
    return "none" if value is _ABSENT else repr(value)
