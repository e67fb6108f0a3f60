"""Search methods at equal wall-clock budgets on the full Fashion-MNIST, then a fair comparison.

Each method runs `keras-nasnet search` on the full Fashion-MNIST (Debian's
`dataset-fashion-mnist`, 60,000 training images of which --validation-size are held out) with
the same `--max-time`, the same child recipe and no final training:

    random              --algorithm random
    ppo                 --algorithm ppo
    evolution           --algorithm evolution
    evolution-p4        --algorithm evolution --population-size 4 --tournament-size 2
    evolution+naswot    --algorithm evolution --prefilter K   (NASWOT picks 1 of K proposals)
    naswot              --algorithm evolution --evaluation proxy:naswot   (no child trained)

Each method searches once per `--search-seeds` seed (directory <method>-seed<S>), every
search with the extra `--search-flags` (an evaluation such as `--fidelity 1:9 --epoch-examples
6656`, a narrowed space `--space-file ...`). Then one `compare` trains NASNet-A's cell (the
reference), each search's best cell (rows <method>-seed<S>) and --random random cells with one
recipe at NASNet-A's parameter count (within --tolerance), --seeds training seeds each, on the
training split, scored on the test split, and prints each row's difference to NASNet-A with
its 95% interval. A method's figure (<directory>/methods.md and methods.json) is over its
searches: the mean test accuracy of its found cells (each the mean of its training seeds) minus
NASNet-A's, with a 95% Welch interval between the found cells' means (one per search seed:
what varies when a user runs the method again) and NASNet-A's runs; the same against the
median random cell (the random row of median mean accuracy).

Everything resumes: a killed search goes on from its saved state (its time budget counts all
its runs), a killed comparison from its finished runs. Each command, its start and end, the
CPU each search ran on and the package versions are appended to <directory>/record.jsonl; the
table is in <directory>/compare/compare.md. A wall-clock budget buys more children on a faster
CPU: run each seed's searches of all methods on one machine, idle otherwise (`--search-seeds 1`
on one day, `--search-seeds 2` on another), then `--compare-only --search-seeds 0 1 2`, which
needs only each search's best_architecture.json (the comparison's runs do not depend on the
machine, and resume from any that finished).

    python bench/search_budget_fashion.py                       # 1 h per method, 3 seeds
    python bench/search_budget_fashion.py --budget 30m --search-seeds 0 1 2 --methods random \
        evolution ppo --search-flags "--fidelity 1:9 --epoch-examples 6656"
    python bench/search_budget_fashion.py --budget 20m --methods random evolution
    python bench/search_budget_fashion.py --budget 30m --methods evolution --max-trials 150 \
        --child-blocks 1 --child-filters 8 --random 1 --blocks 1 --filters 8 --epochs 1
    python bench/search_budget_fashion.py --compare-only        # the table from what ran
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time

METHODS = {
    "random": ["--algorithm", "random"],
    "ppo": ["--algorithm", "ppo"],
    "evolution": ["--algorithm", "evolution"],
    # A population that fits the ten-odd children an hour of whole-child training gives here.
    "evolution-p4": [
        "--algorithm",
        "evolution",
        "--population-size",
        "4",
        "--tournament-size",
        "2",
    ],
    "evolution+naswot": ["--algorithm", "evolution", "--prefilter", "{prefilter}"],
    "naswot": ["--algorithm", "evolution", "--evaluation", "proxy:naswot"],
}
# Enough that the time budget, not the trial count, ends every method (proxy trials take ~1 s).
# The evolution preset's population is max_trials / 15 (10 to 100): give --max-trials near the
# number of children the budget trains, or evolution keeps sampling its initial population.
MAX_TRIALS = 100_000
# The rows `compare` gives the cells of `random:K` (not a method's "random-seed0").
RANDOM_ROW = re.compile(r"random-\d+")


def record(directory: str, entry: dict) -> None:
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **entry}
    with open(os.path.join(directory, "record.jsonl"), "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def versions() -> dict:
    import keras
    import keras_tuner
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_tuner": keras_tuner.__version__,
        "cpus": os.cpu_count(),
    }


def cpu() -> dict:
    """Returns the CPU model and its vector extensions (Linux; {} elsewhere): a wall-clock budget
    buys a different number of children on another CPU, so every search records its own."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return {}
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line and line.strip())
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    flags = set(fields.get("flags", "").split())
    return {
        "model": fields.get("model name"),
        "cpus": os.cpu_count(),
        "extensions": [f for f in ("avx2", "avx512f", "avx512_vnni", "amx_int8") if f in flags],
    }


