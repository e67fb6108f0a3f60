"""Oracles for any keras-tuner hyperparameter space: regularized evolution, the LSTM controller
(PPO or REINFORCE) and random search over the same decisions, in keras-tuner's style.

    oracle = EvolutionOracle(objective="val_accuracy", max_trials=100, seed=0)
    tuner = keras_tuner.Tuner(oracle=oracle, hypermodel=build_model, directory="runs")

Each takes keras-tuner's usual arguments and `ProposerOracle`'s (reward, max_time, monitors,
...). Settings left as None come from the "budget" preset scaled to `max_trials`
(`proposers.presets`).
"""

from __future__ import annotations

from typing import Optional

from ...validation import check_choice
from ..proposers.evolution import RegularizedEvolution
from ..proposers.policy import LEARNING_ALGORITHMS, ControllerProposer
from ..proposers.presets import LEARNER_SETTINGS, PRESETS, resolve_settings
from ..proposers.random_sampling import RandomProposer
from .base import ProposerOracle


class EvolutionOracle(ProposerOracle):
    """Regularized evolution (AmoebaNet) over any keras-tuner space.

    Args:
        population_size: P, the most recent completed trials kept (None: from `preset`).
        tournament_size: S, members drawn per tournament (None: from `preset`, at most P).
        identity_probability: chance that a child is an unchanged copy of its parent.
        preset: "budget" (default) or "paper" (P = 100, S = 25).
        **kwargs: keras-tuner's and `ProposerOracle`'s arguments (objective, max_trials, seed,
            hyperparameters, allow_new_entries, tune_new_entries, max_retries_per_trial,
            max_consecutive_failed_trials, ...).

    Raises:
        ValueError: a bad setting (S > P, a size below 1, an unknown preset).
    """

    algorithm = "evolution"

    def __init__(
        self,
        population_size: Optional[int] = None,
        tournament_size: Optional[int] = None,
        identity_probability: float = 0.05,
        preset: str = "budget",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_choice(preset, "preset", PRESETS)
        self.settings.update(
            resolve_settings(
                preset,
                self.max_trials,
                "evolution",
                population_size=population_size,
                tournament_size=tournament_size,
            ),
            identity_probability=identity_probability,
        )
        # Checked now, not at the first trial.
        RegularizedEvolution.check_sizes(
            self.settings["population_size"], self.settings["tournament_size"]
        )

    def make_proposer(self, space):
        return RegularizedEvolution(
            space,
            self.settings["population_size"],
            self.settings["tournament_size"],
            identity_probability=self.settings["identity_probability"],
            seed=self.nas_seed,
        )


class ControllerOracle(ProposerOracle):
    """The NASNet paper's LSTM controller over any keras-tuner space, trained with PPO
    (default) or REINFORCE. A categorical hyperparameter is one softmax decision, a stepped
    range one category per value, a continuous range `bins` categories (a bin's middle).

    Args:
        algorithm: "ppo" or "reinforce".
        units, temperature, tanh_constant: see `Controller`.
        learning_rate, entropy_weight, baseline_decay, update_every, clip_epsilon, ppo_epochs:
            see `PolicyLearner` (None: from `preset`; the "budget" preset updates the policy
            after every max_trials / 40 results here, 1 to 20).
        rank_rewards: learn from each reward's mid-rank among the earlier ones (default), not
            from the objective's value: the policy's advantage stays on one scale whatever the
            objective's (a loss, an accuracy near its ceiling, a multi-objective sum).
        preset: "budget" (default) or "paper".
        skip_attention: sample the Booleans named `layer_{i}_from_{j}` (skip connections, as
            `MacroSearchSpace` declares them) by the NAS paper's attention over the LSTM's
            anchor states; None (default): whenever the space declares such skip sets.
        skip_rate, skip_weight: ENAS's penalty pulling the skip rate towards `skip_rate`
            (None: no penalty), with weight `skip_weight`; see `PolicyLearner`.
        **kwargs: keras-tuner's and `ProposerOracle`'s arguments.

    Hyperparameters the hypermodel declares after the first trial are drawn at random: the
    controller keeps the decisions it began with.

    Raises:
        ValueError: an unknown algorithm or preset, or a setting out of range.
    """

    def __init__(
        self,
        algorithm: str = "ppo",
        units: int = 100,
        temperature: Optional[float] = None,
        tanh_constant: Optional[float] = None,
        learning_rate: Optional[float] = None,
        entropy_weight: Optional[float] = None,
        baseline_decay: Optional[float] = None,
        update_every: Optional[int] = None,
        clip_epsilon: Optional[float] = None,
        ppo_epochs: Optional[int] = None,
        rank_rewards: bool = True,
        preset: str = "budget",
        skip_attention: Optional[bool] = None,
        skip_rate: Optional[float] = None,
        skip_weight: float = 0.8,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_choice(algorithm, "algorithm", LEARNING_ALGORITHMS)
        check_choice(preset, "preset", PRESETS)
        if update_every is None and preset == "budget":
            # Measured on small spaces (bench/any_space.py): twice the NASNet preset's updates.
            budget = 1000 if self.max_trials is None else self.max_trials
            update_every = max(1, min(20, budget // 40))
        self.algorithm = algorithm
        given = {k: v for k, v in locals().items() if k in LEARNER_SETTINGS}
        settings = resolve_settings(preset, self.max_trials, algorithm, **given)
        self.settings.update(
            {k: settings[k] for k in LEARNER_SETTINGS},
            rank_rewards=rank_rewards,
            skip_rate=skip_rate,
            skip_weight=skip_weight,
        )
        self._controller_options = {
            "units": units,
            "temperature": temperature,
            "tanh_constant": tanh_constant,
            "skip_attention": skip_attention,
        }

    def make_proposer(self, space):
        learner = {k: self.settings[k] for k in LEARNER_SETTINGS}
        return ControllerProposer(
            space,
            self.algorithm,
            seed=self.nas_seed,
            rank_rewards=self.settings["rank_rewards"],
            skip_rate=self.settings["skip_rate"],
            skip_weight=self.settings["skip_weight"],
            **self._controller_options,
            **learner,
        )

    @property
    def controller(self):
        """Returns the `Controller` (made at the first trial)."""
        return self.proposer.controller


class RandomOracle(ProposerOracle):
    """Random search over the same decisions the other oracles search (the baseline they are
    measured against; keras-tuner's `RandomSearchOracle` draws from the same distribution but
    through another generator).

    Args:
        **kwargs: keras-tuner's and `ProposerOracle`'s arguments.
    """

    algorithm = "random"

    def make_proposer(self, space):
        return RandomProposer(space, seed=self.nas_seed)
