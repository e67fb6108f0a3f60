"""Weight-sharing search (ENAS) benchmarks: step costs, traces, and a whole search.

1. On ENAS's space (`enas_space()`, 5 ops, B = 5) and a 28x28x1 supernet: build time, the
   first training and evaluation steps (trace + graph optimization), milliseconds per training
   step and per architecture evaluation (one minibatch, a new architecture each time), the trace
   count after 100 different architectures, and the evaluations per hour that gives.
2. With --search: `search_shared` on the bundled Fashion-MNIST sample (no final training unless
   --final), its wall time split into the shared training, the controller and derive.

    python bench/enas.py                         # part 1
    python bench/enas.py --search --epochs 3     # part 1 and a whole search
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def steps(filters: int, num_cells: int, batch_size: int, archs: int, seed: int) -> None:
    from keras_nasnet.search.enas import SharedTrainer
    from keras_nasnet.search.supernet import Supernet, enas_space

    space = enas_space()
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(batch_size, 28, 28, 1)).astype("float32")
    labels = rng.integers(0, 10, batch_size)
    start = time.perf_counter()
    net = Supernet(space, input_shape=(28, 28, 1), classes=10, filters=filters, num_cells=num_cells)
    trainer = SharedTrainer(net)
    print(
        f"supernet F={filters} N={num_cells}: {net.count_params():,} shared weights, "
        f"{len(net.trainable_variables)} variables, built in {time.perf_counter() - start:.1f} s"
    )
    start = time.perf_counter()
    trainer.train_step(images, labels, space.sample_uniform(rng))
    print(f"first training step (trace + graph optimization): {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    trainer.evaluate(images, labels, space.sample_uniform(rng))
    seconds = time.perf_counter() - start
    print(f"first evaluation step (trace + graph optimization): {seconds:.1f} s")
    distinct = {space.sample_uniform(rng) for _ in range(archs)}
    train_ms, eval_ms = [], []
    for indices in distinct:
        start = time.perf_counter()
        trainer.train_step(images, labels, indices)
        train_ms.append(1000 * (time.perf_counter() - start))
        start = time.perf_counter()
        trainer.evaluate(images, labels, indices)
        eval_ms.append(1000 * (time.perf_counter() - start))
    print(
        f"{len(distinct)} different architectures, batch {batch_size}: training step median "
        f"{np.median(train_ms):.1f} ms (mean {np.mean(train_ms):.1f}); evaluation median "
        f"{np.median(eval_ms):.1f} ms (mean {np.mean(eval_ms):.1f})"
    )
    print(f"traces after them: {trainer.traces}")
    per_hour = 3.6e6 / np.mean(eval_ms)
    print(f"architecture evaluations per hour (one minibatch each): {per_hour:,.0f}")


def whole_search(epochs: int, filters: int, controller_steps: int, final: bool, seed: int):
    from keras_nasnet.search.enas import SharedSettings, search_shared

    settings = SharedSettings(filters=filters, controller_steps=controller_steps)
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        result = search_shared(
            "fashion_mnist_sample",
            directory,
            epochs=epochs,
            settings=settings,
            final=None if final else False,
            seed=seed,
        )
        total = time.perf_counter() - start
    shared = sum(r["shared_seconds"] for r in result.history)
    controller = sum(r["controller_seconds"] for r in result.history)
    evaluations = epochs * controller_steps + settings.derive_samples * 600 // settings.batch_size
    print(
        f"whole search, {epochs} epochs on fashion_mnist_sample: {total:.0f} s wall "
        f"(shared training {shared:.0f} s, controller {controller:.0f} s, derive "
        f"{result.seconds['derive']:.0f} s, final {result.seconds.get('final', 0):.0f} s); "
        f"{evaluations} minibatch evaluations; best shared-weight validation accuracy "
        f"{result.best_accuracy:.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filters", type=int, default=8)
    parser.add_argument("--num-cells", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--archs", type=int, default=100)
    parser.add_argument("--search", action="store_true")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--controller-steps", type=int, default=30)
    parser.add_argument("--final", action="store_true")
    parser.add_argument("--skip-steps", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.skip_steps:
        steps(args.filters, args.num_cells, args.batch_size, args.archs, args.seed)
    if args.search:
        whole_search(args.epochs, args.filters, args.controller_steps, args.final, args.seed)


if __name__ == "__main__":
    main()
