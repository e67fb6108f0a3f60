"""A Keras callback that ends training at a wall-clock deadline."""

from __future__ import annotations

import time
from typing import Callable

import keras


class StopAt(keras.callbacks.Callback):
    """Stops training after the first step that ends at or past `deadline` (a reading of
    `clock`, `time.monotonic` by default) and reports it through `say`: the main job's final
    model ends early rather than take the comparison's time."""

    def __init__(self, deadline: float, say: Callable = print, clock: Callable = time.monotonic):
        super().__init__()
        self.deadline = float(deadline)
        self.say = say
        self.clock = clock
        self.steps = 0
        self.stopped = False

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.clock() >= self.deadline:
            self.model.stop_training = True
            self.stopped = True

    def on_train_end(self, logs=None):
        if self.stopped:
            self.say(
                f"final: stopped after {self.steps} steps, when the plan needs the rest of the "
                "budget (the search ran longer than planned, or this cell costs more than "
                "NASNet-A's)",
                flush=True,
            )
