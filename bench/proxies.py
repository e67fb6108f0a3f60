"""Zero-cost proxies on the Fashion-MNIST sample: seconds per score, and (optionally) how well
each ranks trained architectures, beside the parameter count.

Timing: every proxy of `keras_nasnet.search.proxies` scores NASNet-A and a few random cells of
the paper's space at child size (N = 2, F = 8) from one minibatch of the sample's training
images; prints the median seconds per score (model building included) and the scores.

Correlation (`--correlate K`): K random cells are each trained as a search trains its
children (`CHILD_SETTINGS`: N = 2, F = 8, 5 epochs, on 90% of the training split, scored by the
best accuracy on the held-out 10%) and scored by every proxy (params included) on one minibatch
of the training part; prints the Spearman rank correlation of each with that validation
accuracy. With `--results FILE` each finished cell is appended to FILE as it ends and a rerun
skips the cells FILE holds, so a killed run resumes. Issue 13 asks for K >= 30: on 2 shared CPU
cores that takes hours.

    python bench/proxies.py                               # timing, batch 64, 3 architectures
    python bench/proxies.py --batch 32 --architectures 5
    python bench/proxies.py --correlate 30 --results bench/proxies_cells.jsonl  # the issue's
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time

import numpy as np

from keras_nasnet import data, training
from keras_nasnet.search import proxies
from keras_nasnet.search.child import CHILD_SETTINGS
from keras_nasnet.search.space import SearchSpace

DATASET = "fashion_mnist_sample"


def minibatch(
    size: int, seed: int, dataset: str = DATASET, data_dir=None
) -> tuple[np.ndarray, np.ndarray]:
    """Returns `size` random (images uint8, labels) of `dataset`'s training split, minus the
    10% a search holds out for validation (what `--evaluation proxy:NAME` scores on).

    Raises:
        ValueError: `size` larger than that training part.
    """
    images, labels = data.as_arrays(
        dataset, data.holdout_splits(dataset, 0.1, data_dir)[0], data_dir
    )
    if not 1 <= size <= len(images):
        raise ValueError(f"The minibatch size must be 1..{len(images)}; received {size}.")
    pick = np.random.default_rng(seed).choice(len(images), size, replace=False)
    return images[pick], labels[pick]


def random_architectures(count: int, seed: int) -> list:
    """Returns `count` uniformly sampled architectures of the paper's space."""
    space = SearchSpace()
    rng = np.random.default_rng(seed)
    return [space.decode(space.sample_uniform(rng)) for _ in range(count)]


def time_proxies(architectures, images, labels, repeats: int) -> dict:
    """Returns {proxy: (median seconds, [scores])} over `architectures`, `repeats` times each."""
    results = {}
    for name, proxy in proxies.PROXIES.items():
        seconds, scores = [], []
        for architecture in architectures:
            for _ in range(repeats):
                start = time.perf_counter()
                score = proxy(architecture, images, labels, classes=10, seed=0)
                seconds.append(time.perf_counter() - start)
            scores.append(score)
        results[name] = (statistics.median(seconds), scores)
    return results


def spearman(a, b) -> float:
    """Returns the Spearman rank correlation of `a` and `b` (average ranks for ties)."""

    def ranks(values):
        values = np.asarray(values, dtype=np.float64)
        order = np.argsort(values, kind="stable")
        result = np.empty(len(values))
        result[order] = np.arange(len(values))
        for value in np.unique(values):  # ties share their mean rank
            tied = values == value
            result[tied] = result[tied].mean()
        return result

    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return math.nan
    return float(np.corrcoef(ra, rb)[0, 1])


def validation_accuracy(architecture, settings, seed: int, validation_size=0.1) -> float:
    """Returns `architecture`'s best validation accuracy over `settings.epochs`, trained as a
    search trains its children: the training split minus a held-out `validation_size`
    (`search_dataset`'s default 0.1), augmentation and cutout as the search's, same seed."""
    train_split, val_split = data.holdout_splits(DATASET, validation_size)
    info = data.info(DATASET)
    n_train = data.num_examples(DATASET, train_split)
    steps = math.ceil(n_train / settings.batch_size)
    model = training.build_model(
        architecture, info.image_shape, info.num_classes, settings, steps, name="child", seed=seed
    )
    train_data = data.load(
        DATASET,
        train_split,
        batch_size=settings.batch_size,
        augment=True,
        cutout=settings.cutout,
        seed=seed,
    )
    val_data = data.load(DATASET, val_split, batch_size=256, augment=False)
    history = training.fit(model, train_data, settings.epochs, validation_data=val_data)
    return float(max(history.history["val_accuracy"]))


def read_results(path: str | None) -> dict:
    """Returns {cell index: result dict} of the cells `path` (JSON lines) already holds."""
    results = {}
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:  # a line cut by a kill: that cell reruns
                        continue
                    results[int(row["cell"])] = row
    return results


