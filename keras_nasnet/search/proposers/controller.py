"""The RNN controller of the NASNet paper: an autoregressive one-layer LSTM over decisions.

At step t the LSTM reads the embedding of decision t-1's choice (a learned start vector at
t = 0) and a softmax head of its own scores decision t's choices. Sampling draws from those
softmaxes with a NumPy generator, so a search is reproducible from its seed and its random
state can be saved and restored exactly. Learning (see `policy.py`) re-scores recorded
decision sequences with teacher forcing under a TensorFlow gradient tape.

A space that declares skip sets (a macro space's Booleans ``layer_{i}_from_{j}``, see
`spaces.decisions.skip_sets_of`) gets the NAS paper's attention for them (Zoph & Le, ICLR 2017,
section 3.3; ENAS's general controller): after layer i's other decisions the LSTM takes one more
step, the layer's *anchor*, whose hidden state h_i decides each earlier layer j by a Bernoulli

    P(j -> i) = sigmoid(v^T tanh(W_prev h_j + W_curr h_i)),

and the next step reads the mean of the chosen anchors' hidden states, ``sum_j s_j h_j / (1 +
sum_j s_j)`` (the start vector after layer 0). Every other space runs exactly as it did.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from ...validation import check_int, check_number, check_positive
from ..spaces.decisions import SkipSet, skip_sets_of
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


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


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


def attention_shapes(units: int) -> dict:
    """Returns `{name: shape}` of the skip attention's weights: W_prev, W_curr and v."""
    return {
        "attention/w_prev": (units, units),
        "attention/w_curr": (units, units),
        "attention/v": (units, 1),
    }


def resolve_skip_sets(decisions, skip_attention: Optional[bool]) -> tuple[SkipSet, ...]:
    """Returns the skip sets the controller decides by attention over `decisions`: those the
    space declares when `skip_attention` is None (none if their layout is broken) or True, none
    when False.

    Raises:
        ValueError: `skip_attention` is True and the space declares no valid skip sets.
    """
    if skip_attention is False:
        return ()
    try:
        sets = skip_sets_of(decisions)
    except ValueError:
        if skip_attention:
            raise
        return ()
    if skip_attention and not any(s.skips for s in sets):
        raise ValueError(
            "`skip_attention=True` needs a space with skip Booleans layer_{i}_from_{j}; "
            f"this one has {list(decisions.names)}."
        )
    return sets


