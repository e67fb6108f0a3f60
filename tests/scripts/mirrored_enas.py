"""Trains a tiny supernet for a few steps on one device and under MirroredStrategy on 2
logical CPUs, one architecture per step; prints one JSON line: each run's losses, the largest
weight difference to the one-device run, and the train-step trace counts.

Run as a script (TensorFlow must not be initialized yet). `--unsynchronized` turns the
global-batch statistics of batch norm off under the strategy: the wiring error the
comparison must catch.
"""

import contextlib
import json
import sys

from keras_nasnet.distribute import make_strategy

strategy = make_strategy("mirrored", 2)  # before TensorFlow initializes: splits the CPU

import numpy as np  # noqa: E402

from keras_nasnet.search.controller import Controller  # noqa: E402
from keras_nasnet.search.enas import SharedTrainer  # noqa: E402
from keras_nasnet.search.space import SearchSpace  # noqa: E402
from keras_nasnet.search.supernet import Supernet  # noqa: E402

STEPS, BATCH = 3, 16
# The smallest shareable space with a conv (batch norms to synchronize) and an input choice:
# tracing, not the steps, is what a larger space costs.
space = SearchSpace(ops=("sep_conv_3x3", "identity"), num_blocks=1, combines=("add",))
rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, (STEPS * BATCH, 12, 12, 1)).astype("float32")
y = rng.integers(0, 3, STEPS * BATCH).astype("int32")
controller = Controller(space, seed=0)
architectures = [controller.sample().actions for _ in range(STEPS)]


def train(strategy, synchronized=True):
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        supernet = Supernet(space, input_shape=(12, 12, 1), classes=3, filters=4, seed=0)
    # No clipping: a wrongly scaled gradient must show in the weights. Every op runs on one
    # device too, as under the strategy: the chosen-op step leaves the moving statistics of an
    # unchosen path alone, which would differ here without being wrong.
    trainer = SharedTrainer(
        supernet,
        clipnorm=1e9,
        strategy=strategy,
        synchronized=synchronized,
        compute_all_ops=True,
    )
    losses = [
        trainer.train_step(x[i * BATCH : (i + 1) * BATCH], y[i * BATCH : (i + 1) * BATCH], arch)[0]
        for i, arch in enumerate(architectures)
    ]
    return supernet.get_weights(), losses, trainer.traces["train"]


single, single_losses, _ = train(None)
mirrored, mirrored_losses, traces = train(strategy, "--unsynchronized" not in sys.argv[1:])
print(
    json.dumps(
        {
            "single": single_losses,
            "mirrored": mirrored_losses,
            "weights": max(float(np.max(np.abs(a - b))) for a, b in zip(single, mirrored)),
            "traces": traces,
        }
    )
)
