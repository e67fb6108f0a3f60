"""Trains a tiny NASNet for a few steps with and without MirroredStrategy on 2 logical CPUs.

Run as a script (TensorFlow must not be initialized yet); prints one JSON line: the final
losses without and with the strategy (aux head and drop path on), the largest weight
difference, and the drop-path step counters of the model trained under the strategy.

Drop path keeps with probability 1 - 1e-9 here: its layers, schedule and step counters run as
in training, yet no path is dropped, so both runs stay comparable (a real drop draws
different masks per replica).

In float64: in float32 the round-off of a tiny model's batch statistics is amplified so much
over three steps that the comparison cannot tell a wiring error from round-off (see
docs/distributed.md). `--unsynchronized` turns synchronized batch norm off under the
strategy, the wiring error the comparison must catch.
"""

import json
import sys

from keras_nasnet.distribute import make_strategy

strategy = make_strategy("mirrored", 2)  # before TensorFlow initializes: splits the CPU

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

keras.config.set_floatx("float64")

from keras_nasnet import ScheduledDropPath  # noqa: E402
from keras_nasnet.compat import flatten_layers  # noqa: E402
from keras_nasnet.distribute import synchronize_batch_norm  # noqa: E402
from keras_nasnet.search import SearchSpace  # noqa: E402
from keras_nasnet.training import TrainingSettings, build_model, fit  # noqa: E402

STEPS, BATCH = 3, 16
rng = np.random.default_rng(0)
x = rng.uniform(0, 1, (STEPS * BATCH, 16, 16, 1)).astype("float64")
y = rng.integers(0, 4, STEPS * BATCH).astype("int32")
SPACE = SearchSpace(ops=("sep_conv_3x3",), num_blocks=1, combines=("add",))
CELL = SPACE.decode(SPACE.sample_uniform(np.random.default_rng(0)))


def data():
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)


def train(settings, strategy):
    keras.utils.set_random_seed(0)
    model = build_model(CELL, (16, 16, 1), 4, settings, STEPS, seed=0, strategy=strategy)
    if strategy is not None and "--unsynchronized" in sys.argv[1:]:
        synchronize_batch_norm(model, False)
    history = fit(model, data(), epochs=1)
    return model, history.history["loss"][-1]


settings = TrainingSettings(
    num_blocks=1,
    filters=4,
    epochs=1,
    batch_size=BATCH,
    weight_decay=0.0,
    use_aux_head=True,
    drop_path_keep_prob=1 - 1e-9,
)
single, loss_single = train(settings, None)
mirrored, loss_mirrored = train(settings, strategy)
diff = max(
    float(np.max(np.abs(a - b))) for a, b in zip(single.get_weights(), mirrored.get_weights())
)
# Every drop-path layer's step counter advances once per global step, not once per replica.
steps = sorted(
    {
        int(layer.step.numpy())
        for layer in flatten_layers(mirrored)
        if isinstance(layer, ScheduledDropPath)
    }
)
print(
    json.dumps(
        {
            "losses": [loss_single, loss_mirrored],
            "max_weight_diff": diff,
            "outputs": len(mirrored.outputs),
            "replicas": strategy.num_replicas_in_sync,
            "drop_path_steps": steps,
        }
    )
)
