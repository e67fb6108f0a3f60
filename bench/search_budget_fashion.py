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

Then one `compare` trains NASNet-A's cell (the reference), each method's best cell and
--random random cells with one recipe at NASNet-A's parameter count (within 5%), --seeds
seeds each, on the training split, scored on the test split, and prints each row's difference
to NASNet-A with its 95% interval.

Everything resumes: a killed search goes on from its saved state (its time budget counts all
its runs), a killed comparison from its finished runs. Each command, its start and end and the
package versions are appended to <directory>/record.jsonl; the table is in
<directory>/compare/compare.md.

    python bench/search_budget_fashion.py                       # 1 h per method, 3 seeds
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


def search_command(method: str, args) -> list:
    options = [part.format(prefilter=args.prefilter) for part in METHODS[method]]
    return [
        os.path.join(os.path.dirname(sys.executable), "keras-nasnet"),
        "search",
        "--dataset",
        "fashion_mnist",
        "--directory",
        os.path.join(args.directory, method),
        "--max-trials",
        str(args.max_trials),
        "--max-time",
        args.budget,
        "--seed",
        str(args.search_seed),
        "--validation-size",
        str(args.validation_size),
        "--epochs",
        str(args.child_epochs),
        *(["--blocks", str(args.child_blocks)] if args.child_blocks else []),
        *(["--filters", str(args.child_filters)] if args.child_filters else []),
        "--no-final",
        *(["--data-dir", args.data_dir] if args.data_dir else []),
        *options,
    ]


def run_search(method: str, args) -> None:
    command = search_command(method, args)
    record(args.directory, {"event": "search started", "method": method, "command": command})
    start = time.perf_counter()
    returncode = subprocess.call(command)
    record(
        args.directory,
        {
            "event": "search ended",
            "method": method,
            "returncode": returncode,
            "seconds": round(time.perf_counter() - start, 1),
        },
    )
    if returncode:
        raise SystemExit(f"{method}: the search exited with {returncode}; rerun to resume it")


def run_compare(methods, args):
    from keras_nasnet.search import compare
    from keras_nasnet.training import TrainingSettings

    found = []
    for method in methods:
        path = os.path.join(args.directory, method, "best_architecture.json")
        if os.path.exists(path):
            found.append((method, path))
        else:
            print(f"{method}: no best_architecture.json yet, left out of the comparison")
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--directory", default="runs/search_budget_fashion")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--budget", default="1h", help="wall clock per method (600, 20m, 1h)")
    parser.add_argument("--search-seed", type=int, default=0)
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
    args = parser.parse_args()
    os.makedirs(args.directory, exist_ok=True)
    record(args.directory, {"event": "bench started", "argv": sys.argv[1:], **versions()})
    if not args.compare_only:
        for method in args.methods:
            run_search(method, args)
    run_compare(args.methods, args)


if __name__ == "__main__":
    main()