def check_skip_rate(skip_rate: Optional[float]) -> Optional[float]:
    """Returns `skip_rate` (None, or the probability ENAS's skip penalty pulls each skip
    Bernoulli towards) as a float.

    Raises:
        ValueError: `skip_rate` outside (0, 1).
        TypeError: `skip_rate` is not a number.
    """
    if skip_rate is None:
        return None
    return check_number(
        skip_rate, "skip_rate", minimum=0, maximum=1, min_inclusive=False, max_inclusive=False
    )


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

    With skip sets (see the module's docstring) three more variables hold the attention
    (`attention_shapes`); the skip Booleans' own heads and embeddings stay in the packed arrays
    unused (zero gradient), so the packed layout is the same for every space.

    Args:
        space: the `SearchSpace` or `DecisionSpace` whose decisions it emits (a continuous
            dimension as its bins).
        units: LSTM units (the paper: 100).
        temperature: logits are divided by it before the softmax (None: 1).
        tanh_constant: if set, logits become ``tanh_constant * tanh(logits)`` (clipped to
            (-c, c), as in ENAS), which keeps the policy from collapsing early.
        init_range: weights start uniform in [-init_range, init_range] (the paper: 0.1).
        seed: seeds the initial weights and the sampling generator.
        skip_attention: None: decide the skip sets the space declares by attention (plain
            decisions if it declares none, or none in the expected layout); False: never;
            True: require them.

    Raises:
        ValueError: a non-positive size or temperature, or `skip_attention=True` on a space
            without skip sets.
    """

    def __init__(
        self,
        space,
        units: int = 100,
        temperature: Optional[float] = None,
        tanh_constant: Optional[float] = None,
        init_range: float = 0.1,
        seed: int = 0,
        skip_attention: Optional[bool] = None,
    ):
        self.decisions = decision_space_of(space)
        if skip_attention is not None and not isinstance(skip_attention, bool):
            raise TypeError(
                f"`skip_attention` must be None, True or False; received {skip_attention!r}."
            )
        self.skip_sets = resolve_skip_sets(self.decisions, skip_attention)
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
        if self.skip_sets:
            shapes.update(attention_shapes(u))
            # Drawn last, so the other weights start as they do without attention.
            for name in attention_shapes(u):
                arrays[name] = draw(shapes[name])
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

    def _lstm(self, xp, v, x, h, c):
        z = xp.matmul(x, v["lstm/kernel"]) + xp.matmul(h, v["lstm/recurrent"]) + v["lstm/bias"]
        i, f, g, o = xp.split(z, 4, axis=-1)
        c = xp.sigmoid(f) * c + xp.sigmoid(i) * xp.tanh(g)
        return xp.sigmoid(o) * xp.tanh(c), c

    def _scaled(self, xp, logits):
        if self.temperature is not None:
            logits = logits / self.temperature
        if self.tanh_constant is not None:
            logits = self.tanh_constant * xp.tanh(logits)
        return logits

    def _step(self, xp, v, x, h, c, head_kernel, head_bias):
        h, c = self._lstm(xp, v, x, h, c)
        return self._scaled(xp, xp.matmul(h, head_kernel) + head_bias), h, c

    def _attention_logits(self, xp, v, keys, h):
        """Returns the skip logits [batch, layers so far] of anchor `h` [batch, units] against
        `keys` [batch, layers so far, units] (W_prev h_j of each earlier anchor)."""
        query = xp.tanh(keys + xp.matmul(h, v["attention/w_curr"])[:, None, :])
        return self._scaled(xp, xp.matmul(query, v["attention/v"])[:, :, 0])

    # -- sampling ----------------------------------------------------------------------------

    def _walk(self, choose):
        """Runs the recurrence in NumPy (about 50x faster than eager TensorFlow at batch 1).

        `choose(t, log_p)` returns decision t's action; returns the actions and log-softmaxes
        (a skip decision's: log [1 - P, P]). Without skip sets no decision is an anchor, so
        this is the plain recurrence over the decisions.
        """
        v = self._numpy_view()
        by_anchor = {s.anchor: s for s in self.skip_sets}
        x = v["start"]
        h = c = np.zeros((1, self.units), dtype="float32")
        actions, log_ps = [], []
        anchors, keys = [], []  # per layer so far: h_j [1, units], W_prev h_j [1, units]
        while len(actions) < len(self.decisions):
            t = len(actions)
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
            if t not in by_anchor:
                continue
            skip_set = by_anchor[t]
            h, c = self._lstm(_NumpyMath, v, x, h, c)
            x = v["start"]
            if skip_set.skips:
                stacked = np.concatenate(keys)[None]  # [1, layer, units]
                skip_logits = self._attention_logits(_NumpyMath, v, stacked, h)
                chosen = []
                for index, logit in zip(skip_set.skips, skip_logits[0].astype("float64")):
                    log_p = np.array([_log_sigmoid(-logit), _log_sigmoid(logit)])
                    chosen.append(int(choose(index, log_p)))
                    actions.append(chosen[-1])
                    log_ps.append(log_p)
                weights = np.array(chosen, dtype="float32")
                x = (weights @ np.concatenate(anchors))[None, :] / (1.0 + weights.sum())
            anchors.append(h)
            keys.append(np.matmul(h, v["attention/w_prev"]))
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
        `actions` (None for a decision that is not active; [1 - P, P] for a skip decided by
        attention).

        Raises:
            ValueError: `actions` has the wrong length.
        """
        if len(actions) != len(self.decisions):
            raise ValueError(f"Expected {len(self.decisions)} actions; received {len(actions)}.")
        _, log_ps = self._walk(lambda t, log_p: actions[t])
        return [None if log_p is None else np.exp(log_p) for log_p in log_ps]

    # -- scoring (differentiable) ------------------------------------------------------------

    def _scoring_inputs(self, tf, actions, mask):
        """Returns (valid [decisions, max choices] Boolean, batch size, mask [decisions, batch],
        chosen [decisions, batch]) of `actions` [batch, decisions] and `mask` (None: all
        active), as both scoring scans read them."""
        actions = tf.convert_to_tensor(actions, dtype="int32")
        counts = self.decisions.choice_counts
        valid = tf.constant(np.arange(max(counts))[None, :] < np.array(counts)[:, None])
        if mask is None:
            mask = tf.ones(tf.shape(actions), dtype="float32")
        mask = tf.transpose(tf.convert_to_tensor(mask, dtype="float32"))
        # Sampling feeds an inactive decision's category 0 to the next one.
        chosen = tf.where(mask > 0, tf.transpose(actions), 0)
        return valid, tf.shape(actions)[0], mask, chosen

    def log_prob_and_entropy(self, actions, mask=None):
        """Returns (log-probabilities [batch], entropies [batch]) of decision sequences `actions`.

        `actions` is an int tensor or array [batch, len(space)]; `mask` (float, same shape; see
        `active_mask`) marks the active decisions (None: all): an inactive one adds no term and
        leaves the LSTM's state as it was, as in sampling. Plain TensorFlow ops: call it under
        `tf.GradientTape` (and inside `tf.function` for speed) to differentiate with respect to
        `trainable_variables`.
        """
        if self.skip_sets:
            log_prob, entropy, _ = self._score_with_attention(actions, mask, None)
            return log_prob, entropy
        tf = _tf()
        v = self._variables
        valid, batch, mask, chosen = self._scoring_inputs(tf, actions, mask)
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

    def score(self, actions, mask=None, skip_rate: Optional[float] = None):
        """Returns (log-probabilities, entropies, skip penalties), each [batch], of `actions`
        (see `log_prob_and_entropy`).

        The skip penalty is ENAS's: the KL divergence of each skip Bernoulli from one of
        probability `skip_rate`, summed over a layer's skips and averaged over the layers that
        have skips; 0 without skip sets or without `skip_rate`.

        Raises:
            ValueError: `skip_rate` outside (0, 1).
        """
        skip_rate = check_skip_rate(skip_rate)
        if self.skip_sets:
            return self._score_with_attention(actions, mask, skip_rate)
        log_prob, entropy = self.log_prob_and_entropy(actions, mask)
        return log_prob, entropy, _tf().zeros_like(log_prob)

    def _attention_plan(self) -> dict:
        """Returns, per decision (arrays [decisions]), what the scoring scan does at it: a skip
        (and its source layer, and whether it ends its set) or a categorical decision (and
        whether its layer's anchor step follows, for which layer)."""
        n, layers = len(self.decisions), len(self.skip_sets)
        plan = {
            "is_skip": np.zeros(n, bool),
            "source": np.zeros(n, "int32"),
            "last_skip": np.zeros(n, bool),
            "is_anchor": np.zeros(n, bool),
            "anchor_mask": np.zeros((n, layers), "float32"),
        }
        for skip_set in self.skip_sets:
            plan["is_anchor"][skip_set.anchor] = True
            plan["anchor_mask"][skip_set.anchor, skip_set.layer] = 1.0
            for j, index in enumerate(skip_set.skips):
                plan["is_skip"][index] = True
                plan["source"][index] = j
            if skip_set.skips:
                plan["last_skip"][skip_set.skips[-1]] = True
        return plan

    def _score_with_attention(self, actions, mask, skip_rate):
        # One `tf.scan` step per decision, as without skips, so the graph holds one step
        # whatever the depth (tracing an unrolled loop took 4-7 s for 4-6 layers): every step
        # computes a categorical step, an anchor step and a skip term, and keeps the ones its
        # decision's place in `_attention_plan` asks for.
        tf = _tf()
        xp = _TensorFlowMath(tf)
        v = self._variables
        valid, batch, mask, chosen = self._scoring_inputs(tf, actions, mask)
        plan = {name: tf.constant(value) for name, value in self._attention_plan().items()}
        start = tf.tile(v["start"], (batch, 1))
        log_rate = math.log(skip_rate) if skip_rate is not None else 0.0
        log_rest = math.log(1 - skip_rate) if skip_rate is not None else 0.0

        def step(carry, decision):
            x, h, c, anchors, keys, chosen_sum, chosen_count = carry[:7]
            kernel, bias, embedding, valid_choices, action, active = decision[:6]
            is_skip, source, last_skip, is_anchor, anchor_mask = decision[6:]
            # A categorical decision: the LSTM step and its softmax.
            logits, next_h, next_c = self._step(xp, v, x, h, c, kernel, bias)
            log_p = tf.nn.log_softmax(tf.where(valid_choices, logits, -1e9))
            categorical_log_prob = tf.gather(log_p, action, axis=1, batch_dims=1) * active
            categorical_entropy = -tf.reduce_sum(tf.exp(log_p) * log_p, axis=1) * active
            stepped = tf.logical_and(active[:, None] > 0, tf.logical_not(is_skip))
            after_h, after_c = tf.where(stepped, next_h, h), tf.where(stepped, next_c, c)
            after_x = tf.gather(embedding, action)
            # Its layer's anchor step, when it is the layer's last decision.
            anchor_h, anchor_c = self._lstm(xp, v, after_x, after_h, after_c)
            written = anchor_mask[None, :, None]
            anchored = (
                tf.where(is_anchor, anchor_h, after_h),
                tf.where(is_anchor, anchor_c, after_c),
                anchors * (1 - written) + anchor_h[:, None, :] * written,
                keys * (1 - written)
                + tf.matmul(anchor_h, v["attention/w_prev"])[:, None] * written,
                tf.where(is_anchor, start, after_x),
            )
            # A skip: j -> i from anchor h_i (the state it left) and key W_prev h_j.
            key = tf.gather(keys, source, axis=1)
            query = tf.tanh(key + tf.matmul(h, v["attention/w_curr"]))
            logit = self._scaled(xp, tf.matmul(query, v["attention/v"])[:, 0])
            on, off = tf.math.log_sigmoid(logit), tf.math.log_sigmoid(-logit)
            p, skip = tf.sigmoid(logit), tf.cast(action, "float32")
            kl = p * (on - log_rate) + (1 - p) * (off - log_rest)
            skip_sum = chosen_sum + skip[:, None] * tf.gather(anchors, source, axis=1)
            skip_count = chosen_count + skip
            mean = skip_sum / (1.0 + skip_count)[:, None]
            ends = tf.logical_and(is_skip, last_skip)
            return (
                tf.where(is_skip, tf.where(last_skip, mean, x), anchored[4]),
                tf.where(is_skip, h, anchored[0]),
                tf.where(is_skip, c, anchored[1]),
                tf.where(is_skip, anchors, anchored[2]),
                tf.where(is_skip, keys, anchored[3]),
                tf.where(ends, 0.0, tf.where(is_skip, skip_sum, chosen_sum)),
                tf.where(ends, 0.0, tf.where(is_skip, skip_count, chosen_count)),
                tf.where(is_skip, skip * on + (1 - skip) * off, categorical_log_prob),
                tf.where(is_skip, -(p * on + (1 - p) * off), categorical_entropy),
                tf.where(is_skip, kl, 0.0),
            )

        zeros = tf.zeros((batch, self.units))
        memory = tf.zeros((batch, len(self.skip_sets), self.units))
        none = tf.zeros((batch,))
        outputs = tf.scan(
            step,
            (
                v["heads/kernel"],
                v["heads/bias"],
                v["embeddings"],
                valid,
                chosen,
                mask,
                plan["is_skip"],
                plan["source"],
                plan["last_skip"],
                plan["is_anchor"],
                plan["anchor_mask"],
            ),
            initializer=(start, zeros, zeros, memory, memory, zeros, none, none, none, none),
        )
        log_prob, entropy, penalty = (tf.reduce_sum(o, axis=0) for o in outputs[7:])
        if skip_rate is None:
            penalty = tf.zeros_like(penalty)
        layers_with_skips = sum(1 for s in self.skip_sets if s.skips)
        return log_prob, entropy, penalty / layers_with_skips
