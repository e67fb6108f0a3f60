"""The RNN controller of the NASNet paper: an autoregressive one-layer LSTM over decisions.

At step t the LSTM reads the embedding of decision t-1's choice (a learned start vector at
t = 0) and a softmax head of its own scores decision t's choices. Sampling draws from those
softmaxes with a NumPy generator, so a search is reproducible from its seed and its random
state can be saved and restored exactly. Learning (see `policy.py`) re-scores recorded
decision sequences with teacher forcing under a TensorFlow gradient tape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from ...validation import check_int, check_positive
from .spaces_of import decision_space_of


@dataclass(frozen=True)
class ControllerSample:
    """A point of the space with the decisions and the log-probability it was sampled with.

    `architecture` is what the space decodes the decisions to: an `Architecture` for a NASNet
    `SearchSpace`, `{name: value}` for a `DecisionSpace`.
    """

    architecture: Any
    actions: tuple[int, ...]
    log_prob: float
    entropy: float


class _NumpyMath:
    matmul = staticmethod(np.matmul)
    split = staticmethod(np.split)
    tanh = staticmethod(np.tanh)

    @staticmethod
    def sigmoid(x):
        return 1.0 / (1.0 + np.exp(-x))


class _TensorFlowMath:
    def __init__(self, tf):
        self.matmul, self.split, self.tanh, self.sigmoid = tf.matmul, tf.split, tf.tanh, tf.sigmoid


def _normalized(p: np.ndarray) -> np.ndarray:
    return p / p.sum()


def _tf():
    import tensorflow as tf

    return tf


_PER_DECISION_NAME = re.compile(r"head_(\d+)/(?:kernel|bias)|embedding_(\d+)")


def packed_shapes(units: int, choice_counts: Sequence[int]) -> dict:
    """Returns `{name: shape}` of the controller's weights for `units` and the decisions'
    `choice_counts`: the LSTM, the start vector, and every decision's head and embedding
    packed into one array each, padded to the widest decision."""
    u, steps, width = units, len(choice_counts), max(choice_counts)
    return {
        "lstm/kernel": (u, 4 * u),
        "lstm/recurrent": (u, 4 * u),
        "lstm/bias": (4 * u,),
        "start": (1, u),
        "heads/kernel": (steps, u, width),
        "heads/bias": (steps, width),
        "embeddings": (steps, width, u),
    }


def pack_per_decision_weights(weights: dict, units: int, choice_counts: Sequence[int]) -> dict:
    """Returns `weights` saved in the per-decision layout of earlier versions (`head_{t}/kernel`
    [units, n_t], `head_{t}/bias` [n_t] and `embedding_{t}` [n_t, units] for every decision t
    but the last) in the packed layout of `packed_shapes`, the padding zero. Other names pass
    through unchanged.

    Raises:
        ValueError: a per-decision weight is missing, has the wrong shape, or names a decision
            that `choice_counts` does not have.
    """
    steps = len(choice_counts)
    shapes = packed_shapes(units, choice_counts)
    expected = {}
    for t, n in enumerate(choice_counts):
        expected[f"head_{t}/kernel"] = (units, n)
        expected[f"head_{t}/bias"] = (n,)
        if t + 1 < steps:  # the last choice feeds no further step
            expected[f"embedding_{t}"] = (n, units)
    unknown = sorted(
        name for name in weights if _PER_DECISION_NAME.fullmatch(name) and name not in expected
    )
    if unknown:
        raise ValueError(
            f"The per-decision controller weights {unknown} name decisions that this controller "
            f"does not have (it has {steps}, with {list(choice_counts)} choices): they were "
            "saved for another space."
        )
    packed = {name: value for name, value in weights.items() if name not in expected}
    packed["heads/kernel"] = np.zeros(shapes["heads/kernel"], dtype="float32")
    packed["heads/bias"] = np.zeros(shapes["heads/bias"], dtype="float32")
    packed["embeddings"] = np.zeros(shapes["embeddings"], dtype="float32")
    for name, shape in expected.items():
        if name not in weights:
            raise ValueError(f"Controller weight {name!r} is missing from the given weights.")
        value = np.asarray(weights[name])
        if value.shape != shape:
            raise ValueError(
                f"Controller weight {name!r} has shape {value.shape}, expected {shape} (the "
                f"decisions' choices: {list(choice_counts)})."
            )
        match = _PER_DECISION_NAME.fullmatch(name)
        t = int(match.group(1) or match.group(2))
        n = choice_counts[t]
        if name.endswith("/kernel"):
            packed["heads/kernel"][t, :, :n] = value
        elif name.endswith("/bias"):
            packed["heads/bias"][t, :n] = value
        else:
            packed["embeddings"][t, :n] = value
    return packed


class Controller:
    """One-layer LSTM controller with one softmax head per decision of `space`.

    A decision that a conditional scope switches off (see `spaces.decisions`) takes category 0
    without a draw, adds nothing to the log-probability or the entropy, and leaves the LSTM's
    state as it was; the next decision reads its category 0's embedding.

    The weights are seven variables (`packed_shapes`): the LSTM's kernel, recurrent kernel and
    bias, the start vector, and every decision's head kernel, head bias and embedding packed
    into `heads/kernel` [decisions, units, widest], `heads/bias` [decisions, widest] and
    `embeddings` [decisions, widest, units]. A decision with fewer choices than the widest
    leaves its padding at zero; the padding never reaches a softmax, so it never changes a
    distribution and takes no gradient. A seed draws the same initial values as the
    per-decision layout of earlier versions did, and `set_weights` converts weights saved in
    that layout (`head_{t}/kernel`, `head_{t}/bias`, `embedding_{t}`).

    Args:
        space: the `SearchSpace` or `DecisionSpace` whose decisions it emits (a continuous
            dimension as its bins).
        units: LSTM units (the paper: 100).
        temperature: logits are divided by it before the softmax (None: 1).
        tanh_constant: if set, logits become ``tanh_constant * tanh(logits)`` (clipped to
            (-c, c), as in ENAS), which keeps the policy from collapsing early.
        init_range: weights start uniform in [-init_range, init_range] (the paper: 0.1).
        seed: seeds the initial weights and the sampling generator.

    Raises:
        ValueError: a non-positive size or temperature.
    """

    def __init__(
        self,
        space,
        units: int = 100,
        temperature: Optional[float] = None,
        tanh_constant: Optional[float] = None,
        init_range: float = 0.1,
        seed: int = 0,
    ):
        self.decisions = decision_space_of(space)
        units = check_int(units, "units", minimum=1)
        check_positive(temperature, "temperature", allow_none=True)
        check_positive(tanh_constant, "tanh_constant", allow_none=True)
        check_positive(init_range, "init_range")
        self.space = space
        self.units = units
        self.temperature = temperature
        self.tanh_constant = tanh_constant
        self.rng = np.random.default_rng(seed)
        self._variables = self._initial_variables(np.random.default_rng([seed, 1]), init_range)
        self._numpy_weights = None  # NumPy copy for sampling; dropped whenever the weights change

    def _initial_variables(self, rng: np.random.Generator, init_range: float):
        tf = _tf()
        u, counts = self.units, self.decisions.choice_counts
        shapes = packed_shapes(u, counts)

        def draw(shape):
            return rng.uniform(-init_range, init_range, shape).astype("float32")

        # Drawn in the per-decision layout's order, so that a seed starts where it always did.
        arrays = {name: draw(shapes[name]) for name in ("lstm/kernel", "lstm/recurrent")}
        arrays["lstm/bias"] = draw(shapes["lstm/bias"])
        arrays["start"] = draw(shapes["start"])
        per_decision = {}
        for t, n in enumerate(counts):
            per_decision[f"head_{t}/kernel"] = draw((u, n))
            per_decision[f"head_{t}/bias"] = draw((n,))
            if t + 1 < len(counts):
                per_decision[f"embedding_{t}"] = draw((n, u))
        arrays.update(pack_per_decision_weights(per_decision, u, counts))
        return {name: tf.Variable(arrays[name], name=name.replace("/", "_")) for name in shapes}

    # -- weights -----------------------------------------------------------------------------

    @property
    def trainable_variables(self) -> list:
        return list(self._variables.values())

    def get_weights(self) -> dict:
        """Returns `{name: array}` copies of every weight (the names of `packed_shapes`)."""
        return {name: v.numpy().copy() for name, v in self._variables.items()}

    def checked_weights(self, weights: dict) -> dict:
        """Returns `weights` (`get_weights` output, or the per-decision layout of earlier
        versions, converted: see `pack_per_decision_weights`) as `{name: array}` of this
        controller's variables, after checking every name and shape.

        Raises:
            ValueError: a missing name, a shape that does not match, or a per-decision weight
                of a decision this controller does not have.
        """
        if any(_PER_DECISION_NAME.fullmatch(name) for name in weights):
            weights = pack_per_decision_weights(weights, self.units, self.decisions.choice_counts)
        values = {}
        for name, variable in self._variables.items():
            if name not in weights:
                raise ValueError(f"Controller weight {name!r} is missing from the given weights.")
            values[name] = np.asarray(weights[name])
            if values[name].shape != tuple(variable.shape):
                raise ValueError(
                    f"Controller weight {name!r} has shape {values[name].shape}, expected "
                    f"{tuple(variable.shape)}."
                )
        return values

    def set_weights(self, weights: dict) -> None:
        """Assigns weights from `get_weights` output, or from the per-decision layout of earlier
        versions (converted). Assigns nothing unless all fit.

        Raises:
            ValueError: see `checked_weights`.
        """
        values = self.checked_weights(weights)
        for name, variable in self._variables.items():
            variable.assign(values[name])
        self.weights_changed()

    def weights_changed(self) -> None:
        """Tells the controller its variables were modified in place (e.g. by an optimizer)."""
        self._numpy_weights = None

    def _numpy_view(self) -> dict:
        # Contiguous copies of each decision's unpadded slices, so that sampling multiplies the
        # very arrays (and rounds as) the per-decision layout did.
        if self._numpy_weights is None:
            v = self.get_weights()
            counts = self.decisions.choice_counts
            v["heads"] = [
                (np.ascontiguousarray(v["heads/kernel"][t, :, :n]), v["heads/bias"][t, :n].copy())
                for t, n in enumerate(counts)
            ]
            v["embedding"] = [
                np.ascontiguousarray(v["embeddings"][t, :n]) for t, n in enumerate(counts)
            ]
            self._numpy_weights = v
        return self._numpy_weights

    # -- one step of the recurrence, shared by sampling (NumPy) and scoring (TensorFlow) -----

    def _step(self, xp, v, x, h, c, head_kernel, head_bias):
        z = xp.matmul(x, v["lstm/kernel"]) + xp.matmul(h, v["lstm/recurrent"]) + v["lstm/bias"]
        i, f, g, o = xp.split(z, 4, axis=-1)
        c = xp.sigmoid(f) * c + xp.sigmoid(i) * xp.tanh(g)
        h = xp.sigmoid(o) * xp.tanh(c)
        logits = xp.matmul(h, head_kernel) + head_bias
        if self.temperature is not None:
            logits = logits / self.temperature
        if self.tanh_constant is not None:
            logits = self.tanh_constant * xp.tanh(logits)
        return logits, h, c

    # -- sampling ----------------------------------------------------------------------------

    def _walk(self, choose):
        """Runs the recurrence in NumPy (about 50x faster than eager TensorFlow at batch 1).

        `choose(t, log_p)` returns decision t's action; returns the actions and log-softmaxes.
        """
        v = self._numpy_view()
        x = v["start"]
        h = c = np.zeros((1, self.units), dtype="float32")
        actions, log_ps = [], []
        for t in range(len(self.decisions)):
            if self.decisions.conditional and not self.decisions.is_active(
                t, self.decisions.from_categories(actions)
            ):
                actions.append(0)
                log_ps.append(None)
                x = v["embedding"][t][0][None, :]
                continue
            logits, h, c = self._step(_NumpyMath, v, x, h, c, *v["heads"][t])
            logits = logits[0].astype("float64")
            log_p = logits - logits.max()
            log_p -= np.log(np.exp(log_p).sum())
            action = int(choose(t, log_p))
            actions.append(action)
            log_ps.append(log_p)
            x = v["embedding"][t][action][None, :]
        return tuple(actions), log_ps

    def sample(self) -> ControllerSample:
        """Returns a new `ControllerSample` drawn from the current policy (advances the RNG)."""
        actions, log_ps = self._walk(
            lambda t, log_p: self.rng.choice(len(log_p), p=_normalized(np.exp(log_p)))
        )
        active = [(a, log_p) for a, log_p in zip(actions, log_ps) if log_p is not None]
        log_prob = float(sum(log_p[a] for a, log_p in active))
        entropy = float(-sum(np.sum(np.exp(log_p) * log_p) for _, log_p in active))
        return ControllerSample(self.point(actions), actions, log_prob, entropy)

    def point(self, actions: Sequence[int]):
        """Returns what the space decodes the controller's `actions` to (see
        `ControllerSample`)."""
        if self.space is self.decisions:
            return self.decisions.decode(self.decisions.from_categories(actions))
        return self.space.decode(actions)

    def active_mask(self, actions) -> np.ndarray:
        """Returns a float mask [batch, decisions]: 1 where a decision of `actions` (rows of
        controller categories) is active."""
        actions = np.asarray(actions)
        if not self.decisions.conditional:
            return np.ones(actions.shape, dtype="float32")
        return np.array(
            [self.decisions.active_mask(self.decisions.from_categories(row)) for row in actions],
            dtype="float32",
        )

    def probabilities(self, actions: Sequence[int]) -> list:
        """Returns, for each decision, the softmax the policy assigns given the earlier
        `actions` (None for a decision that is not active).
        """
        if len(actions) != len(self.decisions):
            raise ValueError(f"Expected {len(self.decisions)} actions; received {len(actions)}.")
        _, log_ps = self._walk(lambda t, log_p: actions[t])
        return [None if log_p is None else np.exp(log_p) for log_p in log_ps]

    # -- scoring (differentiable) ------------------------------------------------------------

    def log_prob_and_entropy(self, actions, mask=None):
        """Returns (log-probabilities [batch], entropies [batch]) of decision sequences `actions`.

        `actions` is an int tensor or array [batch, len(space)]; `mask` (float, same shape; see
        `active_mask`) marks the active decisions (None: all): an inactive one adds no term and
        leaves the LSTM's state as it was, as in sampling. Plain TensorFlow ops: call it under
        `tf.GradientTape` (and inside `tf.function` for speed) to differentiate with respect to
        `trainable_variables`.
        """
        tf = _tf()
        actions = tf.convert_to_tensor(actions, dtype="int32")
        v = self._variables
        counts = self.decisions.choice_counts
        valid = tf.constant(np.arange(max(counts))[None, :] < np.array(counts)[:, None])
        batch = tf.shape(actions)[0]
        if mask is None:
            mask = tf.ones(tf.shape(actions), dtype="float32")
        mask = tf.transpose(tf.convert_to_tensor(mask, dtype="float32"))
        # Sampling feeds an inactive decision's category 0 to the next one.
        chosen = tf.where(mask > 0, tf.transpose(actions), 0)
        xp = _TensorFlowMath(tf)

        # The decisions run as one `tf.scan` over the packed heads and embeddings: the graph
        # holds one LSTM step instead of one per decision, which makes the first policy
        # update's trace several times cheaper (docs/benchmarks.md).
        def step(carry, decision):
            x, h, c, _, _ = carry
            kernel, bias, embedding, valid_choices, chosen, active = decision
            logits, next_h, next_c = self._step(xp, v, x, h, c, kernel, bias)
            # Finite, so that padded choices get probability 0 and add 0 * log 0 = 0 (not NaN)
            # to the entropy and its gradient.
            log_p = tf.nn.log_softmax(tf.where(valid_choices, logits, -1e9))
            log_prob = tf.gather(log_p, chosen, axis=1, batch_dims=1)
            entropy = -tf.reduce_sum(tf.exp(log_p) * log_p, axis=1)
            stepped = active[:, None] > 0
            return (
                tf.gather(embedding, chosen),
                tf.where(stepped, next_h, h),
                tf.where(stepped, next_c, c),
                log_prob * active,
                entropy * active,
            )

        zeros = tf.zeros((batch, self.units))
        _, _, _, log_probs, entropies = tf.scan(
            step,
            (v["heads/kernel"], v["heads/bias"], v["embeddings"], valid, chosen, mask),
            initializer=(
                tf.tile(v["start"], (batch, 1)),
                zeros,
                zeros,
                tf.zeros((batch,)),
                tf.zeros((batch,)),
            ),
        )
        return tf.reduce_sum(log_probs, axis=0), tf.reduce_sum(entropies, axis=0)
