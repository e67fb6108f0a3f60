"""Seconds to the first finished step of a fit, and traces of the train step: `training.fit`
(optimizer, loss and metric state built before `model.fit`) beside a plain `model.fit`.

Both fit the same child-sized model (same seed, same data) in one process, alternating which
goes first over --repeats rounds, and the final weights are compared (they must be equal: the
state is created either way, only earlier).

    python bench/first_step.py                      # NASNet-A, N=2 F=8, aux head, 20 steps
    python bench/first_step.py --blocks 1 --filters 4 --steps 10 --repeats 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import numpy as np

from keras_nasnet import data, training


class FirstStep(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0 and not hasattr(self, "seconds"):
            self.seconds = time.perf_counter() - self.start


def one_fit(prebuilt: bool, args) -> tuple[float, float, int, list]:
    settings = training.TrainingSettings(
        num_blocks=args.blocks,
        filters=args.filters,
        batch_size=args.batch_size,
        use_aux_head=True,
        drop_path_keep_prob=0.9,
    )
    dataset = data.load(
        "fashion_mnist_sample",
        f"train[:{args.steps * args.batch_size}]",
        batch_size=args.batch_size,
        augment=False,
        shuffle=True,
        seed=0,
    )
    model = training.build_model(
        "nasnet_a", (28, 28, 1), 10, settings, steps_per_epoch=args.steps, seed=0
    )
    traces = []
    train_step = model.train_step

    def counted(batch):  # Python runs here only while TensorFlow traces the step
        traces.append(1)
        return train_step(batch)

    model.train_step = counted
    timer = FirstStep()
    start = time.perf_counter()
    if prebuilt:
        training.fit(model, dataset, 1, callbacks=[timer])
    else:
        model.fit(training.with_aux_targets(dataset, model), epochs=1, callbacks=[timer], verbose=0)
    total = time.perf_counter() - start
    return timer.seconds, total, len(traces), [np.asarray(w) for w in model.get_weights()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--filters", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    results = {False: [], True: []}
    weights = {}
    for round_ in range(args.repeats):
        for prebuilt in (False, True) if round_ % 2 == 0 else (True, False):
            first, total, traces, weights[prebuilt] = one_fit(prebuilt, args)
            results[prebuilt].append((first, total, traces))
            label = "training.fit" if prebuilt else "model.fit"
            print(
                f"round {round_} {label:12s} first step {first:6.1f} s, fit {total:6.1f} s, "
                f"{traces} trace(s)",
                flush=True,
            )
    plain, ours = results[False], results[True]
    equal = all(np.array_equal(a, b) for a, b in zip(weights[False], weights[True]))
    first_plain = statistics.median(r[0] for r in plain)
    first_ours = statistics.median(r[0] for r in ours)
    print(
        f"N={args.blocks} F={args.filters} batch {args.batch_size}, {args.steps} steps: first step "
        f"median {first_plain:.1f} s (model.fit) vs {first_ours:.1f} s (training.fit), ratio "
        f"{first_ours / first_plain:.2f}; whole fit median "
        f"{statistics.median(r[1] for r in plain):.1f} vs "
        f"{statistics.median(r[1] for r in ours):.1f} s; final weights equal: {equal}"
    )


if __name__ == "__main__":
    main()
