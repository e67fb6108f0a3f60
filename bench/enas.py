"""Weight-sharing search (ENAS) benchmarks: step costs, traces, and a whole search.

1. On ENAS's space (`enas_space()`, 5 ops, B = 5) and a 28x28x1 supernet: build time, the
   first training and evaluation steps (trace + graph optimization), milliseconds per training
   step and per architecture evaluation (one minibatch, a new architecture each time), the trace
   count after 100 different architectures, and the evaluations per hour that gives. The
   training step is timed in each of --modes on the same supernet and architectures,
   interleaved: "chosen" (the trainer's default: the chosen op only) and "every" (every op,
   the chosen one kept, as ENAS's code does).
2. With --search: `search_shared` on the bundled Fashion-MNIST sample (no final training unless
   --final), its wall time split into the shared training, the controller and derive.
3. With --kendall K: how well shared-weight accuracy ranks stand-alone trained accuracy. The
   shared weights train for --epochs on the sample (the search's loop, state in --directory, so
   a rerun resumes), then K architectures of ENAS's space are drawn uniformly; each is scored on
   the whole held-out 10% with the shared weights and trained from scratch with the search's
   child recipe cut to --standalone-epochs, scored on the same held-out images. Each finished
   cell is appended to --results (JSON lines) as it ends and a rerun skips the cells it holds.
   Prints the Kendall tau (tau-b) and the Spearman correlation.

    python bench/enas.py                         # part 1
    python bench/enas.py --search --epochs 3     # part 1 and a whole search
    python bench/enas.py --skip-steps --kendall 20 --epochs 3 --standalone-epochs 1 \
        --directory runs/enas_kendall --results bench/enas_kendall.jsonl   # issue 14
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/proxies.py's helpers


def steps(filters: int, num_cells: int, batch_size: int, archs: int, seed: int, modes) -> None:
    """Times the training step of each mode in `modes` ("chosen": the chosen op only, the
    default; "every": every op, the chosen one kept) on the same supernet and architectures,
    interleaved, and the evaluation step."""
    from keras_nasnet.search.enas import SharedTrainer
    from keras_nasnet.search.supernet import Supernet, enas_space

    space = enas_space()
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(batch_size, 28, 28, 1)).astype("float32")
    labels = rng.integers(0, 10, batch_size)
    start = time.perf_counter()
    net = Supernet(space, input_shape=(28, 28, 1), classes=10, filters=filters, num_cells=num_cells)
    trainers = {mode: SharedTrainer(net, compute_all_ops=mode == "every") for mode in modes}
    print(
        f"supernet F={filters} N={num_cells}: {net.count_params():,} shared weights, "
        f"{len(net.trainable_variables)} variables, built in {time.perf_counter() - start:.1f} s"
    )
    for mode, trainer in trainers.items():
        start = time.perf_counter()
        trainer.train_step(images, labels, space.sample_uniform(rng))
        seconds = time.perf_counter() - start
        print(f"first training step, {mode} op(s) (trace + graph optimization): {seconds:.1f} s")
    evaluator = trainers[modes[0]]
    start = time.perf_counter()
    evaluator.evaluate(images, labels, space.sample_uniform(rng))
    seconds = time.perf_counter() - start
    print(f"first evaluation step (trace + graph optimization): {seconds:.1f} s")
    distinct = {space.sample_uniform(rng) for _ in range(archs)}
    train_ms = {mode: [] for mode in modes}
    eval_ms = []
    for indices in distinct:
        for mode, trainer in trainers.items():
            start = time.perf_counter()
            trainer.train_step(images, labels, indices)
            train_ms[mode].append(1000 * (time.perf_counter() - start))
        start = time.perf_counter()
        evaluator.evaluate(images, labels, indices)
        eval_ms.append(1000 * (time.perf_counter() - start))
    for mode in modes:
        print(
            f"{len(distinct)} different architectures, batch {batch_size}: training step, {mode} "
            f"op(s): median {np.median(train_ms[mode]):.1f} ms (mean {np.mean(train_ms[mode]):.1f})"
        )
    if len(modes) > 1:
        ratio = np.median(train_ms[modes[1]]) / np.median(train_ms[modes[0]])
        print(f"training step, median {modes[1]} / median {modes[0]}: {ratio:.2f}")
    print(
        f"evaluation step (chosen ops): median {np.median(eval_ms):.1f} ms "
        f"(mean {np.mean(eval_ms):.1f})"
    )
    print(f"traces after them: {[t.traces for t in trainers.values()]}")
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


def kendall_tau(a, b) -> float:
    """Returns Kendall's tau-b of `a` and `b` (ties in either count as neither agreement nor
    disagreement, and shrink the denominator)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    concordant = discordant = ties_a = ties_b = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
            if da == 0 and db == 0:
                continue
            if da == 0:
                ties_a += 1
            elif db == 0:
                ties_b += 1
            elif da == db:
                concordant += 1
            else:
                discordant += 1
    pairs_a = concordant + discordant + ties_b  # pairs not tied in a
    pairs_b = concordant + discordant + ties_a
    if pairs_a == 0 or pairs_b == 0:
        return float("nan")
    return (concordant - discordant) / np.sqrt(pairs_a * pairs_b)


