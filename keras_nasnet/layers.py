"""Layers NASNet needs beyond keras.layers: ScheduledDropPath, and the normalizations of the
combines "add_layer_norm" and "add_instance_norm".
"""

from __future__ import annotations

import keras
from keras import ops

from .validation import check_int, check_probability


@keras.saving.register_keras_serializable(package="keras_nasnet")
class ScheduledDropPath(keras.layers.Layer):
    """Drops a whole op output per example, more often in later cells and later steps.

    TF-slim's NASNet semantics: during training the output is ``x / keep * mask`` with a
    per-example mask ``floor(keep + U[0, 1))`` of shape ``[batch, 1, 1, 1]``, where

        keep(t) = 1 - min(1, t / T) * ((cell_index + 1) / total_num_cells)
                      * (1 - drop_path_keep_prob)

    At inference the layer is the identity.

    The training step ``t`` is kept by the layer itself: a non-trainable counter that each
    training call advances by one, so plain ``model.fit`` needs no callback, the schedule is
    saved with the model (a resumed training continues where it stopped), and
    ``set_step`` moves it explicitly (for example after changing the batch size).

    Args:
        drop_path_keep_prob: keep probability reached by the last cell at the end of training.
        cell_index: index of the cell this op belongs to, counting the stem cells from 0.
        total_num_cells: number of cells in the network, stem cells included.
        total_training_steps: steps over which the drop rate ramps up linearly.
        seed: optional int seed of the mask.

    Raises:
        ValueError: an argument is out of range.
    """

    def __init__(
        self,
        drop_path_keep_prob,
        cell_index,
        total_num_cells,
        total_training_steps,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        keep = check_probability(drop_path_keep_prob, "drop_path_keep_prob", allow_zero=False)
        total_num_cells = check_int(total_num_cells, "total_num_cells", minimum=1)
        total_training_steps = check_int(total_training_steps, "total_training_steps", minimum=1)
        # The bound is total_num_cells, so the message's "[0, N)" names it.
        cell_index = check_int(
            cell_index, "cell_index", minimum=0, maximum=total_num_cells, max_inclusive=False
        )
        self.drop_path_keep_prob = keep
        self.cell_index = cell_index
        self.total_num_cells = total_num_cells
        self.total_training_steps = total_training_steps
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def build(self, input_shape):
        self.step = self.add_weight(
            name="step",
            shape=(),
            dtype="int64",
            initializer="zeros",
            trainable=False,
            aggregation="only_first_replica",
        )

    @property
    def final_keep_prob(self) -> float:
        """Returns this cell's keep probability once the ramp is over."""
        layer_ratio = (self.cell_index + 1) / self.total_num_cells
        return 1.0 - layer_ratio * (1.0 - self.drop_path_keep_prob)

    def keep_prob(self, step):
        """Returns the keep probability at training `step` (a Python number or a tensor)."""
        if isinstance(step, (int, float)):
            ratio = min(1.0, step / self.total_training_steps)
            return 1.0 - ratio * (1.0 - self.final_keep_prob)
        ratio = ops.minimum(1.0, ops.cast(step, "float32") / float(self.total_training_steps))
        return 1.0 - ratio * (1.0 - self.final_keep_prob)

    def set_step(self, step: int) -> None:
        """Sets the training step the schedule reads next."""
        self.step.assign(int(step))

    def call(self, inputs, training=None):
        if not training:
            return inputs
        keep = ops.cast(self.keep_prob(self.step), inputs.dtype)
        self.step.assign(self.step + 1)
        batch = ops.shape(inputs)[0]
        noise_shape = (batch,) + (1,) * (len(inputs.shape) - 1)
        uniform = keras.random.uniform(noise_shape, dtype=inputs.dtype, seed=self.seed_generator)
        mask = ops.floor(keep + uniform)
        return inputs / keep * mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            drop_path_keep_prob=self.drop_path_keep_prob,
            cell_index=self.cell_index,
            total_num_cells=self.total_num_cells,
            total_training_steps=self.total_training_steps,
            seed=self.seed,
        )
        return config


# Both normalizations are keras.layers.GroupNormalization: groups=1 normalizes each example
# over height, width and channels (TF-slim's `layer_norm` on conv features), groups=channels
# normalizes each channel of each example over height and width (instance norm); both with a
# per-channel scale and offset. A built-in layer needs no custom code to save, loads in any
# Keras 3 without keras_nasnet, runs on every backend and at any spatial size, whereas
# keras.layers.LayerNormalization over (H, W, C) would tie its weights to one input size.
NORMALIZED_COMBINES: dict[str, str] = {
    "add_layer_norm": "layer_norm",
    "add_instance_norm": "instance_norm",
}


def combine_normalization(combine: str, channels: int, name: str, epsilon: float = 1e-3):
    """Returns the normalization layer that follows the add of `combine`.

    Args:
        combine: "add_layer_norm" or "add_instance_norm".
        channels: channels of the normalized tensor (instance norm has one group per channel).
        name: the layer's name.
        epsilon: added to the variance.

    Raises:
        ValueError: `combine` is not one of `NORMALIZED_COMBINES`.
    """
    if combine not in NORMALIZED_COMBINES:
        raise ValueError(
            f"`combine`={combine!r} has no normalization; allowed: "
            f"{', '.join(NORMALIZED_COMBINES)}."
        )
    groups = 1 if combine == "add_layer_norm" else channels
    return keras.layers.GroupNormalization(groups=groups, epsilon=epsilon, name=name)