def search_label(method: str, seed: int) -> str:
    """The directory and comparison row of `method`'s search with `seed`."""
    return f"{method}-seed{seed}"


def search_command(method: str, seed: int, args) -> list:
    options = [part.format(prefilter=args.prefilter) for part in METHODS[method]]
    return [
        os.path.join(os.path.dirname(sys.executable), "keras-nasnet"),
        "search",
        "--dataset",
        "fashion_mnist",
        "--directory",
        os.path.join(args.directory, search_label(method, seed)),
        "--max-trials",
        str(args.max_trials),
        "--max-time",
        args.budget,
        "--seed",
        str(seed),
        "--validation-size",
        str(args.validation_size),
        "--epochs",
        str(args.child_epochs),
        *(["--blocks", str(args.child_blocks)] if args.child_blocks else []),
        *(["--filters", str(args.child_filters)] if args.child_filters else []),
        "--no-final",
        *(["--data-dir", args.data_dir] if args.data_dir else []),
        *options,
        *shlex.split(args.search_flags),
    ]


def run_search(method: str, seed: int, args) -> None:
    command = search_command(method, seed, args)
    record(
        args.directory,
        {
            "event": "search started",
            "method": method,
            "seed": seed,
            "command": command,
            "cpu": cpu(),
        },
    )
    start = time.perf_counter()
    returncode = subprocess.call(command)
    record(
        args.directory,
        {
            "event": "search ended",
            "method": method,
            "seed": seed,
            "returncode": returncode,
            "seconds": round(time.perf_counter() - start, 1),
        },
    )
    if returncode:
        raise SystemExit(
            f"{search_label(method, seed)}: the search exited with {returncode}; rerun to resume it"
        )


def found_cells(methods, seeds, directory: str) -> list:
    """Returns [(row label, best_architecture.json path)] of the searches that finished."""
    found = []
    for method in methods:
        for seed in seeds:
            label = search_label(method, seed)
            path = os.path.join(directory, label, "best_architecture.json")
            if os.path.exists(path):
                found.append((label, path))
            else:
                print(f"{label}: no best_architecture.json yet, left out of the comparison")
    return found


