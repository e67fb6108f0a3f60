"""The supernet's training: one step per minibatch on a sampled architecture, and the
evaluation step the controller's rewards come from (ENAS's shared weights)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...validation import check_bool, check_choice, check_int, check_number, check_positive
from .shared_ops import SharedOperand
from .supernet import Supernet


@dataclass(frozen=True)
class SharedSettings:
    """How the shared weights and the controller train (ENAS's settings where they fit 2 cores).

    Attributes:
        filters, num_cells, stem, stem_filters: the supernet's macro settings (`Supernet`).
        batch_size: images per shared-weights step and per reward minibatch.
        learning_rate, momentum, clipnorm: SGD (Nesterov) of the shared weights; ENAS clips the
            gradient norm at 5.
        controller_steps: policy steps per epoch (M; ENAS: 30).
        algorithm: "reinforce" (ENAS) or "ppo".
        controller_learning_rate, entropy_weight, baseline_decay: the learner's (ENAS: 0.0035,
            0.0001, 0.99).
        temperature, tanh_constant: of the controller's logits (ENAS: 5.0, 1.1).
        derive_samples: architectures sampled and scored at the end (K).
    """

    filters: int = 8
    num_cells: int = 1
    stem: str = "cifar"
    stem_filters: Optional[int] = None
    batch_size: int = 64
    learning_rate: float = 0.05
    momentum: float = 0.9
    clipnorm: float = 5.0
    controller_steps: int = 30
    algorithm: str = "reinforce"
    controller_learning_rate: float = 0.0035
    entropy_weight: float = 0.0001
    baseline_decay: float = 0.99
    temperature: float = 5.0
    tanh_constant: float = 1.1
    derive_samples: int = 20

    def __post_init__(self):
        for name in ("filters", "num_cells", "batch_size", "controller_steps", "derive_samples"):
            check_int(getattr(self, name), name, minimum=1)
        check_int(self.stem_filters, "stem_filters", minimum=1, allow_none=True)
        check_choice(self.algorithm, "algorithm", ("reinforce", "ppo"))
        for name in ("learning_rate", "clipnorm", "controller_learning_rate"):
            check_positive(getattr(self, name), name)
        check_number(self.momentum, "momentum", minimum=0, maximum=1, max_inclusive=False)
        check_number(self.entropy_weight, "entropy_weight", minimum=0)
        check_number(
            self.baseline_decay, "baseline_decay", minimum=0, maximum=1, max_inclusive=False
        )
        check_positive(self.temperature, "temperature")
        check_positive(self.tanh_constant, "tanh_constant")


class SharedTrainer:
    """One traced training step and one traced evaluation step of a `Supernet`, for every
    architecture: the architecture is an int32 tensor argument. Both steps run only the chosen
    op of each operand (a switch; the training step's gradient runs the chosen op again under
    its own tape, `shared_ops.SharedOperand`). With `compute_all_ops` (ENAS's own way, and the
    only one under a strategy with synchronized batch norm: TensorFlow cannot sum over replicas
    inside a switch) the training step runs every op and keeps the chosen one; None picks it
    only there.

    `traces` counts the Python-side traces of each step (a retrace would add one).
    """

    def __init__(
        self,
        supernet: Supernet,
        learning_rate=0.05,
        momentum=0.9,
        clipnorm=5.0,
        compute_all_ops: Optional[bool] = None,
        strategy=None,
        synchronized: bool = True,
    ):
        import keras
        import tensorflow as tf

        from ...compat import flatten_layers
        from ...distribute import num_replicas, synchronize_batch_norm

        self.supernet = supernet
        self.learning_rate = check_positive(learning_rate, "learning_rate")
        self.momentum = check_number(momentum, "momentum", minimum=0, maximum=1)
        self.clipnorm = check_positive(clipnorm, "clipnorm")
        self.replicas = num_replicas(strategy)
        self.strategy = strategy if self.replicas > 1 else None
        sync = check_bool(synchronized, "synchronized")
        if compute_all_ops is None:
            compute_all_ops = self.strategy is not None and sync
        self.compute_all_ops = check_bool(compute_all_ops, "compute_all_ops")
        if self.strategy is not None:
            outside = [
                v.path
                for v in supernet.variables
                if not self.strategy.extended.variable_created_in_scope(v.value)
            ]
            if outside:
                raise ValueError(
                    f"The supernet's variables ({outside[0]}, ...) were not created under "
                    "`strategy.scope()`: build the Supernet inside it."
                )
            # Global-batch statistics in every batch norm: one step on R replicas is one
            # step on one device (docs/distributed.md).
            if sync and not self.compute_all_ops:
                raise ValueError(
                    "Synchronized batch norm under a strategy needs compute_all_ops=True: "
                    "TensorFlow cannot sum over replicas inside a switch's branch."
                )
            synchronize_batch_norm(supernet, sync)
            for layer in flatten_layers(supernet):
                if isinstance(layer, SharedOperand):
                    layer.synchronized = sync
        # Nesterov SGD written out: Keras' optimizers trace Python code per variable, and a
        # supernet has hundreds of variables.
        with self._scope():
            self.slots = [
                keras.Variable(np.zeros(v.shape, "float32"), trainable=False, name="momentum")
                for v in supernet.trainable_variables
            ]
        self.loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.traces = {"train": 0, "evaluate": 0}
        spec_arch = tf.TensorSpec((len(supernet.space),), tf.int32)
        shape = (None, *supernet.settings["input_shape"])
        if self.strategy is None:
            self._train = tf.function(
                self._train_step,
                input_signature=[
                    tf.TensorSpec(shape, tf.float32),
                    tf.TensorSpec((None,)),
                    spec_arch,
                ],
            )
        else:
            # PerReplica arguments: traced once per (per-replica) batch shape.
            self._train = tf.function(self._distributed_train_step)
        self._evaluate = tf.function(
            self._evaluate_step,
            input_signature=[tf.TensorSpec(shape, tf.float32), tf.TensorSpec((None,)), spec_arch],
        )

    def _scope(self):
        import contextlib

        return contextlib.nullcontext() if self.strategy is None else self.strategy.scope()

    def _gradients(self, images, labels, arch):
        """Returns (loss, correct predictions, images, gradients of the loss)."""
        import tensorflow as tf

        variables = self.supernet.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.supernet(
                images, architecture=arch, training=True, compute_all_ops=self.compute_all_ops
            )
            loss = self.loss(labels, logits)
        grads = tape.gradient(loss, variables)
        # Ops the architecture did not run have no gradient: they get zeros (as in ENAS,
        # momentum still moves them).
        grads = [
            tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
            for g, v in zip(grads, variables)
        ]
        count = tf.cast(tf.shape(labels)[0], tf.float32)
        return loss, _accuracy(labels, logits) * count, count, grads

    def _apply(self, grads) -> None:
        import tensorflow as tf

        grads, _ = tf.clip_by_global_norm(grads, self.clipnorm)
        for variable, slot, grad in zip(self.supernet.trainable_variables, self.slots, grads):
            velocity = self.momentum * slot + grad
            slot.assign(velocity)
            variable.assign_sub(self.learning_rate * (grad + self.momentum * velocity))

    def _train_step(self, images, labels, arch):
        self.traces["train"] += 1
        loss, correct, count, grads = self._gradients(images, labels, arch)
        self._apply(grads)
        return loss, correct / count

    def _distributed_train_step(self, images, labels, arch):
        """One step on the global batch split over the replicas: Keras' loss divides each
        replica's local mean by R, so the summed gradients are those of the global mean."""
        self.traces["train"] += 1
        strategy = self.strategy
        loss, correct, count, grads = strategy.run(self._gradients, args=(images, labels, arch))

        def total(value):
            return strategy.reduce("SUM", value, axis=None)

        self._apply([total(g) for g in grads])
        return total(loss), total(correct) / total(count)

    def _evaluate_step(self, images, labels, arch):
        self.traces["evaluate"] += 1
        # Only the chosen ops run: the evaluation has no gradient to trace.
        logits = self.supernet(images, architecture=arch, training=True, compute_all_ops=False)
        return self.loss(labels, logits), _accuracy(labels, logits)

    def train_step(self, images, labels, indices) -> tuple[float, float]:
        """Trains the shared weights on one minibatch under architecture `indices`; returns
        (loss, accuracy) of that minibatch before the step. Under a strategy the minibatch is
        global: split evenly over the replicas (its size must be a multiple of their number).
        """
        labels = np.asarray(labels, "float32")
        if self.strategy is None:
            loss, accuracy = self._train(images, labels, _arch(indices))
            return float(loss), float(accuracy)
        images = np.asarray(images, "float32")
        if len(images) % self.replicas:
            raise ValueError(
                f"A minibatch of {len(images)} images does not split evenly over "
                f"{self.replicas} replicas; use a batch size that is a multiple of it."
            )
        per = len(images) // self.replicas

        def split(array):
            return self.strategy.experimental_distribute_values_from_function(
                lambda context: array[
                    context.replica_id_in_sync_group * per : (context.replica_id_in_sync_group + 1)
                    * per
                ]
            )

        loss, accuracy = self._train(split(images), split(labels), _arch(indices))
        return float(loss), float(accuracy)

    def evaluate(self, images, labels, indices) -> tuple[float, float]:
        """Returns (loss, accuracy) of architecture `indices` on one minibatch, shared weights
        and batch-statistics batch norm (as ENAS's reward)."""
        loss, accuracy = self._evaluate(images, np.asarray(labels, "float32"), _arch(indices))
        return float(loss), float(accuracy)

    def evaluate_all(self, images, labels, indices, batch_size: int = 256) -> float:
        """Returns the accuracy of architecture `indices` on all of `images`, in minibatches."""
        correct = 0.0
        for start in range(0, len(images), batch_size):
            stop = min(start + batch_size, len(images))
            _, accuracy = self.evaluate(images[start:stop], labels[start:stop], indices)
            correct += accuracy * (stop - start)
        return correct / len(images)

    # -- state -------------------------------------------------------------------------------

    def get_arrays(self) -> dict:
        """Returns {name: array}: the shared weights and the optimizer's slots."""
        arrays = {f"shared/{i}": w for i, w in enumerate(self.supernet.get_weights())}
        for i, variable in enumerate(self.slots):
            arrays[f"shared_optimizer/{i}"] = np.array(variable.numpy())
        return arrays

    def set_arrays(self, arrays: dict) -> None:
        """Restores `get_arrays()` output. Raises ValueError if from another supernet."""
        weights = self.supernet.get_weights()
        for i, current in enumerate(weights):
            key = f"shared/{i}"
            if key not in arrays or arrays[key].shape != current.shape:
                raise ValueError(f"The saved shared weights do not match this supernet ({key}).")
            weights[i] = arrays[key]
        self.supernet.set_weights(weights)
        for i, variable in enumerate(self.slots):
            key = f"shared_optimizer/{i}"
            if key not in arrays or arrays[key].shape != tuple(variable.shape):
                raise ValueError(f"The saved optimizer state does not match ({key}).")
            variable.assign(arrays[key])


def _arch(indices):
    import tensorflow as tf

    return tf.constant(np.asarray(indices, dtype="int32"))


def _accuracy(labels, logits):
    from keras import ops

    predicted = ops.cast(ops.argmax(logits, axis=-1), "float32")
    return ops.mean(ops.cast(ops.equal(predicted, ops.cast(labels, "float32")), "float32"))
