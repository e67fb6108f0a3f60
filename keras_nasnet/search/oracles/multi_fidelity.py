"""Multi-fidelity search: successive halving and Hyperband brackets over candidates a proposer
proposes, in keras-tuner's style.

    oracle = SuccessiveHalvingOracle(
        proposer="evolution", min_fidelity=1, max_fidelity=27, eta=3,
        objective="val_accuracy", seed=0,
    )
    tuner = MultiFidelityTuner(oracle=oracle, hypermodel=build_model, directory="runs")
    tuner.search(x, y, validation_data=(x_val, y_val))

Each rung of a bracket (`evaluators.fidelities`) is one keras-tuner trial per candidate. A new
candidate comes from the proposer (random, regularized evolution, or the controller with PPO
or REINFORCE) and is trained to its bracket's lowest fidelity; the best of a rung are
promoted: a promoted trial holds its parent's values plus keras-tuner Hyperband's own
``tuner/epochs`` (the fidelity to reach), ``tuner/initial_epoch`` (the parent's) and
``tuner/trial_id`` (the parent trial), so a Tuner that honours them, as keras-tuner's
`Hyperband` tuner does and `MultiFidelityTuner` does for this oracle, continues the parent's
checkpoint instead of training from scratch.

What the proposer learns from: each new candidate once, with its result at its bracket's
first rung, as the mid-rank of that result among the first-rung results at the same fidelity
so far (`proposers.ranks.rank_reward`). Every candidate of a first rung is trained the same
way and drawn the same way (fresh proposals, before any selection), so a rank there means the
same thing in every bracket, whereas the raw results of Hyperband's brackets (1 epoch, 27
epochs) are not on one scale, and the results of later rungs are those of survivors only.
The later rungs decide promotion and the best candidate, not what the proposer learns.

A promotion never waits for a whole rung when it need not: a candidate is promoted as soon as
no result still to come can push it out of its rung's top k (the same candidates synchronous
successive halving would promote), so several workers stay busy. A failed trial is never
promoted, and a rung with failures promotes the completed candidates it has.
"""

from __future__ import annotations

import math
from typing import Optional

import keras_tuner

from ... import compat
from ...compat import synchronized
from ...validation import check_choice, check_int
from ..evaluators.fidelities import FidelitySchedule, hyperband
from ..proposers.evolution import RegularizedEvolution
from ..proposers.presets import (
    ALGORITHMS,
    EVOLUTION_SETTINGS,
    LEARNER_SETTINGS,
    PRESETS,
    resolve_settings,
)
from ..proposers.ranks import rank_reward
from ..proposers.registry import make_proposer
from ..spaces.nasnet_cells import SearchSpace
from ..state import NULL, NUMBER, CorruptStateError, Field, check_fields
from .base import COMPLETED, FAILED, IDLE, RUNNING, STOPPED, ProposerOracle
from .nasnet import CellPoints

__all__ = [
    "BRACKET",
    "EPOCHS",
    "INITIAL_EPOCH",
    "PARENT_TRIAL",
    "ROUND",
    "MultiFidelityTuner",
    "NASSuccessiveHalvingOracle",
    "SuccessiveHalvingOracle",
]

# keras-tuner Hyperband's names for the values that carry the fidelity to the Tuner.
EPOCHS = "tuner/epochs"
INITIAL_EPOCH = "tuner/initial_epoch"
PARENT_TRIAL = "tuner/trial_id"
BRACKET = "tuner/bracket"
ROUND = "tuner/round"

CONTROLLER_OPTIONS = ("units", "temperature", "tanh_constant")
PROPOSER_SETTINGS = LEARNER_SETTINGS + EVOLUTION_SETTINGS + CONTROLLER_OPTIONS

_ENTRY = Field(
    (dict,),
    "a rung entry",
    fields={
        "id": Field((str,), "a trial id"),
        "parent": Field((str, NULL), "a trial id or null"),
    },
)
STATE_FIELDS = {
    "multi_fidelity": Field(
        (dict,),
        "the multi-fidelity state",
        fields={
            "schedule": Field((dict,), "a fidelity schedule's config"),
            "brackets": Field(
                (list,),
                "a list of brackets",
                items=Field(
                    (dict,),
                    "a bracket",
                    fields={
                        "index": Field((int,), "a bracket's index in the schedule"),
                        "rungs": Field(
                            (list,), "a list of rungs", items=Field((list,), "a rung", items=_ENTRY)
                        ),
                    },
                ),
            ),
            "first_rung_rewards": Field(
                (dict,),
                "first-rung rewards by fidelity",
                items=Field((list,), "a list of rewards", items=Field(NUMBER, "a number")),
            ),
            "learned": Field(
                (dict,), "learned rewards by trial id", items=Field(NUMBER, "a number")
            ),
        },
    )
}