def method_rows(rows, methods, seeds, reference: str = "nasnet_a") -> list:
    """Returns a dict per method with found cells among `rows` (a comparison's rows as in
    compare.json: label, accuracies): its cells' mean accuracies (one per search seed), their
    mean, and its difference to the `reference` row and to the median random cell, each a
    95% Welch interval between the cells' means and that row's runs.

    Raises:
        ValueError: no `reference` row among `rows`.
    """
    from keras_nasnet.compare.stats import welch_interval

    accuracies = {row["label"]: list(row["accuracies"]) for row in rows}
    if reference not in accuracies:
        raise ValueError(f"No {reference!r} row among {sorted(accuracies)}.")
    randoms = sorted(
        (statistics.fmean(values), label)
        for label, values in accuracies.items()
        if RANDOM_ROW.fullmatch(label) and values
    )
    median_random = randoms[(len(randoms) - 1) // 2][1] if randoms else None
    summaries = []
    for method in methods:
        cells = {
            seed: statistics.fmean(accuracies[search_label(method, seed)])
            for seed in seeds
            if accuracies.get(search_label(method, seed))
        }
        if not cells:
            continue
        means = list(cells.values())
        summary = {
            "method": method,
            "cells": cells,
            "mean_accuracy": statistics.fmean(means),
            "minus_reference": _interval(welch_interval(accuracies[reference], means)),
        }
        if median_random is not None:
            summary["median_random"] = median_random
            summary["minus_median_random"] = _interval(
                welch_interval(accuracies[median_random], means)
            )
        summaries.append(summary)
    return summaries


def _interval(interval) -> dict:
    from keras_nasnet.compare.report import interval_text

    # The text kept beside the figures: methods.md is written from methods.json's summaries.
    return {
        "difference": interval.difference,
        "low": interval.low,
        "high": interval.high,
        "text": interval_text(interval, sample="search"),
    }


def methods_markdown(summaries, reference: str = "nasnet_a") -> str:
    """Returns the methods' table (`method_rows`) as Markdown."""
    lines = [
        f"| method | searches | test accuracy of each found cell | mean | minus {reference} "
        "(95% CI) | minus the median random cell (95% CI) |",
        "|---|---|---|---|---|---|",
    ]
    for s in summaries:
        cells = ", ".join(f"{value:.4f} (seed {seed})" for seed, value in s["cells"].items())
        against_random = (
            f"{s['minus_median_random']['text']} ({s['median_random']})"
            if "minus_median_random" in s
            else "-"
        )
        lines.append(
            f"| {s['method']} | {len(s['cells'])} | {cells} | {s['mean_accuracy']:.4f} | "
            f"{s['minus_reference']['text']} | {against_random} |"
        )
    return "\n".join(lines) + "\n"


def write_methods(directory: str, rows, methods, seeds) -> str:
    """Writes methods.md and methods.json into `directory`; returns the Markdown."""
    summaries = method_rows(rows, methods, seeds)
    text = methods_markdown(summaries)
    with open(os.path.join(directory, "methods.md"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(directory, "methods.json"), "w", encoding="utf-8") as f:
        json.dump(summaries, f, indent=1)
    return text


def run_compare(methods, args):
    from keras_nasnet.search import compare
    from keras_nasnet.training import TrainingSettings

    found = found_cells(methods, args.search_seeds, args.directory)
    architectures = [("nasnet_a", "nasnet_a"), *found]
    if args.random:
        architectures.append(f"random:{args.random}")
    recipe = TrainingSettings(
        num_blocks=args.blocks,
        filters=args.filters,
        epochs=args.epochs,
        batch_size=args.batch_size,
    )
    record(
        args.directory,
        {
            "event": "compare started",
            "architectures": [a if isinstance(a, str) else list(a) for a in architectures],
            "seeds": args.seeds,
            "tolerance": args.tolerance,
            "recipe": dataclasses.asdict(recipe),
        },
    )
    result = compare(
        architectures,
        "fashion_mnist",
        os.path.join(args.directory, "compare"),
        seeds=args.seeds,
        recipe=recipe,
        tolerance=args.tolerance,
        data_dir=args.data_dir,
        verbose=True,
    )
    record(args.directory, {"event": "compare ended", "paths": result.paths})
    with open(result.paths["markdown"], encoding="utf-8") as f:
        print(f.read())
    with open(result.paths["json"], encoding="utf-8") as f:
        rows = json.load(f)["rows"]
    print(write_methods(args.directory, rows, methods, args.search_seeds))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--directory", default="runs/search_budget_fashion")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--budget", default="1h", help="wall clock per method (600, 20m, 1h)")
    parser.add_argument(
        "--search-seeds", nargs="+", type=int, default=[0], help="one search per seed and method"
    )
    parser.add_argument(
        "--search-flags", default="", help='more flags of every search, e.g. "--fidelity 1:9"'
    )
    parser.add_argument("--validation-size", type=int, default=5000)
    parser.add_argument("--max-trials", type=int, default=MAX_TRIALS)
    parser.add_argument("--child-epochs", type=int, default=1)
    parser.add_argument("--child-blocks", type=int, default=None, help="child N (search default)")
    parser.add_argument("--child-filters", type=int, default=None, help="child F (search default)")
    parser.add_argument("--prefilter", type=int, default=10)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--random", type=int, default=3, help="random cells in the comparison")
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--filters", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--tolerance", type=float, default=0.05, help="parameters within this of NASNet-A's"
    )
    parser.add_argument("--compare-only", action="store_true")
    return parser


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    os.makedirs(args.directory, exist_ok=True)
    record(
        args.directory,
        {"event": "bench started", "argv": sys.argv[1:] if argv is None else argv, **versions()},
    )
    if not args.compare_only:
        for seed in args.search_seeds:  # seed by seed: a stopped bench has every method's first
            for method in args.methods:
                run_search(method, seed, args)
    run_compare(args.methods, args)


if __name__ == "__main__":
    main()