def kendall(
    count: int, epochs: int, standalone_epochs: int, filters: int, directory: str, results: str
):
    from proxies import read_results, spearman, validation_accuracy

    from keras_nasnet.search.child import CHILD_SETTINGS
    from keras_nasnet.search.enas import EnasSearch, SharedSettings, load_dataset

    train, validation, classes = load_dataset("fashion_mnist_sample")
    settings = SharedSettings(filters=filters)
    search = EnasSearch(train, validation, classes, directory, settings=settings, verbose=1)
    start = time.perf_counter()
    search.run(epochs)
    print(f"shared weights: {search.epoch} epochs ({time.perf_counter() - start:.0f} s here)")
    recipe = dataclasses.replace(CHILD_SETTINGS, epochs=standalone_epochs)
    rng = np.random.default_rng(14)
    cells = [search.space.sample_uniform(rng) for _ in range(count)]
    done = read_results(results)
    for i, indices in enumerate(cells):
        if i in done:
            continue
        shared = search.trainer.evaluate_all(*validation, indices)
        start = time.perf_counter()
        standalone = validation_accuracy(search.space.decode(indices), recipe, seed=0)
        row = {
            "cell": i,
            "shared_epochs": search.epoch,
            "standalone_epochs": standalone_epochs,
            "shared_accuracy": shared,
            "standalone_accuracy": standalone,
            "train_seconds": time.perf_counter() - start,
            "indices": [int(v) for v in indices],
        }
        with open(results, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        done[i] = row
        print(f"cell {i}: shared {shared:.4f}, stand-alone {standalone:.4f}", flush=True)
    rows = [done[i] for i in sorted(done) if i < count]
    shared = [r["shared_accuracy"] for r in rows]
    standalone = [r["standalone_accuracy"] for r in rows]
    print(
        f"{len(rows)} cells: Kendall tau {kendall_tau(shared, standalone):+.3f}, Spearman "
        f"{spearman(shared, standalone):+.3f}; shared-weight accuracy "
        f"{min(shared):.3f}-{max(shared):.3f}, stand-alone {min(standalone):.3f}-"
        f"{max(standalone):.3f}"
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
    parser.add_argument(
        "--modes",
        default="chosen,every",
        help="training steps to time side by side: chosen (the default step), every (ENAS's)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kendall", type=int, default=0, help="cells to rank (part 3)")
    parser.add_argument("--standalone-epochs", type=int, default=1)
    parser.add_argument("--directory", default="runs/enas_kendall")
    parser.add_argument("--results", default="bench/enas_kendall.jsonl")
    args = parser.parse_args()
    if not args.skip_steps:
        modes = args.modes.split(",")
        if not modes or any(m not in ("chosen", "every") for m in modes):
            parser.error(f"--modes takes chosen and/or every; received {args.modes!r}")
        steps(args.filters, args.num_cells, args.batch_size, args.archs, args.seed, modes)
    if args.search:
        whole_search(args.epochs, args.filters, args.controller_steps, args.final, args.seed)
    if args.kendall:
        kendall(
            args.kendall,
            args.epochs,
            args.standalone_epochs,
            args.filters,
            args.directory,
            args.results,
        )


if __name__ == "__main__":
    main()
