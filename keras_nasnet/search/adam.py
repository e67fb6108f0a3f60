"""Adam for the controller's many small variables: one fused TensorFlow op per variable.

The controller has a head (and an embedding) per decision, about 150 variables for the default
space. `keras.optimizers.Adam` emits some thirty ops per variable through the distribution
machinery, and tracing them was most of a search's first policy update; `ResourceApplyAdam`
computes the same update (Keras' formulation: ``m += (g - m)(1 - beta_1)``, the bias
correction folded into the step size, epsilon added to ``sqrt(v)``) in one op
(docs/benchmarks.md, "The first policy update").
"""

from __future__ import annotations

from typing import Sequence

BETA_1 = 0.9
BETA_2 = 0.999
EPSILON = 1e-7  # Keras' default


class FusedAdam:
    """Adam over fixed `variables`, with its state laid out as `keras.optimizers.Adam` lays out
    its `variables` (iteration, learning rate, then each variable's momentum and velocity), so
    states saved through either load into the other.
    """

    def __init__(self, variables: Sequence, learning_rate: float):
        import tensorflow as tf

        self._targets = list(variables)
        self.iterations = tf.Variable(0, dtype="int64", trainable=False, name="iteration")
        self.learning_rate = tf.Variable(
            learning_rate, dtype="float32", trainable=False, name="learning_rate"
        )
        self._slots = [
            (
                tf.Variable(tf.zeros_like(v), trainable=False, name="momentum"),
                tf.Variable(tf.zeros_like(v), trainable=False, name="velocity"),
            )
            for v in self._targets
        ]

    @property
    def variables(self) -> list:
        return [self.iterations, self.learning_rate] + [s for pair in self._slots for s in pair]

    def apply(self, gradients: Sequence) -> None:
        """Takes one step; `gradients[i]` (dense or `tf.IndexedSlices`) is for `variables[i]`."""
        import tensorflow as tf

        if len(gradients) != len(self._targets):
            raise ValueError(f"Expected {len(self._targets)} gradients; received {len(gradients)}.")
        step = tf.cast(self.iterations + 1, "float32")
        beta_1_power, beta_2_power = tf.pow(BETA_1, step), tf.pow(BETA_2, step)
        beta_1, beta_2, epsilon = tf.constant(BETA_1), tf.constant(BETA_2), tf.constant(EPSILON)
        for variable, gradient, (m, v) in zip(self._targets, gradients, self._slots):
            # Dense: an embedding row that several results of a minibatch chose takes one Adam
            # step on its summed gradient. (Keras' Adam, given `IndexedSlices` with a repeated
            # row, adds each slice's square to the velocity separately: up to sqrt(k) times
            # larger steps for a row chosen k times.)
            tf.raw_ops.ResourceApplyAdam(
                var=variable.handle,
                m=m.handle,
                v=v.handle,
                beta1_power=beta_1_power,
                beta2_power=beta_2_power,
                lr=self.learning_rate,
                beta1=beta_1,
                beta2=beta_2,
                epsilon=epsilon,
                grad=tf.convert_to_tensor(gradient),
            )
        self.iterations.assign_add(1)
