"""Does building the training state before `model.fit` pay? First step, later steps, traces.

Keras' TensorFlow trainer, with no distribution strategy, creates the optimizer's slots and the
compiled loss and metric variables inside the first trace of the train step, and TensorFlow
then traces the step a second time. Keras' own `Trainer._symbolic_build` (what it runs under a
strategy) creates them beforehand; `training.fit` calls it through
`compat.build_training_state`. This fits one search child (`CHILD_SETTINGS`, one epoch on
--images augmented images of the sample) both ways in one process, the order alternated over
--repeats rounds, and prints the seconds to the first finished step, the seconds per later
step (first to last finished step), the seconds from the last finished step until `fit`
returns, the whole fit and the number of traces of the train step.

The time after the last step is worth watching: now and then `fit` (either way) stalls there
for about 10 s while Python frees traced graph objects (a `py-spy dump --native` shows
`PyOperation` deallocation under `gc_collect_main`). Folded into a "per later step" average,
that stall once looked like slower steps.

    python bench/first_step.py                    # 1,600 images (25 steps of 64), 2 rounds
    python bench/first_step.py --images 5400      # a whole child epoch of the main job
    for i in 1 2 3; do for arm in model.fit prebuilt; do     # one arm per process
        python bench/first_step.py --arm $arm --repeats 1; done; done
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras

from keras_nasnet import compat, data, training
from keras_nasnet.search.child import CHILD_SETTINGS


class StepTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.first = None

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter() - self.start
        if self.first is None:
            self.first = now
        self.last = now


def one_fit(prebuilt: bool, images: int) -> tuple[float, float, float, float, int]:
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
        compat.build_training_state(model, dataset.element_spec)  # what training.fit does
    model.fit(dataset, epochs=1, callbacks=[timer], verbose=0)
    total = time.perf_counter() - start
    per_step = (timer.last - timer.first) / (steps - 1)
    return timer.first, per_step, total - timer.last, total, len(traces)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1600)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--arm",
        choices=("model.fit", "prebuilt"),
        help="fit only this way, once per round (one arm per process: run it alternately)",
    )
    args = parser.parse_args()
    results = {False: [], True: []}
    for round_ in range(args.repeats):
        arms = (False, True) if round_ % 2 == 0 else (True, False)
        if args.arm:
            arms = (args.arm == "prebuilt",)
        for prebuilt in arms:
            first, per_step, after, total, traces = one_fit(prebuilt, args.images)
            results[prebuilt].append((first, per_step, after, total))
            label = "prebuilt" if prebuilt else "model.fit"
            print(
                f"round {round_} {label:9s} first step {first:6.1f} s, later steps "
                f"{per_step:.3f} s each, after the last step {after:5.1f} s, whole fit "
                f"{total:6.1f} s, {traces} trace(s)",
                flush=True,
            )
    for prebuilt, label in ((False, "model.fit"), (True, "prebuilt")):
        if not results[prebuilt]:
            continue
        first, per_step, after, total = (
            statistics.median(column) for column in zip(*results[prebuilt])
        )
        print(
            f"{label:9s} median first step {first:.1f} s, later steps {per_step:.3f} s, "
            f"after the last step {after:.1f} s, whole fit {total:.1f} s"
        )


if __name__ == "__main__":
    main()
