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

from ...validation import check_choice, check_int, check_number, check_positive
from ..state import NULL, NUMBER, RANDOM_STATE, Field
from .base import Proposal, Proposer
from .controller import Controller, check_skip_rate, pack_per_decision_weights, packed_shapes

# The names `keras_nasnet.search.policy` held before the presets had a module of their own.
from .presets import ALGORITHMS, PAPER_SETTINGS, PRESETS, preset_settings  # noqa: F401
from .ranks import rank_reward
from .spaces_of import decision_space_of

LEARNING_ALGORITHMS = ("ppo", "reinforce")


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
        skip_rate: with a controller that decides skip sets by attention, ENAS's penalty: the
            loss adds `skip_weight` times the KL divergence of the skip Bernoullis from one of
            probability `skip_rate` (see `Controller.score`; ENAS's scripts: 0.4). None: none.
        skip_weight: the penalty's weight (ENAS's scripts: 0.8).

    The optimizer is `keras.optimizers.Adam` over the controller's few packed variables; its
    state (`get_arrays`: `optimizer/{i}`, the iteration, the learning rate, then each variable's
    momentum and velocity) has the layout that earlier versions' fused Adam saved, and a state
    saved with the controller's per-decision layout of earlier versions is converted.

    Raises:
        ValueError: an unknown algorithm or a setting out of range, or a `skip_rate` for a
            controller without skip sets.
    """

    # The keys `set_state` reads (see `Proposer.STATE_FIELDS`).
    STATE_FIELDS = {
        "algorithm": Field((str,), "the algorithm's name"),
        "baseline": Field((*NUMBER, NULL), "a number or null"),
        "buffer": Field(
            (list,),
            "a list of results",
            items=Field(
                (dict,),
                "a result",
                fields={
                    "actions": Field((list,), "a list of actions"),
                    "log_prob": Field(NUMBER, "a number"),
                    "reward": Field(NUMBER, "a number"),
                    "advantage": Field(NUMBER, "a number"),
                },
            ),
        ),
        "num_updates": Field((int,), "a count"),
        "num_rewards": Field((int,), "a count"),
        "rng": RANDOM_STATE,
    }

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
        skip_rate: Optional[float] = None,
        skip_weight: float = 0.8,
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
        # Checked when set (as `Controller.score` checks it), so a bad rate fails here and
        # not at the first update.
        skip_rate = check_skip_rate(skip_rate)
        if skip_rate is not None and not controller.skip_sets:
            raise ValueError(
                f"`skip_rate` {skip_rate} needs a controller that decides skip sets (a "
                "space with Booleans layer_{i}_from_{j}); this one has none."
            )
        self.skip_rate = skip_rate
        self.skip_weight = check_number(skip_weight, "skip_weight", minimum=0)
        import keras

        # Over the seven packed variables Keras' Adam traces the first update in half the time a
        # fused op per variable took over the per-decision ones (docs/benchmarks.md, "The first
        # policy update").
        self.optimizer = keras.optimizers.Adam(learning_rate=self.learning_rate)
        self.optimizer.build(controller.trainable_variables)
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
        mask = tf.constant(self.controller.active_mask(actions))
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
                tf.constant(actions), mask, old_log_prob, advantage
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

    def _gradient_step(self, actions, mask, old_log_prob, advantage):
        import tensorflow as tf

        variables = self.controller.trainable_variables
        with tf.GradientTape() as tape:
            if self.skip_rate is None:
                log_prob, entropy = self.controller.log_prob_and_entropy(actions, mask)
                penalty = 0.0
            else:
                log_prob, entropy, skip_kl = self.controller.score(actions, mask, self.skip_rate)
                penalty = self.skip_weight * tf.reduce_mean(skip_kl)
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
            loss = loss + penalty
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
        weights = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        optimizer = {k: v for k, v in arrays.items() if k.startswith("optimizer/")}
        checked = self.controller.checked_weights(weights)
        if "head_0/kernel" in weights:
            optimizer = self._packed_optimizer_arrays(optimizer)
        for i, variable in enumerate(self.optimizer.variables):
            key = f"optimizer/{i}"
            if key not in optimizer or np.shape(optimizer[key]) != tuple(variable.shape):
                found = (
                    "missing" if key not in optimizer else f"of shape {np.shape(optimizer[key])}"
                )
                raise ValueError(
                    f"The saved optimizer state does not match this controller: {key} is "
                    f"{found}, expected shape {tuple(variable.shape)} (the optimizer's variable "
                    f"{variable.name!r})."
                )
        self.controller.set_weights(checked)
        for i, variable in enumerate(self.optimizer.variables):
            variable.assign(optimizer[f"optimizer/{i}"])
        self.baseline = state["baseline"]
        self.buffer = [dict(r) for r in state["buffer"]]
        self.num_updates = state["num_updates"]
        self.num_rewards = state["num_rewards"]
        self.controller.rng.bit_generator.state = state["rng"]

    def _packed_optimizer_arrays(self, optimizer: dict) -> dict:
        # A state saved with the per-decision layout of earlier versions: its optimizer slots
        # came in that layout's variable order (the LSTM and start vector, then each
        # decision's head kernel, head bias and embedding), a momentum and a velocity each.
        units, counts = self.controller.units, self.controller.decisions.choice_counts
        names = ["lstm/kernel", "lstm/recurrent", "lstm/bias", "start"]
        for t in range(len(counts)):
            names += [f"head_{t}/kernel", f"head_{t}/bias"]
            if t + 1 < len(counts):
                names.append(f"embedding_{t}")
        expected = [f"optimizer/{i}" for i in range(2 + 2 * len(names))]
        if sorted(optimizer) != sorted(expected):
            raise ValueError(
                f"The saved controller has the per-decision layout of an earlier version, but its "
                f"optimizer state holds {len(optimizer)} arrays where that layout has "
                f"{len(expected)} (optimizer/0 to optimizer/{len(expected) - 1}) for this "
                f"space's {len(counts)} decisions. Start the search over in a new directory, or "
                "resume it with the version that saved it."
            )
        slots = [
            {name: optimizer[f"optimizer/{2 + 2 * k + j}"] for k, name in enumerate(names)}
            for j in (0, 1)
        ]
        try:
            slots = [pack_per_decision_weights(s, units, counts) for s in slots]
        except ValueError as error:
            raise ValueError(
                f"The saved optimizer state does not match this controller: {error} Start the "
                "search over in a new directory, or resume it with the version that saved it."
            ) from error
        packed = {"optimizer/0": optimizer["optimizer/0"], "optimizer/1": optimizer["optimizer/1"]}
        for k, name in enumerate(packed_shapes(units, counts)):
            packed[f"optimizer/{2 + 2 * k}"] = slots[0][name]
            packed[f"optimizer/{3 + 2 * k}"] = slots[1][name]
        return packed


class ControllerProposer(Proposer):
    """The LSTM controller as a proposer: samples from the policy, learns with `PolicyLearner`.

    Args:
        space: a `DecisionSpace` or a NASNet `SearchSpace`.
        algorithm: "ppo" or "reinforce".
        units, temperature, tanh_constant, skip_attention: see `Controller`.
        seed: seeds the controller's weights and its sampling.
        rank_rewards: learn from each reward's mid-rank among the earlier ones (`rank_reward`)
            instead of the reward itself: for rewards not on an accuracy's scale (proxies).
        learner_settings: `PolicyLearner`'s settings (learning_rate, entropy_weight,
            skip_rate, ...).

    Raises:
        ValueError: an unknown algorithm or a setting out of range.
    """

    # Its heads and embeddings are made for the decisions it began with.
    can_extend = False
    STATE_FIELDS = {
        "learner": Field(
            (dict,), "the controller learner's state", fields=PolicyLearner.STATE_FIELDS
        ),
        "rewards_seen": Field(
            (list,), "a list of rewards", required=False, items=Field(NUMBER, "a number")
        ),
    }

    def __init__(
        self,
        space,
        algorithm: str = "ppo",
        units: int = 100,
        temperature: Optional[float] = None,
        tanh_constant: Optional[float] = None,
        seed: int = 0,
        rank_rewards: bool = False,
        skip_attention: Optional[bool] = None,
        **learner_settings,
    ):
        super().__init__(decision_space_of(space))
        controller = Controller(
            self.space,
            units=units,
            temperature=temperature,
            tanh_constant=tanh_constant,
            seed=seed,
            skip_attention=skip_attention,
        )
        self.learner = PolicyLearner(controller, algorithm, **learner_settings)
        self.name = algorithm
        self.rank_rewards = bool(rank_rewards)
        self.rewards_seen: list[float] = []

    @property
    def controller(self) -> Controller:
        return self.learner.controller

    def propose(self) -> Proposal:
        """Returns a sample of the policy; its info holds the log-probability it had."""
        sample = self.controller.sample()
        return Proposal(self.space.from_categories(sample.actions), {"log_prob": sample.log_prob})

    def observe(self, actions, info, reward, trial_id=None) -> Optional[dict]:
        """Buffers the result; returns the policy update's statistics when one ran."""
        learned = reward
        if self.rank_rewards:
            learned = rank_reward(reward, self.rewards_seen)
        self.rewards_seen.append(float(reward))
        stats = self.learner.observe(self.space.to_categories(actions), info["log_prob"], learned)
        if stats is not None:
            stats["trial_id"] = trial_id
        return stats

    def get_state(self) -> dict:
        return {"learner": self.learner.get_state(), "rewards_seen": list(self.rewards_seen)}

    def get_arrays(self) -> dict:
        return self.learner.get_arrays()

    @property
    def arrays_version(self) -> int:
        return self.learner.num_updates

    def set_state(self, state: dict, arrays: dict) -> None:
        if "learner" not in state:
            raise ValueError("The saved search has no controller state (no 'learner' entry).")
        self.learner.set_state(state["learner"], arrays)
        self.rewards_seen = [float(r) for r in state.get("rewards_seen", [])]
