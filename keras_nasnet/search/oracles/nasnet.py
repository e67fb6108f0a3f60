"""`NASOracle`: the NASNet cell search as a keras-tuner Oracle.

The NASNet cell space is one space among others: it declares its decisions as one `hp.Choice`
each (see `SearchSpace.declare`), the proposer named by `algorithm` searches them, and a trial's
values build an `Architecture` (`architecture`).
"""

from __future__ import annotations

import time
from typing import Callable, Optional, Sequence

from ...validation import check_choice, check_int
from ..evaluators.evaluation import parse_evaluation
from ..proposers.presets import (
    ALGORITHMS,
    EVOLUTION_SETTINGS,
    LEARNER_SETTINGS,
    resolve_settings,
)
from ..proposers.registry import make_proposer
from ..spaces.nasnet_cells import SearchSpace
from .base import ProposerOracle


class CellPoints:
    """What an oracle over NASNet cells (its `cell_space`, a `SearchSpace`) says of its points:
    a trial's values are an `Architecture`."""

    def point(self, values: dict):
        return self.cell_space.from_values(values)

    def architecture(self, trial):
        """Returns the Architecture a trial (or its id) evaluates."""
        if isinstance(trial, str):
            trial = self.trials[trial]
        return self.cell_space.from_values(trial.hyperparameters.values)

    def space_config(self):
        return self.cell_space.get_config()


class NASOracle(CellPoints, ProposerOracle):
    """Neural Architecture Search over NASNet cells: an LSTM controller trained with PPO or
    REINFORCE, regularized evolution, or random search.

    Args:
        space: the `SearchSpace` (default: the paper's, B = 5, 14 ops, add/concat).
        algorithm: "ppo", "reinforce", "evolution" (regularized evolution, see
            `proposers.evolution`), or "random" (uniform over the same space: the baseline the
            paper compares with).
        objective: keras-tuner objective; its value is the reward (negated if minimized).
        max_trials: number of architectures to evaluate.
        seed: seeds the controller's weights and every sample.
        reward: see `ProposerOracle`.
        preset: where the settings left as None come from: "budget" (default; chosen by
            measurement for searches of 100-1,000 architectures, scaled to `max_trials`) or
            "paper" (the NASNet and AmoebaNet papers' settings); see `presets.preset_settings`.
        controller_units, temperature, tanh_constant: see `Controller`.
        learning_rate, entropy_weight, baseline_decay, update_every, clip_epsilon, ppo_epochs:
            see `PolicyLearner` (None: from `preset`).
        population_size, tournament_size: P and S of regularized evolution (None: from `preset`).
        max_retries_per_trial, max_consecutive_failed_trials: as in keras-tuner.
        worker_timeout, monitors, prefilter, max_time, clock, recipe: see `ProposerOracle`.
        tune_new_entries: hyperparameters the hypermodel declares beyond the cell decisions
            (``hp.Float("learning_rate", ...)``) are sampled at random from their declared space
            (seeded by `seed`) and recorded with each trial; False leaves them at their
            defaults. Pin one with ``hp.Fixed(name, value)`` in the hypermodel.
        evaluation: what a trial's reward is (see `search.evaluation`): "train" (default, a
            trained child's accuracy) or "proxy:NAME" (a zero-cost proxy's score; the caller
            computes it, the oracle records the kind, and a controller learns from ranks: each
            reward's mid-rank among the earlier ones, in [0, 1], since proxies are not on an
            accuracy's scale; evolution and the best trial use the raw score). A search resumed
            with another evaluation is refused.
        prefilter_score: ``score(architecture) -> float`` (e.g. `evaluation.ProxyScorer`).

    Children are trained with noise, so a cell proposed again is evaluated again (as in
    AmoebaNet): `allow_duplicates` is on.

    Raises:
        ValueError: an unknown algorithm or a bad setting.
        TypeError: `space` is not a SearchSpace, or `monitors` is not a sequence of callables.
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
        monitors: Optional[Sequence[Callable]] = None,
        tune_new_entries: bool = True,
        evaluation: str = "train",
        prefilter: int = 1,
        prefilter_score: Optional[Callable] = None,
        max_time=None,
        clock: Callable[[], float] = time.monotonic,
        recipe: Optional[dict] = None,
    ):
        space = SearchSpace() if space is None else space
        if not isinstance(space, SearchSpace):
            raise TypeError(f"`space` must be a SearchSpace; received {space!r}.")
        check_choice(algorithm, "algorithm", ALGORITHMS)
        check_int(max_trials, "max_trials", minimum=1)
        evaluation = parse_evaluation(evaluation)
        evaluation.refuse_shared("NASOracle")
        given = {k: v for k, v in locals().items() if k in EVOLUTION_SETTINGS + LEARNER_SETTINGS}
        settings = resolve_settings(preset, max_trials, algorithm, **given)
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            hyperparameters=space.hyperparameters(),
            tune_new_entries=tune_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            space=space.decision_space(),
            reward=reward,
            allow_duplicates=True,
            worker_timeout=worker_timeout,
            monitors=monitors,
            prefilter=prefilter,
            prefilter_score=prefilter_score,
            max_time=max_time,
            clock=clock,
            recipe=recipe,
        )
        self.cell_space = space
        self.algorithm = algorithm
        self.evaluation = evaluation
        self.preset = preset
        self._controller_options = {
            "units": controller_units,
            "temperature": temperature,
            "tanh_constant": tanh_constant,
        }
        self.settings = {**settings, **self.settings, "evaluation": str(evaluation)}
        self.proposer  # noqa: B018 (made now: bad settings fail here, not at the first trial)

    def make_proposer(self, space):
        return make_proposer(
            self.algorithm,
            space,
            self.settings,
            self.nas_seed,
            controller=self._controller_options,
            rank_rewards=not self.evaluation.trains,
        )

    @property
    def space(self) -> SearchSpace:
        """Returns the NASNet cell `SearchSpace` searched."""
        return self.cell_space

    @property
    def learner(self):
        """Returns the controller's `PolicyLearner` (None for evolution and random search)."""
        return getattr(self.proposer, "learner", None)

    @property
    def controller(self):
        """Returns the controller (None for evolution and random search)."""
        return getattr(self.proposer, "controller", None)

    @property
    def evolution(self):
        """Returns the `RegularizedEvolution` (None for the other algorithms)."""
        proposer = self.proposer
        return proposer if getattr(proposer, "population", None) is not None else None

    def nas_state(self) -> dict:
        return {**super().nas_state(), "evaluation": str(self.evaluation)}

    def check_saved_state(self, state: dict) -> None:
        super().check_saved_state(state)
        saved_evaluation = state.get("evaluation", "train")  # older states: trained children
        if saved_evaluation != str(self.evaluation):
            raise ValueError(
                f"This directory holds a search evaluated by {saved_evaluation!r}; this oracle "
                f"evaluates by {str(self.evaluation)!r}, whose rewards do not compare. Use "
                "another directory, or overwrite=True to start over."
            )
