"""The RNN controller of the NASNet paper: an autoregressive one-layer LSTM over decisions.

At step t the LSTM reads the embedding of decision t-1's choice (a learned start vector at
t = 0) and a softmax head of its own scores decision t's choices. Sampling draws from those
softmaxes with a NumPy generator, so a search is reproducible from its seed and its random
state can be saved and restored exactly. Learning (see `policy.py`) re-scores recorded
decision sequences with teacher forcing under a TensorFlow gradient tape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..genotypes import Architecture
from ..validation import check_int, check_positive
from .space import SearchSpace


@dataclass(frozen=True)
class ControllerSample:
    """An Architecture with the decisions and the log-probability it was sampled with."""

    architecture: Architecture
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


class Controller:
    """One-layer LSTM controller with one softmax head per decision of `space`.

    Args:
        space: the `SearchSpace` whose decisions it emits.
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
        space: SearchSpace,
        units: int = 100,
        temperature: Optional[float] = None,
        tanh_constant: Optional[float] = None,
        init_range: float = 0.1,
        seed: int = 0,
    ):
        if not isinstance(space, SearchSpace):
            raise TypeError(f"`space` must be a SearchSpace; received {space!r}.")
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
        u = self.units
        shapes = {
            "lstm/kernel": (u, 4 * u),
            "lstm/recurrent": (u, 4 * u),
            "lstm/bias": (4 * u,),
            "start": (1, u),
        }
        counts = self.space.choice_counts
        for t, n in enumerate(counts):
            shapes[f"head_{t}/kernel"] = (u, n)
            shapes[f"head_{t}/bias"] = (n,)
            if t + 1 < len(counts):  # the last choice feeds no further step
                shapes[f"embedding_{t}"] = (n, u)
        return {
            name: tf.Variable(
                rng.uniform(-init_range, init_range, shape).astype("float32"),
                name=name.replace("/", "_"),
            )
            for name, shape in shapes.items()
        }

    # -- weights -----------------------------------------------------------------------------

    @property
    def trainable_variables(self) -> list:
        return list(self._variables.values())

    def get_weights(self) -> dict:
        """Returns `{name: array}` copies of every weight."""
        return {name: v.numpy().copy() for name, v in self._variables.items()}

    def set_weights(self, weights: dict) -> None:
        """Assigns weights from `get_weights` output. Raises ValueError on a missing name or
        shape.
        """
        for name, variable in self._variables.items():
            if name not in weights:
                raise ValueError(f"Controller weight {name!r} is missing from the given weights.")
            value = np.asarray(weights[name])
            if value.shape != tuple(variable.shape):
                raise ValueError(
                    f"Controller weight {name!r} has shape {value.shape}, expected "
                    f"{tuple(variable.shape)}."
                )
            variable.assign(value)
        self.weights_changed()

    def weights_changed(self) -> None:
        """Tells the controller its variables were modified in place (e.g. by an optimizer)."""
        self._numpy_weights = None

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
        if self._numpy_weights is None:
            self._numpy_weights = self.get_weights()
        v = self._numpy_weights
        x = v["start"]
        h = c = np.zeros((1, self.units), dtype="float32")
        actions, log_ps = [], []
        for t in range(len(self.space)):
            logits, h, c = self._step(
                _NumpyMath, v, x, h, c, v[f"head_{t}/kernel"], v[f"head_{t}/bias"]
            )
            logits = logits[0].astype("float64")
            log_p = logits - logits.max()
            log_p -= np.log(np.exp(log_p).sum())
            action = int(choose(t, log_p))
            actions.append(action)
            log_ps.append(log_p)
            if t + 1 < len(self.space):
                x = v[f"embedding_{t}"][action][None, :]
        return tuple(actions), log_ps

    def sample(self) -> ControllerSample:
        """Returns a new `ControllerSample` drawn from the current policy (advances the RNG)."""
        actions, log_ps = self._walk(
            lambda t, log_p: self.rng.choice(len(log_p), p=_normalized(np.exp(log_p)))
        )
        log_prob = float(sum(log_p[a] for a, log_p in zip(actions, log_ps)))
        entropy = float(-sum(np.sum(np.exp(log_p) * log_p) for log_p in log_ps))
        return ControllerSample(self.space.decode(actions), actions, log_prob, entropy)

    def probabilities(self, actions: Sequence[int]) -> list:
        """Returns, for each decision, the softmax the policy assigns given the earlier
        `actions`.
        """
        if len(actions) != len(self.space):
            raise ValueError(f"Expected {len(self.space)} actions; received {len(actions)}.")
        _, log_ps = self._walk(lambda t, log_p: actions[t])
        return [np.exp(log_p) for log_p in log_ps]

    # -- scoring (differentiable) ------------------------------------------------------------

    def log_prob_and_entropy(self, actions):
        """Returns (log-probabilities [batch], entropies [batch]) of decision sequences `actions`.

        `actions` is an int tensor or array [batch, len(space)]. Plain TensorFlow ops: call it
        under `tf.GradientTape` (and inside `tf.function` for speed) to differentiate with
        respect to `trainable_variables`.
        """
        tf = _tf()
        actions = tf.convert_to_tensor(actions, dtype="int32")
        v = self._variables
        counts = self.space.choice_counts
        width = max(counts)
        # The decisions run as one `tf.scan` over heads and embeddings padded to the widest
        # decision: the graph holds one LSTM step instead of one per decision, which makes the
        # first policy update's trace several times cheaper (docs/benchmarks.md).
        kernels = tf.stack(
            [tf.pad(v[f"head_{t}/kernel"], [[0, 0], [0, width - n]]) for t, n in enumerate(counts)]
        )
        biases = tf.stack(
            [tf.pad(v[f"head_{t}/bias"], [[0, width - n]]) for t, n in enumerate(counts)]
        )
        embeddings = tf.stack(
            [
                tf.pad(v[f"embedding_{t}"], [[0, width - n], [0, 0]])
                for t, n in enumerate(counts[:-1])
            ]
            + [tf.zeros((width, self.units))]  # the last choice feeds no further step
        )
        valid = tf.constant(np.arange(width)[None, :] < np.array(counts)[:, None])
        batch = tf.shape(actions)[0]
        xp = _TensorFlowMath(tf)

        def step(carry, decision):
            x, h, c, _, _ = carry
            kernel, bias, embedding, valid_choices, chosen = decision
            logits, h, c = self._step(xp, v, x, h, c, kernel, bias)
            # Finite, so that padded choices get probability 0 and add 0 * log 0 = 0 (not NaN)
            # to the entropy and its gradient.
            log_p = tf.nn.log_softmax(tf.where(valid_choices, logits, -1e9))
            log_prob = tf.gather(log_p, chosen, axis=1, batch_dims=1)
            entropy = -tf.reduce_sum(tf.exp(log_p) * log_p, axis=1)
            return tf.gather(embedding, chosen), h, c, log_prob, entropy

        zeros = tf.zeros((batch, self.units))
        _, _, _, log_probs, entropies = tf.scan(
            step,
            (kernels, biases, embeddings, valid, tf.transpose(actions)),
            initializer=(
                tf.tile(v["start"], (batch, 1)),
                zeros,
                zeros,
                tf.zeros((batch,)),
                tf.zeros((batch,)),
            ),
        )
        return tf.reduce_sum(log_probs, axis=0), tf.reduce_sum(entropies, axis=0)