def correlate(
    count: int, epochs: int, seed: int, images, labels, results_path=None, shard=0, shards=1
) -> dict:
    """Trains `count` random cells (the search's child recipe, `epochs` epochs), scores each
    with every proxy, appends each finished cell to `results_path` (JSON lines) and skips the
    cells it already holds, so a killed run resumes; only cells i with i % `shards` == `shard`
    are trained, so several processes can share the work and the file. Returns the figures:
    Spearman correlation of every proxy with validation accuracy over every finished cell, and
    the per-cell rows."""
    settings = CHILD_SETTINGS.replace(epochs=epochs)
    cells = random_architectures(count, 10_000 + seed)
    done = read_results(results_path)
    for i, cell in enumerate(cells):
        if i % shards != shard:
            continue
        done.update(read_results(results_path))  # another shard may share the file
        if i in done and done[i].get("epochs") == epochs:
            continue
        start = time.perf_counter()
        accuracy = validation_accuracy(cell, settings, seed)
        train_seconds = time.perf_counter() - start
        scores = {
            name: proxy(cell, images, labels, classes=10, seed=seed)
            for name, proxy in proxies.PROXIES.items()
        }
        row = {
            "cell": i,
            "epochs": epochs,
            "accuracy": accuracy,
            "train_seconds": train_seconds,
            "scores": scores,
            "architecture": json.loads(cell.to_json()),
        }
        done[i] = row
        if results_path:
            with open(results_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
        cell_scores = " ".join(f"{name} {value:.4g}" for name, value in scores.items())
        print(
            f"  cell {i}: accuracy {accuracy:.3f} ({train_seconds:.0f} s)  {cell_scores}",
            flush=True,
        )
    done.update(read_results(results_path))
    rows = [done[i] for i in sorted(done) if i < count and done[i].get("epochs") == epochs]
    accuracies = [r["accuracy"] for r in rows]
    figures = {"cells": len(rows), "epochs": epochs, "spearman": {}, "rows": rows}
    for name in proxies.PROXIES:
        figures["spearman"][name] = spearman([r["scores"][name] for r in rows], accuracies)
    return figures


def summarize(results: dict, epochs: int) -> dict:
    """Prints and returns {proxy: Spearman rho} over the finished cells of `results` trained
    for `epochs` epochs, with their count and accuracy range."""
    rows = [r for r in results.values() if r.get("epochs") == epochs]
    if len(rows) < 3:
        raise SystemExit(f"{len(rows)} finished cell(s) of {epochs} epochs: too few to rank.")
    accuracies = [r["accuracy"] for r in rows]
    print(
        f"{len(rows)} cells, {epochs} epoch(s), validation accuracy "
        f"{min(accuracies):.3f} to {max(accuracies):.3f}; Spearman rho with it:"
    )
    rhos = {}
    for name in rows[0]["scores"]:
        rhos[name] = spearman([r["scores"][name] for r in rows], accuracies)
        print(f"  {name:10s} {rhos[name]:+.2f}")
    return rhos


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64, help="minibatch size (default 64)")
    parser.add_argument(
        "--architectures",
        type=int,
        default=3,
        help="NASNet-A plus this many - 1 random cells to time (default 3)",
    )
    parser.add_argument("--repeats", type=int, default=2, help="scores per architecture")
    parser.add_argument(
        "--correlate",
        type=int,
        default=0,
        help="train this many random cells and report Spearman correlations",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=CHILD_SETTINGS.epochs,
        help=f"training epochs per cell (default: the search's {CHILD_SETTINGS.epochs})",
    )
    parser.add_argument(
        "--results",
        help="JSON-lines file of finished cells: appended as each ends, read to resume",
    )
    parser.add_argument(
        "--shard",
        default="0/1",
        help="K/N: train only the cells i with i %% N == K (N processes sharing --results)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", help="JSON file for the figures")
    parser.add_argument(
        "--summarize",
        action="store_true",
        help="only print the correlations of the cells --results already holds (no training)",
    )
    args = parser.parse_args(argv)
    if args.summarize:
        summarize(read_results(args.results), args.epochs)
        return

    images, labels = minibatch(args.batch, args.seed)
    architectures = ["nasnet_a"] + random_architectures(args.architectures - 1, args.seed)
    timing = time_proxies(architectures, images, labels, args.repeats)
    print(f"seconds per score (median, batch {args.batch}, N=2 F=8, model building included):")
    for name, (seconds, scores) in timing.items():
        print(f"  {name:10s} {seconds:6.2f} s   scores: {', '.join(f'{s:.4g}' for s in scores)}")
    figures = {"batch": args.batch, "seconds": {k: v[0] for k, v in timing.items()}}

    if args.correlate:
        shard, shards = (int(part) for part in args.shard.split("/"))
        result = correlate(
            args.correlate, args.epochs, args.seed, images, labels, args.results, shard, shards
        )
        print(
            f"Spearman correlation with best validation accuracy, {result['cells']} random cells, "
            f"{args.epochs} epoch(s) of the search's child recipe on {DATASET} "
            "(90% train / 10% held out):"
        )
        for name, rho in result["spearman"].items():
            print(f"  {name:10s} {rho:+.2f}")
        figures["spearman"] = result["spearman"]
        figures["cells"] = result["cells"]
    if args.output:
        with open(args.output, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
