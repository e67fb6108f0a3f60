"""The ops of a supernet operand, written with `keras.ops` over weights stacked per input.

ENAS gives every op one weight slice per possible input state and picks the slice by index;
so does `SharedOperand`: for each group of inputs of one shape and stride, every weight of
every op is stacked along a first axis (one row per input of the group). A single switch over
(group, op) runs only the chosen op on the chosen input with the chosen slice. On TensorFlow its
gradient is a custom one: a second switch runs the chosen op again under its own tape and
returns its gradients (zeros for the other ops' slices), because the gradient TensorFlow builds
for a switch makes every branch return the intermediates of all branches and took minutes to
trace on a 5-cell supernet. Running every op and keeping the chosen one (`compute_all`, ENAS's
own way) needs no switch at all but spent most of a training step copying outputs and adding
zero gradients on 2 CPU cores (docs/benchmarks.md).

The ops compute what the registry's layers (`keras_nasnet.ops`) compute, with batch norm on
batch statistics (ENAS's search; no moving statistics are kept): ReLU -> conv -> BN, separable
convs twice (only the first strided), pools with a 1x1 projection when the channels change,
identity with ReLU -> strided 1x1 conv -> BN when the stride or the channels change; strided
ops zero-pad explicitly as the registry does. With `synchronized` set (the trainer sets it under
a strategy of several replicas) the batch statistics are those of the global batch, summed over
the replicas, so a step on R replicas computes what one step on one device does.
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
from keras import layers, ops

from ...ops import same_padding

# name -> (kind, kernel size)
SHARED_OPS = {
    "identity": ("identity", 1),
    "sep_conv_3x3": ("separable", 3),
    "sep_conv_5x5": ("separable", 5),
    "sep_conv_7x7": ("separable", 7),
    "avg_pool_3x3": ("avg", 3),
    "avg_pool_5x5": ("avg", 5),
    "max_pool_3x3": ("max", 3),
    "max_pool_5x5": ("max", 5),
    "max_pool_7x7": ("max", 7),
    "conv_1x1": ("conv", 1),
    "conv_3x3": ("conv", 3),
}


def weight_shapes(op: str, channels: int, filters: int, stride: int) -> dict:
    """Returns {weight name: shape} of `op` from `channels` to `filters` at `stride`, named after
    the registry's layers (prefix + "/kernel", "/gamma", ...); {} for a parameter-free op."""
    kind, size = SHARED_OPS[op]
    bn = {"gamma": (filters,), "beta": (filters,)}
    if kind == "separable":
        shapes = {
            "separable_conv_1/depthwise": (size, size, channels, 1),
            "separable_conv_1/pointwise": (1, 1, channels, filters),
            "separable_conv_2/depthwise": (size, size, filters, 1),
            "separable_conv_2/pointwise": (1, 1, filters, filters),
        }
        shapes.update({f"separable_conv_1_bn/{k}": v for k, v in bn.items()})
        shapes.update({f"separable_conv_2_bn/{k}": v for k, v in bn.items()})
        return shapes
    if kind == "conv":
        prefix = f"conv_{size}x{size}"
        return {
            f"{prefix}/kernel": (size, size, channels, filters),
            **{f"{prefix}_bn/{k}": v for k, v in bn.items()},
        }
    if kind == "identity":
        if stride == 1 and channels == filters:
            return {}
        return {
            "identity_conv/kernel": (1, 1, channels, filters),
            **{f"identity_bn/{k}": v for k, v in bn.items()},
        }
    if channels == filters:  # a pool
        return {}
    return {
        "pool_projection/kernel": (1, 1, channels, filters),
        **{f"pool_projection_bn/{k}": v for k, v in bn.items()},
    }