class SuccessiveHalvingOracle(ProposerOracle):
    """Successive halving (`brackets=1`) or Hyperband (`brackets=None`) over candidates that a
    proposer proposes, any keras-tuner space.

    Args:
        proposer: "evolution", "ppo", "reinforce" or "random": who proposes the new
            candidates of each bracket.
        min_fidelity, max_fidelity, eta: the schedule (`fidelities.hyperband`), in whole
            training units the hypermodel reads from ``tuner/epochs`` (epochs, or epochs of a
            fixed number of steps).
        brackets: how many of Hyperband's brackets, the most aggressive first (1: successive
            halving from `min_fidelity`; None: all of them).
        iterations: passes over the brackets (None: until `max_trials` or `max_time`).
        preset: "budget" (default) or "paper": the proposer's settings left unset, scaled to
            the new candidates the schedule plans.
        proposer_settings: the proposer's settings: population_size, tournament_size
            (evolution), learning_rate, entropy_weight, baseline_decay, update_every,
            clip_epsilon, ppo_epochs, units, temperature, tanh_constant (controller).
        **kwargs: keras-tuner's and `ProposerOracle`'s arguments (objective, max_trials, seed,
            hyperparameters, reward, max_time, monitors, ...). `max_trials` counts trials,
            one per candidate and rung.

    A Tuner must honour ``tuner/epochs``, ``tuner/initial_epoch`` and ``tuner/trial_id`` for a
    promoted candidate to continue its training: `MultiFidelityTuner` does; the stock
    `keras_tuner.Tuner` ignores them.

    Raises:
        ValueError: a bad setting (an unknown proposer, preset or proposer setting, a bad
            schedule, or no bound at all: `iterations`, `max_trials` and `max_time` all None).
        TypeError: `proposer_settings` is not a dict.
    """

    def __init__(
        self,
        proposer: str = "evolution",
        min_fidelity: int = 1,
        max_fidelity: int = 27,
        eta: int = 3,
        brackets: Optional[int] = 1,
        iterations: Optional[int] = 1,
        preset: str = "budget",
        proposer_settings: Optional[dict] = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_choice(proposer, "proposer", ALGORITHMS)
        check_choice(preset, "preset", PRESETS)
        self.schedule: FidelitySchedule = hyperband(min_fidelity, max_fidelity, eta, brackets)
        self.iterations = check_int(iterations, "iterations", minimum=1, allow_none=True)
        if self.iterations is None and not self.max_trials and self.max_time is None:
            raise ValueError(
                "`iterations` is None, so `max_trials` or `max_time` must bound the search; "
                "received neither."
            )
        options = self._check_proposer_settings(proposer_settings)
        self.proposer_name = proposer
        self.algorithm = f"successive-halving/{proposer}"
        budget = self.planned_candidates()
        given = {k: options.get(k) for k in LEARNER_SETTINGS + EVOLUTION_SETTINGS}
        if given["update_every"] is None and preset == "budget":
            # As ControllerOracle: a policy update every 1/40 of the proposals (1 to 20).
            given["update_every"] = max(1, min(20, (budget or 1000) // 40))
        settings = resolve_settings(preset, budget, proposer, **given)
        RegularizedEvolution.check_sizes(settings["population_size"], settings["tournament_size"])
        self.settings.update(
            {k: settings[k] for k in LEARNER_SETTINGS + EVOLUTION_SETTINGS},
            proposer=proposer,
            schedule=self.schedule.get_config(),
            iterations=self.iterations,
        )
        self._controller_options = {k: options[k] for k in CONTROLLER_OPTIONS if k in options}
        # The brackets started, oldest first: {"index": position in schedule.brackets,
        # "rungs": one list per rung of {"id": trial id, "parent": promoted-from trial id}}.
        self.brackets: list[dict] = []
        # Raw first-rung rewards by fidelity (str), in arrival order: what ranks are taken in.
        self.first_rung_rewards: dict[str, list] = {}
        # trial_id -> the rank the proposer observed (first-rung trials with a result only).
        self.learned: dict[str, float] = {}

    @staticmethod
    def _check_proposer_settings(settings) -> dict:
        if settings is None:
            return {}
        if not isinstance(settings, dict):
            raise TypeError(f"`proposer_settings` must be a dict or None; received {settings!r}.")
        unknown = sorted(set(settings) - set(PROPOSER_SETTINGS))
        if unknown:
            raise ValueError(
                f"`proposer_settings` has unknown keys {unknown}; allowed: "
                f"{', '.join(PROPOSER_SETTINGS)}."
            )
        return dict(settings)

    def planned_candidates(self) -> Optional[int]:
        """Returns how many new candidates the search plans (None: no bound is known)."""
        planned = None
        if self.iterations is not None:
            planned = self.schedule.new_candidates * self.iterations
        if self.max_trials:
            planned = self.max_trials if planned is None else min(planned, self.max_trials)
        return planned

    def make_proposer(self, space):
        return make_proposer(
            self.proposer_name,
            space,
            self.settings,
            self.nas_seed,
            controller=self._controller_options,
        )

    # -- the brackets ------------------------------------------------------------------------

    def _plan(self, bracket: dict):
        return self.schedule.brackets[bracket["index"]]

    def _ended(self, trial_id: str) -> bool:
        # `rewards` holds every ended trial (None: failed), saved with the state.
        return trial_id in self.rewards

    def _result(self, trial_id: str) -> Optional[float]:
        return self.rewards.get(trial_id)

    def _ranked(self, entries: list) -> list:
        # Completed entries' ids, best first; equal rewards: the earlier entry first.
        scored = [
            (-self._result(e["id"]), position, e["id"])
            for position, e in enumerate(entries)
            if self._result(e["id"]) is not None
        ]
        return [trial_id for _, _, trial_id in sorted(scored)]

    def _may_grow(self, bracket: dict, rung: int) -> int:
        # How many more entries rung `rung` may still receive.
        plan = self._plan(bracket).rungs
        entries = bracket["rungs"]
        if rung == 0:
            return max(0, plan[0].candidates - len(entries[0]))
        quota = plan[rung - 1].promoted - len(entries[rung])
        if quota <= 0:
            return 0
        below = entries[rung - 1]
        promoted = {e["parent"] for e in entries[rung]}
        waiting = sum(1 for t in self._ranked(below) if t not in promoted)
        unended = sum(1 for e in below if not self._ended(e["id"]))
        return min(quota, waiting + unended + self._may_grow(bracket, rung - 1))

    def _promotable(self, bracket: dict, rung: int) -> Optional[str]:
        # The best unpromoted candidate of `rung` if no result still to come can push it out
        # of the rung's top k; else None.
        plan = self._plan(bracket).rungs[rung]
        entries = bracket["rungs"]
        promoted = {e["parent"] for e in entries[rung + 1]}
        if len(promoted) >= plan.promoted:
            return None
        unended = sum(1 for e in entries[rung] if not self._ended(e["id"]))
        still_open = unended + self._may_grow(bracket, rung)
        for position, trial_id in enumerate(self._ranked(entries[rung])):
            if trial_id not in promoted:
                return trial_id if position + 1 + still_open <= plan.promoted else None
        return None

    def _next_promotion(self) -> Optional[tuple]:
        # Oldest bracket first, highest rung first: the best candidates finish soonest.
        for bracket in self.brackets:
            for rung in reversed(range(len(self._plan(bracket).rungs) - 1)):
                parent = self._promotable(bracket, rung)
                if parent is not None:
                    return bracket, rung + 1, parent
        return None

    def _bracket_finished(self, bracket: dict) -> bool:
        return all(
            self._may_grow(bracket, rung) == 0
            and all(self._ended(e["id"]) for e in bracket["rungs"][rung])
            for rung in range(len(bracket["rungs"]))
        )

    def _all_brackets_started(self) -> bool:
        return self.iterations is not None and len(self.brackets) >= self.iterations * len(
            self.schedule.brackets
        )

    def schedule_finished(self) -> bool:
        """Returns whether every bracket of every iteration has run to its end."""
        return self._all_brackets_started() and all(map(self._bracket_finished, self.brackets))

    def _bracket_with_room(self) -> Optional[dict]:
        for bracket in self.brackets:
            if self._may_grow(bracket, 0) > 0:
                return bracket
        if self._all_brackets_started():
            return None
        index = len(self.brackets) % len(self.schedule.brackets)
        bracket = {"index": index, "rungs": [[] for _ in self.schedule.brackets[index].rungs]}
        self.brackets.append(bracket)
        return bracket

    def _out_of_budget(self) -> bool:
        return super()._out_of_budget() or self.schedule_finished()

    # -- proposing ---------------------------------------------------------------------------

    def populate_space(self, trial_id):
        if self.out_of_time():
            return {"status": STOPPED}
        promotion = self._next_promotion()
        if promotion is not None:
            return self._promote(trial_id, *promotion)
        bracket = self._bracket_with_room()
        if bracket is None:
            # Nothing to start: wait for running trials whose results may promote others.
            return {"status": IDLE if self.ongoing_trials else STOPPED}
        response = super().populate_space(trial_id)
        if response["status"] != RUNNING:
            return response
        plan = self._plan(bracket)
        fidelity = plan.rungs[0].fidelity
        response["values"].update(
            {EPOCHS: fidelity, INITIAL_EPOCH: 0, BRACKET: plan.halvings, ROUND: 0}
        )
        self.pending[trial_id]["fidelity"] = fidelity
        bracket["rungs"][0].append({"id": trial_id, "parent": None})
        return response

    def _promote(self, trial_id: str, bracket: dict, rung: int, parent_id: str) -> dict:
        plan = self._plan(bracket)
        values = dict(self.trials[parent_id].hyperparameters.values)
        values.update(
            {
                EPOCHS: plan.rungs[rung].fidelity,
                INITIAL_EPOCH: plan.rungs[rung - 1].fidelity,
                PARENT_TRIAL: parent_id,
                BRACKET: plan.halvings,
                ROUND: rung,
            }
        )
        bracket["rungs"][rung].append({"id": trial_id, "parent": parent_id})
        return {"status": RUNNING, "values": values}

    # -- learning ----------------------------------------------------------------------------

    def _learn_from_ended_trials(self) -> None:
        # Runs after every end_trial and after a reload; in the order trials ended, so a
        # resumed search ranks exactly as the one that was never stopped.
        for trial_id in list(self.end_order):
            trial = self.trials.get(trial_id)
            if trial_id in self.rewards or trial is None or trial.status not in (COMPLETED, FAILED):
                continue
            reward = self.trial_reward(trial) if trial.status == COMPLETED else None
            if reward is not None and not math.isfinite(reward):
                reward = None
            self.rewards[trial_id] = reward
            sample = self.pending.pop(trial_id, None)
            if sample is None or reward is None:  # a promotion, or a failed candidate
                continue
            earlier = self.first_rung_rewards.setdefault(str(sample.get("fidelity")), [])
            learned = rank_reward(reward, earlier)
            earlier.append(float(reward))
            self.learned[trial_id] = learned
            stats = self.proposer.observe(sample["actions"], sample, learned, trial_id)
            if stats is not None:
                self.updates.append(stats)

    @synchronized
    def _end_trial(self, trial) -> Optional[bool]:
        final = super()._end_trial(trial)
        if final is None:
            return None
        return final or self.schedule_finished()

    # -- results -----------------------------------------------------------------------------

    def candidates(self) -> list:
        """Returns every candidate with a result, best first: by the highest fidelity it
        reached, then its result there (the reward: the objective, negated if minimized).

        Each is a dict: "trial_id" (its first trial), "trial_ids" (one per rung it ran),
        "result_trial_id" (the trial of its result), "fidelity", "rung", "halvings" (its
        bracket's s) and "reward".
        """
        found = []
        order = {trial_id: k for k, trial_id in enumerate(self.start_order)}
        for bracket in self.brackets:
            plan = self._plan(bracket)
            child = {}
            for rung, entries in enumerate(bracket["rungs"][1:], start=1):
                for entry in entries:
                    child[entry["parent"]] = (rung, entry["id"])
            for root in bracket["rungs"][0]:
                chain = [(0, root["id"])]
                while chain[-1][1] in child:
                    chain.append(child[chain[-1][1]])
                results = [(rung, t) for rung, t in chain if self._result(t) is not None]
                if not results:
                    continue
                rung, last = results[-1]
                found.append(
                    {
                        "trial_id": root["id"],
                        "trial_ids": [t for _, t in chain],
                        "result_trial_id": last,
                        "fidelity": plan.rungs[rung].fidelity,
                        "rung": rung,
                        "halvings": plan.halvings,
                        "reward": self._result(last),
                    }
                )
        found.sort(key=lambda c: (-c["fidelity"], -c["reward"], order.get(c["trial_id"], 0)))
        return found

    @synchronized
    def get_best_trials(self, num_trials=1):
        """Returns the trials of the best `num_trials` candidates (see `candidates`): a result
        at a higher fidelity ranks above any at a lower one, so a lucky short training never
        heads the list."""
        return [self.trials[c["result_trial_id"]] for c in self.candidates()[:num_trials]]

    # -- state -------------------------------------------------------------------------------

    def nas_state(self) -> dict:
        state = super().nas_state()
        state["multi_fidelity"] = {
            "schedule": self.schedule.get_config(),
            "iterations": self.iterations,
            "brackets": self.brackets,
            "first_rung_rewards": self.first_rung_rewards,
            "learned": self.learned,
        }
        return state

    def check_saved_state(self, state: dict) -> None:
        super().check_saved_state(state)
        saved = state.get("multi_fidelity")
        schedule = saved.get("schedule") if isinstance(saved, dict) else None
        if schedule is not None and schedule != self.schedule.get_config():
            raise ValueError(
                f"This directory holds a search with the fidelity schedule {schedule}; this "
                f"oracle's is {self.schedule.get_config()}. Use another directory, or "
                "overwrite=True to start over."
            )

    def set_nas_state(self, state: dict, arrays: dict) -> None:
        path = self._state_path()
        check_fields(state, STATE_FIELDS, path, "controller state")
        super().set_nas_state(state, arrays)
        saved = state["multi_fidelity"]
        brackets = []
        for bracket in saved["brackets"]:
            index = bracket["index"]
            if not 0 <= index < len(self.schedule.brackets) or len(bracket["rungs"]) != len(
                self.schedule.brackets[index].rungs
            ):
                raise CorruptStateError(
                    f"The controller state file {path!r} holds a bracket {bracket} that its "
                    "schedule does not have; restore it from a copy, or start the search over "
                    "(overwrite=True)."
                )
            rungs = [[dict(e) for e in rung if e["id"] in self.trials] for rung in bracket["rungs"]]
            brackets.append({"index": index, "rungs": rungs})
        self.brackets = brackets
        self.first_rung_rewards = {k: list(v) for k, v in saved["first_rung_rewards"].items()}
        self.learned = dict(saved["learned"])

    def _settle_unstarted_trials(self) -> None:
        # A promotion written to the state before oracle.json recorded its start runs as
        # promoted (the base class does the same for proposals, which it finds in `pending`).
        started = set(self.start_order)
        queue = compat.retry_queue(self)
        for bracket in self.brackets:
            for rung in bracket["rungs"]:
                for entry in rung:
                    trial_id = entry["id"]
                    if trial_id not in started and trial_id not in self.pending:
                        self.start_order.append(trial_id)
                        queue.append(trial_id)
        super()._settle_unstarted_trials()


class NASSuccessiveHalvingOracle(CellPoints, SuccessiveHalvingOracle):
    """`SuccessiveHalvingOracle` over NASNet cells: what `keras-nasnet search --fidelity`
    runs, with `NASTuner` (`search.evaluators.child`) training and continuing the children.

    Args:
        space: the `SearchSpace` (default: the paper's).
        **kwargs: `SuccessiveHalvingOracle`'s arguments (proposer, min_fidelity,
            max_fidelity, eta, brackets, iterations, objective, max_trials, seed, ...).

    Children are trained with noise, so a cell proposed again is evaluated again, as with
    `NASOracle`.

    Raises:
        TypeError: `space` is not a SearchSpace.
        ValueError: a bad setting (see `SuccessiveHalvingOracle`).
    """

    # Every trial trains a child (`NASOracle.evaluation`'s kind): reports read it.
    evaluation = "train"

    def __init__(self, space: Optional[SearchSpace] = None, **kwargs):
        space = SearchSpace() if space is None else space
        if not isinstance(space, SearchSpace):
            raise TypeError(f"`space` must be a SearchSpace; received {space!r}.")
        super().__init__(
            hyperparameters=space.hyperparameters(),
            space=space.decision_space(),
            allow_duplicates=True,
            **kwargs,
        )
        self.cell_space = space
        self.proposer  # noqa: B018 (made now: bad settings fail here, not at the first trial)

    @property
    def space(self) -> SearchSpace:
        """Returns the NASNet cell `SearchSpace` searched."""
        return self.cell_space


class MultiFidelityTuner(keras_tuner.Hyperband):
    """keras-tuner's `Hyperband` tuner driven by the oracle it is given (e.g. a
    `SuccessiveHalvingOracle`) instead of the `HyperbandOracle` it makes itself.

    Hyperband's tuner is what honours the fidelity values: its `run_trial` trains from
    ``tuner/initial_epoch`` to ``tuner/epochs``, and its model building loads the weights of
    trial ``tuner/trial_id``'s best epoch, so a promoted candidate continues where its parent
    stopped. The optimizer is built afresh (keras-tuner's checkpoints hold weights only), so
    its step count and moments restart at zero.

    Args:
        oracle: the oracle.
        hypermodel: as `keras_tuner.Tuner`'s.
        **kwargs: `keras_tuner.Tuner`'s (directory, project_name, overwrite, ...).
    """

    def __init__(self, oracle, hypermodel=None, **kwargs):
        compat.init_hyperband_tuner(self, oracle, hypermodel, **kwargs)
