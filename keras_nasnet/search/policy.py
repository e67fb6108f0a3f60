"""Policy updates for the controller: PPO (the NASNet paper) and REINFORCE (the original NAS).

Rewards arrive one at a time, possibly late and out of order (many workers). Each is turned
into an advantage against the moving-average baseline when it arrives, and buffered with the
log-probability its architecture had *when it was sampled*; every `update_every` results the
buffer becomes one minibatch. PPO's ratio is taken against that recorded log-probability, so
a result that comes back after the controller has moved on is still weighted correctly.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from ..validation import check_choice, check_int, check_number, check_positive
from .adam import FusedAdam
from .controller import Controller

ALGORITHMS = ("ppo", "reinforce", "evolution", "random")
LEARNING_ALGORITHMS = ("ppo", "reinforce")
PRESETS = ("budget", "paper")

# The NASNet paper (PPO, Adam 0.00035, entropy 0.00001, minibatches of 20 results, made for
# 20,000 children) and AmoebaNet (P = 100, S = 25) settings.
PAPER_SETTINGS = {
    "learning_rate": 0.00035,
    "entropy_weight": 0.00001,
    "baseline_decay": 0.95,
    "update_every": 20,
    "clip_epsilon": 0.2,
    "ppo_epochs": 4,
    "population_size": 100,
    "tournament_size": 25,
}


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def preset_settings(preset: str, max_trials: Optional[int], algorithm: str = "ppo") -> dict:
    """Returns the learner and evolution settings of `preset` for `algorithm` over `max_trials`.

    "paper" is `PAPER_SETTINGS`. "budget" was chosen by measurement on a synthetic reward for
    searches of 100-1,000 architectures (bench/search_budget.py, docs/benchmarks.md): a policy
    update every max_trials / 20 results (1 to 20, so a search of 6 trials updates after each
    one); Adam at 0.003 for PPO, whose 4 epochs per minibatch move the policy about 4 times as
    far per update as REINFORCE's single step, which gets 0.01 (at 400 samples PPO reached a
    last-100 mean of 0.77 at 0.003, 0.68 at 0.01 and 0.56 at 0.001; REINFORCE 0.50 at 0.003);
    a population of max_trials / 15 (10 to 100) with tournaments of half of it.

    Raises:
        ValueError: an unknown preset or a `max_trials` that is not a positive int or None.
    """
    check_choice(preset, "preset", PRESETS)
    max_trials = check_int(max_trials, "max_trials", minimum=1, allow_none=True)
    settings = dict(PAPER_SETTINGS)
    if preset == "paper":
        return settings
    budget = 1000 if max_trials is None else max_trials  # no budget: the top of the tuned range
    population = _clamp(budget // 15, 10, 100)
    settings.update(
        learning_rate=0.01 if algorithm == "reinforce" else 0.003,
        update_every=_clamp(budget // 20, 1, 20),
        population_size=population,
        tournament_size=max(2, population // 2),
    )
    return settings


class PolicyLearner:
    """Learns a `Controller` from rewards.

    Args:
        controller: the policy to train.
        algorithm: "ppo" (clipped surrogate) or "reinforce".
        learning_rate: Adam learning rate (the paper: 0.00035).
        entropy_weight: weight of the entropy bonus (the paper: 0.00001).
        baseline_decay: the baseline is ``decay * baseline + (1 - decay) * reward`` (0.95).
        update_every: results per minibatch update (the paper: 20).
        clip_epsilon: PPO's ratio clip, 1 +- epsilon.
        ppo_epochs: gradient steps per PPO minibatch (REINFORCE always takes one).

    Raises:
        ValueError: an unknown algorithm or a setting out of range.
    """

    def __init__(
        self,
        controller: Controller,
        algorithm: str = "ppo",
        learning_rate: float = 0.00035,
        entropy_weight: float = 0.00001,
        baseline_decay: float = 0.95,
        update_every: int = 20,
        clip_epsilon: float = 0.2,
        ppo_epochs: int = 4,
    ):
        check_choice(algorithm, "algorithm", LEARNING_ALGORITHMS)
        self.controller = controller
        self.algorithm = algorithm
        self.learning_rate = check_positive(learning_rate, "learning_rate")
        self.entropy_weight = check_number(entropy_weight, "entropy_weight", minimum=0)
        self.baseline_decay = check_number(
            baseline_decay, "baseline_decay", minimum=0, maximum=1, max_inclusive=False
        )
        self.clip_epsilon = check_number(
            clip_epsilon,
            "clip_epsilon",
            minimum=0,
            maximum=1,
            min_inclusive=False,
            max_inclusive=False,
        )
        self.update_every = check_int(update_every, "update_every", minimum=1)
        self.ppo_epochs = check_int(ppo_epochs, "ppo_epochs", minimum=1)
        self.optimizer = FusedAdam(controller.trainable_variables, self.learning_rate)
        self.baseline: Optional[float] = None
        self.buffer: list[dict] = []
        self.num_updates = 0
        self.num_rewards = 0
        self._train_step = None  # traced on first update

    # -- learning ----------------------------------------------------------------------------

    def observe(self, actions: Sequence[int], log_prob: float, reward: float) -> Optional[dict]:
        """Records one result; returns the update's statistics when it completes a minibatch.

        Raises:
            ValueError: a non-finite reward (failed trials must not reach the learner).
        """
        reward = float(reward)
        if not math.isfinite(reward):
            raise ValueError(f"A reward must be finite; received {reward!r}.")
        # The first reward seeds the baseline: a zero start would make every early
        # advantage positive and reinforce whatever was sampled first.
        baseline = reward if self.baseline is None else self.baseline
        self.buffer.append(
            {
                "actions": [int(a) for a in actions],
                "log_prob": float(log_prob),
                "reward": reward,
                "advantage": reward - baseline,
            }
        )
        self.baseline = self.baseline_decay * baseline + (1 - self.baseline_decay) * reward
        self.num_rewards += 1
        if len(self.buffer) >= self.update_every:
            return self.update()
        return None

    def update(self) -> Optional[dict]:
        """Takes the policy-gradient steps for the buffered results and empties the buffer.

        Returns statistics (mean_reward, baseline, entropy, loss, clip_fraction, num_updates),
        or None if the buffer is empty.
        """
        import tensorflow as tf

        if not self.buffer:
            return None
        actions = np.array([r["actions"] for r in self.buffer], dtype="int32")
        old_log_prob = tf.constant([r["log_prob"] for r in self.buffer], dtype="float32")
        advantage = tf.constant([r["advantage"] for r in self.buffer], dtype="float32")
        if self._train_step is None:
            # autograph=False: the loop over decisions is meant to unroll; converting it costs
            # seconds.
            self._train_step = tf.function(self._gradient_step, autograph=False)
        epochs = self.ppo_epochs if self.algorithm == "ppo" else 1
        losses, entropies, clipped = [], [], []
        for _ in range(epochs):
            loss, entropy, clip_fraction = self._train_step(
                tf.constant(actions), old_log_prob, advantage
            )
            losses.append(float(loss))
            entropies.append(float(entropy))
            clipped.append(float(clip_fraction))
        self.controller.weights_changed()
        stats = {
            "num_updates": self.num_updates + 1,
            "mean_reward": float(np.mean([r["reward"] for r in self.buffer])),
            "baseline": float(self.baseline),
            "entropy": entropies[0],
            "loss": float(np.mean(losses)),
            "clip_fraction": float(np.mean(clipped)),
        }
        self.buffer = []
        self.num_updates += 1
        return stats

    def _gradient_step(self, actions, old_log_prob, advantage):
        import tensorflow as tf

        variables = self.controller.trainable_variables
        with tf.GradientTape() as tape:
            log_prob, entropy = self.controller.log_prob_and_entropy(actions)
            if self.algorithm == "ppo":
                ratio = tf.exp(log_prob - old_log_prob)
                clipped_ratio = tf.clip_by_value(
                    ratio, 1 - self.clip_epsilon, 1 + self.clip_epsilon
                )
                surrogate = tf.minimum(ratio * advantage, clipped_ratio * advantage)
                clip_fraction = tf.reduce_mean(
                    tf.cast(tf.abs(ratio - 1) > self.clip_epsilon, "float32")
                )
            else:
                surrogate = advantage * log_prob
                clip_fraction = tf.constant(0.0)
            loss = -tf.reduce_mean(surrogate) - self.entropy_weight * tf.reduce_mean(entropy)
        self.optimizer.apply(tape.gradient(loss, variables))
        return loss, tf.reduce_mean(entropy), clip_fraction

    # -- state -------------------------------------------------------------------------------

    def get_arrays(self) -> dict:
        """Returns {name: array}: the controller's weights and the optimizer's slots."""
        arrays = {f"controller/{k}": v for k, v in self.controller.get_weights().items()}
        for i, variable in enumerate(self.optimizer.variables):
            arrays[f"optimizer/{i}"] = np.array(variable.numpy())
        return arrays

    def get_state(self) -> dict:
        """Returns the JSON-ready rest of the state (with `get_arrays`, all needed to resume
        exactly).
        """
        return {
            "algorithm": self.algorithm,
            "baseline": self.baseline,
            "buffer": self.buffer,
            "num_updates": self.num_updates,
            "num_rewards": self.num_rewards,
            "rng": self.controller.rng.bit_generator.state,
        }

    def set_state(self, state: dict, arrays: dict) -> None:
        """Restores `get_state()` and `get_arrays()` output. Raises ValueError if from another
        setup.
        """
        if state["algorithm"] != self.algorithm:
            raise ValueError(
                f"The saved search used algorithm {state['algorithm']!r}; this one uses "
                f"{self.algorithm!r}."
            )
        prefix = "controller/"
        self.controller.set_weights(
            {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        )
        for i, variable in enumerate(self.optimizer.variables):
            key = f"optimizer/{i}"
            if key not in arrays or arrays[key].shape != tuple(variable.shape):
                raise ValueError(
                    f"The saved optimizer state does not match this controller ({key})."
                )
            variable.assign(arrays[key])
        self.baseline = state["baseline"]
        self.buffer = [dict(r) for r in state["buffer"]]
        self.num_updates = state["num_updates"]
        self.num_rewards = state["num_rewards"]
        self.controller.rng.bit_generator.state = state["rng"]