def layer_weights(op: str, name: str, values: dict) -> dict:
    """Returns {registry layer name: [weights]} for `op` named `name` (e.g. "normal_left1_0")
    from one input's slice `values` ({weight name: array}, as `weight_shapes` names them)."""
    out = {}
    for key, value in values.items():
        prefix, part = key.split("/")
        out.setdefault(f"{prefix}_{name}", {})[part] = value
    result = {}
    for layer_name, parts in out.items():
        if "gamma" in parts:
            ones = parts["gamma"] * 0 + 1
            result[layer_name] = [parts["gamma"], parts["beta"], ones * 0, ones]
        elif "depthwise" in parts:
            result[layer_name] = [parts["depthwise"], parts["pointwise"]]
        else:
            result[layer_name] = [parts["kernel"]]
    return result


def _initializer(part: str, seed):
    if part in ("gamma",):
        return keras.initializers.Ones()
    if part == "beta":
        return keras.initializers.Zeros()
    if part in ("depthwise", "pointwise"):
        return keras.initializers.GlorotUniform(seed=seed)
    return keras.initializers.HeNormal(seed=seed)


class SharedOperand(layers.Layer):
    """One operand of one block of one cell position: every (input, op) it may run.

    Args:
        op_names: the space's ops, in decision order.
        inputs: for each state the block may read, (height, width, channels, stride).
        filters: output channels.
        epsilon: of the batch norms.
        seeds: a `keras_nasnet.ops.SeedSequence` for the initializers.
    """

    def __init__(self, op_names, inputs, filters, epsilon, seeds, compute_all=False, **kwargs):
        super().__init__(**kwargs)
        self.compute_all = bool(compute_all)
        self.synchronized = False
        unknown = [op for op in op_names if op not in SHARED_OPS]
        if unknown:
            raise ValueError(
                f"The supernet cannot share ops {unknown}; it supports {', '.join(SHARED_OPS)}."
            )
        self.op_names = tuple(op_names)
        self.filters = filters
        self.epsilon = epsilon
        self.inputs_spec = [tuple(spec) for spec in inputs]
        # Inputs of one (shape, stride) form a group; each weight is stacked over its members.
        self.groups = []
        self.group_of, self.local_index = [], []
        for j, spec in enumerate(self.inputs_spec):
            specs = [group_spec for group_spec, _ in self.groups]
            if spec not in specs:
                self.groups.append((spec, []))
                specs.append(spec)
            g = specs.index(spec)
            self.group_of.append(g)
            self.local_index.append(len(self.groups[g][1]))
            self.groups[g][1].append(j)
        self.stacked = {}
        for g, ((_, _, channels, stride), members) in enumerate(self.groups):
            for op in self.op_names:
                for key, shape in weight_shapes(op, channels, filters, stride).items():
                    part = key.split("/")[1]
                    self.stacked[(g, op, key)] = self.add_weight(
                        shape=(len(members), *shape),
                        initializer=_initializer(part, seeds.next()),
                        name=f"g{g}_{op}_{key.replace('/', '_')}",
                    )
        self.built = True

    def slice_of(self, j: int, op: str) -> dict:
        """Returns {weight name: array} of input `j`'s slice of `op` (for copying)."""
        g, row = self.group_of[j], self.local_index[j]
        return {
            key: variable.numpy()[row]
            for (group, name, key), variable in self.stacked.items()
            if group == g and name == op
        }

    def call(self, states: Sequence, input_index, op_index, compute_all=None):
        """Returns the chosen op on the chosen state (int32 scalar tensors pick them);
        `compute_all` None is the layer's setting."""
        group = ops.take(ops.convert_to_tensor(self.group_of, "int32"), input_index)
        row = ops.take(ops.convert_to_tensor(self.local_index, "int32"), input_index)
        # The slices are gathered outside the switch: its branches then capture plain tensors,
        # whose gradients are simpler to build than a gather's inside a branch.
        weights = {
            key: ops.take(variable, ops.minimum(row, variable.shape[0] - 1), axis=0)
            for key, variable in self.stacked.items()
        }
        index = group * len(self.op_names) + op_index
        compute_all = self.compute_all if compute_all is None else compute_all
        if not compute_all and keras.backend.backend() == "tensorflow":
            return self._switch_recomputed(states, row, index, weights)
        branches = []
        for g, (spec, members) in enumerate(self.groups):
            for op in self.op_names:
                mine = {k[2]: w for k, w in weights.items() if k[0] == g and k[1] == op}
                branches.append(self._branch(spec, members, op, states, row, mine))
        return select_branch(index, branches, compute_all)

    def _switch_recomputed(self, states, row, index, weights):
        # The chosen op only, forward and backward: the gradient is a custom one that runs the
        # chosen op again under its own tape inside a switch, so no gradient of a switch is ever
        # built (slow to trace) and the other ops cost nothing (computing every op and keeping
        # one mostly copies and adds zeros; docs/benchmarks.md).
        import tensorflow as tf

        keys = list(weights)  # grouped by (group, op): `stacked` is filled in that order
        sizes = [int(np.prod(weights[k].shape)) for k in keys]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        used = sorted({m for _, members in self.groups for m in members})
        branches = [(g, op) for g in range(len(self.groups)) for op in self.op_names]
        own = [[i for i, k in enumerate(keys) if (k[0], k[1]) == branch] for branch in branches]

        def chosen_input(xs, g):
            members = self.groups[g][1]
            if len(members) == 1:
                return xs[members[0]], None
            local = ops.minimum(row, len(members) - 1)  # row may belong to another group
            picks = [lambda m=m: xs[m] for m in members]
            return tf.switch_case(local, picks), local

        def run_op(b, x, ws):
            g, op = branches[b]
            return self._op(op, x, {keys[i][2]: ws[i] for i in own[b]}, self.groups[g][0])

        @tf.custom_gradient
        def forward(*args):
            xs = dict(zip(used, args[: len(used)]))
            ws = list(args[len(used) :])
            picked = [chosen_input(xs, g) for g in range(len(self.groups))]
            y = tf.switch_case(
                index,
                [
                    lambda b=b: run_op(b, picked[branches[b][0]][0], ws)
                    for b in range(len(branches))
                ],
            )

            def gradient(dy):
                def backward(b):
                    g = branches[b][0]
                    x = picked[g][0]
                    mine = own[b]
                    with tf.GradientTape() as tape:
                        tape.watch(x)
                        tape.watch([ws[i] for i in mine])
                        out = run_op(b, x, ws)
                    grads = tape.gradient(
                        out,
                        [x] + [ws[i] for i in mine],
                        output_gradients=dy,
                        unconnected_gradients=tf.UnconnectedGradients.ZERO,
                    )
                    dxs = [
                        grads[0] if h == g else tf.zeros_like(picked[h][0])
                        for h in range(len(picked))
                    ]
                    # One flat vector of every weight's gradient: the branch's own weights are
                    # contiguous in `keys`, so two zero fills pad them (a fill per weight would
                    # grow the traced graph with the number of weights).
                    first = offsets[mine[0]] if mine else 0
                    last = offsets[mine[-1] + 1] if mine else 0
                    flat = [tf.zeros([first])]
                    flat += [tf.reshape(d, [-1]) for d in grads[1:]]
                    flat.append(tf.zeros([offsets[-1] - last]))
                    return (*dxs, tf.concat(flat, 0))

                out = tf.switch_case(index, [lambda b=b: backward(b) for b in range(len(branches))])
                dxs = out[: len(picked)]
                flat_dws = tf.split(out[len(picked)], sizes) if sizes else []
                dws = [tf.reshape(d, w.shape) for d, w in zip(flat_dws, ws)]
                dstates = {}
                for g, (dx, (_, local)) in enumerate(zip(dxs, picked)):
                    members = self.groups[g][1]
                    for i, m in enumerate(members):
                        dstates[m] = (
                            dx if local is None else dx * tf.cast(tf.equal(local, i), dx.dtype)
                        )
                return [dstates[m] for m in used] + dws

            return y, gradient

        return forward(*[states[m] for m in used], *[weights[k] for k in keys])

    def _branch(self, spec, members, op, states, row, weights):
        def run():
            if len(members) == 1:
                x = states[members[0]]
            else:
                local = ops.minimum(row, len(members) - 1)  # row may belong to another group
                x = ops.take(ops.stack([states[m] for m in members]), local, axis=0)
            return self._op(op, x, weights, spec)

        return run

    # -- the ops -------------------------------------------------------------------------

    def _bn(self, x, weights, prefix):
        mean, variance = global_moments(x) if self.synchronized else ops.moments(x, axes=(0, 1, 2))
        scale = weights[f"{prefix}/gamma"] * ops.rsqrt(variance + self.epsilon)
        return x * scale + (weights[f"{prefix}/beta"] - mean * scale)

    def _pad(self, x, kernel, stride):
        pads = [same_padding(x.shape[axis], kernel, stride) for axis in (1, 2)]
        return ops.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))

    def _op(self, op, x, weights, spec):
        height, width, channels, stride = spec
        kind, size = SHARED_OPS[op]
        filters = self.filters
        if kind == "separable":
            y = ops.relu(x)
            padding = "same"
            if stride != 1:
                y, padding = self._pad(y, size, stride), "valid"
            y = ops.separable_conv(
                y,
                weights["separable_conv_1/depthwise"],
                weights["separable_conv_1/pointwise"],
                strides=stride,
                padding=padding,
            )
            y = ops.relu(self._bn(y, weights, "separable_conv_1_bn"))
            y = ops.separable_conv(
                y,
                weights["separable_conv_2/depthwise"],
                weights["separable_conv_2/pointwise"],
                padding="same",
            )
            return self._bn(y, weights, "separable_conv_2_bn")
        if kind == "conv":
            prefix = f"conv_{size}x{size}"
            y, padding = ops.relu(x), "same"
            if stride != 1 and size != 1:
                y, padding = self._pad(y, size, stride), "valid"
            y = ops.conv(y, weights[f"{prefix}/kernel"], strides=stride, padding=padding)
            return self._bn(y, weights, f"{prefix}_bn")
        if kind == "identity":
            if stride == 1 and channels == filters:
                return x
            y = ops.conv(ops.relu(x), weights["identity_conv/kernel"], strides=stride)
            return self._bn(y, weights, "identity_bn")
        pool = ops.average_pool if kind == "avg" else ops.max_pool
        if stride == 1:
            y = pool(x, size, strides=1, padding="same")
        else:
            y = pool(self._pad(x, size, stride), size, strides=stride, padding="valid")
        if channels == filters:
            return y
        y = ops.conv(y, weights["pool_projection/kernel"])
        return self._bn(y, weights, "pool_projection_bn")


def select_branch(index, branches, compute_all: bool):
    """`keras.ops.switch`, or with `compute_all` every branch run and the chosen one kept
    (ENAS's own way): a switch cannot hold the cross-replica sums of synchronized batch norm
    (TensorFlow refuses a synchronization inside control flow), and its gradient is costly to
    trace."""
    if not compute_all:
        return ops.switch(index, branches)
    return ops.take(ops.stack([branch() for branch in branches]), index, axis=0)


def global_moments(x):
    """Returns the per-channel mean and variance of `x` [N, h, w, c] over the global batch:
    summed over the replicas when called in a replica context of several (TensorFlow), else
    `keras.ops.moments`."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            count = tf.cast(tf.reduce_prod(tf.shape(x)[:3]), x.dtype)
            total, squares, count = context.all_reduce(
                "sum",
                [tf.reduce_sum(x, axis=(0, 1, 2)), tf.reduce_sum(x * x, axis=(0, 1, 2)), count],
            )
            mean = total / count
            return mean, tf.maximum(squares / count - mean * mean, 0.0)
    return ops.moments(x, axes=(0, 1, 2))
