"""Does building the training state before `model.fit` pay? First step, later steps, traces.

Keras' TensorFlow trainer, with no distribution strategy, creates the optimizer's slots and the
compiled loss and metric variables inside the first trace of the train step, and TensorFlow
then traces the step a second time. Keras' own `Trainer._symbolic_build` (what it runs under a
strategy) creates them beforehand. This fits one search child (`CHILD_SETTINGS`, one epoch on
--images augmented images of the sample) both ways in one process, the order alternated over
--repeats rounds, and prints the seconds to the first finished step, the seconds per later
step and the number of traces of the train step.

    python bench/first_step.py                    # 1,600 images (25 steps of 64), 2 rounds
    python bench/first_step.py --images 5400      # a whole child epoch of the main job
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras

from keras_nasnet import data, training
from keras_nasnet.search.child import CHILD_SETTINGS


class StepTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.first = None

    def on_train_batch_end(self, batch, logs=None):
        if self.first is None:
            self.first = time.perf_counter() - self.start


def one_fit(prebuilt: bool, images: int) -> tuple[float, float, int]:
    settings = CHILD_SETTINGS.replace(epochs=1)
    steps = images // settings.batch_size
    dataset = data.load(
        "fashion_mnist_sample",
        f"train[:{steps * settings.batch_size}]",
        batch_size=settings.batch_size,
        augment=True,
        shuffle=True,
        seed=0,
    )
    model = training.build_model("nasnet_a", (28, 28, 1), 10, settings, steps, seed=0)
    dataset = training.with_aux_targets(dataset, model)
    traces = []
    train_step = model.train_step

    def counted(batch):  # Python runs here only while TensorFlow traces the step
        traces.append(1)
        return train_step(batch)

    model.train_step = counted
    timer = StepTimer()
    start = time.perf_counter()
    if prebuilt:
        model._symbolic_build(data_batch=dataset.element_spec)  # private; what Keras runs
    model.fit(dataset, epochs=1, callbacks=[timer], verbose=0)
    total = time.perf_counter() - start
    return timer.first, (total - timer.first) / (steps - 1), len(traces)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1600)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    results = {False: [], True: []}
    for round_ in range(args.repeats):
        for prebuilt in (False, True) if round_ % 2 == 0 else (True, False):
            first, per_step, traces = one_fit(prebuilt, args.images)
            results[prebuilt].append((first, per_step))
            label = "prebuilt" if prebuilt else "model.fit"
            print(
                f"round {round_} {label:9s} first step {first:6.1f} s, later steps "
                f"{per_step:.3f} s each, {traces} trace(s)",
                flush=True,
            )
    for prebuilt, label in ((False, "model.fit"), (True, "prebuilt")):
        firsts = [r[0] for r in results[prebuilt]]
        steps = [r[1] for r in results[prebuilt]]
        print(
            f"{label:9s} median first step {statistics.median(firsts):.1f} s, "
            f"later steps {statistics.median(steps):.3f} s"
        )


if __name__ == "__main__":
    main()
