"""The any-space oracles against random search on small categorical spaces, with default settings.

Does `EvolutionOracle` (defaults) beat `RandomOracle` clearly within 100 trials, and
`ControllerOracle` (PPO, defaults) within 200, on spaces of keras-tuner `Choice`s with
10^4-10^5 points? Each landscape is a function from hyperparameter values to a score:

- target: a hidden point with per-decision weights; the score is the weighted fraction of
  decisions that match it (7 unordered decisions, 43,200 points; optimum 1);
- nk: an NK landscape, each decision's contribution a random table of its value and the
  values of K = 2 other decisions (same space);
- additive: main effects plus seven pairwise interactions, scaled to a spread of 0.1, with
  Gaussian noise of sd 0.01 on every evaluation (same space);
- mlp: a real table, the validation accuracy of a small MLP trained in NumPy on the bundled
  Fashion-MNIST sample, for every one of the 15,552 points of an 8-decision space
  (resolution, depth, width, activation, optimizer, learning rate, schedule, batch size),
  the mean of two training seeds (bench/data/mlp_fashion_table.npz, made by --make-table);
- mlp-noisy: the same table, each evaluation one of the two seeds' accuracies at random (the
  noise of retraining), scored by the mean.

The synthetic landscapes are drawn anew for each seed (seed i: instance i, the same for every
method), and every space is enumerated, so the optimum is known: a run's regret is the optimum
minus the true value of its incumbent (the trial with the best observed value: on a noisy
landscape, what a user would keep). Each oracle is driven as a keras-tuner Tuner would drive it
(create_trial, update_trial, end_trial; its state files go to a temporary directory), with
max_trials = the budget, since the defaults scale with it; random search's runs at smaller
budgets are the first trials of its largest one (it does not depend on max_trials).

Prints a Markdown table per budget (mean best and regret +- standard error over seeds, the mean
rank of each method's best among the methods per seed index, 1 = best, ties averaged, and the
difference from random search paired by seed with its 95% t interval), then the goal: evolution
ahead of random at 100 trials and PPO at 200, the interval above zero, on every landscape.

    python bench/any_space.py            # 20 seeds: 8-18 min with 2 processes on 2 busy cores
    python bench/any_space.py --seeds 40 --checkpoint runs.jsonl   # resumable after a kill
    python bench/any_space.py --landscapes nk --methods random evolution --seeds 5
    python bench/any_space.py --methods ppo --trials 200 --set ppo:update_every=10 --first-seed 20
    python bench/any_space.py --make-table --jobs 2   # regenerate the MLP table (~10 min)
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import math
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TABLE = os.path.join(HERE, "data", "mlp_fashion_table.npz")
SAMPLE = os.path.join(ROOT, "keras_nasnet", "datasets", "fashion_mnist_sample")

LANDSCAPES = ("target", "nk", "additive", "mlp", "mlp-noisy")
METHODS = ("random", "evolution", "ppo", "reinforce")
CONTROLLERS = ("ppo", "reinforce")
GOAL = {"evolution": 100, "ppo": 200}  # method: the budget by which it must beat random

# The synthetic landscapes' space: 7 unordered decisions, 3 * 4 * 4 * 5 * 5 * 6 * 6 = 43,200.
SYNTHETIC_COUNTS = (3, 4, 4, 5, 5, 6, 6)


# -- the MLP table ------------------------------------------------------------------------------

# The table's space, in declaration order (the table's axes).
MLP_SPACE = {
    "resolution": (7, 14),  # input average-pooled from 28 x 28
    "depth": (1, 2, 3),
    "width": (16, 32, 64, 128),
    "activation": ("relu", "tanh", "sigmoid"),
    "optimizer": ("sgd", "momentum", "adam"),
    "learning_rate": (0.001, 0.003, 0.01, 0.03, 0.1, 0.3),
    "schedule": ("constant", "cosine", "warmup_cosine"),
    "batch_size": (16, 32, 64, 128),
}
MLP_TRAIN, MLP_EPOCHS = 4000, 2  # the first 4,000 sample images, 2 epochs
# Trained together, as one batch of models: every learning rate and schedule of a group.
_BATCHED = ("learning_rate", "schedule")


def _read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int(n) for n in np.frombuffer(data[4 : 4 + 4 * ndim], ">u4"))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _fashion_sample():
    x = _read_idx(os.path.join(SAMPLE, "train-images-idx3-ubyte.gz")).astype(np.float32) / 255
    y = _read_idx(os.path.join(SAMPLE, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    xt = _read_idx(os.path.join(SAMPLE, "t10k-images-idx3-ubyte.gz")).astype(np.float32) / 255
    yt = _read_idx(os.path.join(SAMPLE, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    return x, y, xt, yt


def _pool(x: np.ndarray, resolution: int) -> np.ndarray:
    f = 28 // resolution
    return x.reshape(len(x), resolution, f, resolution, f).mean((2, 4)).reshape(len(x), -1)


def _activation(name, z):
    if name == "relu":
        return np.maximum(z, 0)
    if name == "tanh":
        return np.tanh(z)
    return 1 / (1 + np.exp(-z))


def _activation_grad(name, z, a):
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "tanh":
        return 1 - a * a
    return a * (1 - a)


def _schedule(name: str, progress: float) -> float:
    if name == "constant":
        return 1.0
    if name == "cosine":
        return 0.5 * (1 + math.cos(math.pi * progress))
    warmup = 0.1  # warmup_cosine: linear warmup over the first 10% of the steps
    if progress < warmup:
        return progress / warmup
    return 0.5 * (1 + math.cos(math.pi * (progress - warmup) / (1 - warmup)))


_DATA = None


def train_group(group: tuple) -> tuple:
    """Trains the MLPs of one group (every learning rate x schedule of a fixed resolution,
    depth, width, activation, optimizer, batch size and seed) at once, as a batch of models.

    Returns (group, validation correct counts, test correct counts), each of shape
    (learning rates, schedules), out of 1,000 images.
    """
    global _DATA
    if _DATA is None:
        _DATA = _fashion_sample()
    x, y, xt, yt = _DATA
    resolution, depth, width, activation, optimizer, batch, seed = group
    lrs, schedules = MLP_SPACE["learning_rate"], MLP_SPACE["schedule"]
    train, labels = _pool(x[:MLP_TRAIN], resolution), y[:MLP_TRAIN]
    mean, scale = train.mean(0), train.std() + 1e-6
    train = (train - mean) / scale
    evals = [((_pool(x[-1000:], resolution) - mean) / scale, y[-1000:])]
    evals.append(((_pool(xt, resolution) - mean) / scale, yt))

    m = len(lrs) * len(schedules)
    lr = np.repeat(np.array(lrs, np.float32), len(schedules))
    which = np.tile(np.arange(len(schedules)), len(lrs))
    act_index = MLP_SPACE["activation"].index(activation)
    rng = np.random.default_rng([seed, resolution, depth, width, act_index])
    sizes = [train.shape[1]] + [width] * depth + [10]
    gain = 2.0 if activation == "relu" else 1.0
    weights, biases = [], []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        std = math.sqrt((gain if i < depth else 1.0) / a)
        w = rng.normal(0, std, (a, b)).astype(np.float32)
        weights.append(np.broadcast_to(w, (m, a, b)).copy())
        biases.append(np.zeros((m, 1, b), np.float32))
    params = weights + biases
    first = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    order = np.random.default_rng([seed, 99])
    steps = MLP_TRAIN // batch
    total, t = steps * MLP_EPOCHS, 0
    onehot = np.eye(10, dtype=np.float32)
    with np.errstate(all="ignore"):  # a diverging model ends at chance, like a real one
        for _ in range(MLP_EPOCHS):
            permutation = order.permutation(MLP_TRAIN)
            for s in range(steps):
                index = permutation[s * batch : (s + 1) * batch]
                xb, yb = train[index], onehot[labels[index]]
                factor = np.array([_schedule(n, t / total) for n in schedules], np.float32)
                step_lr = (lr * factor[which])[:, None, None]
                hidden, pre = [np.broadcast_to(xb, (m,) + xb.shape)], []
                for i in range(depth):
                    z = hidden[-1] @ weights[i] + biases[i]
                    pre.append(z)
                    hidden.append(_activation(activation, z))
                logits = hidden[-1] @ weights[depth] + biases[depth]
                p = np.exp(logits - logits.max(-1, keepdims=True))
                p /= p.sum(-1, keepdims=True)
                g = (p - yb) / batch
                grads_w, grads_b = [None] * (depth + 1), [None] * (depth + 1)
                for i in range(depth, -1, -1):
                    grads_w[i] = np.swapaxes(hidden[i], 1, 2) @ g
                    grads_b[i] = g.sum(1, keepdims=True)
                    if i > 0:
                        g = (g @ np.swapaxes(weights[i], 1, 2)) * _activation_grad(
                            activation, pre[i - 1], hidden[i]
                        )
                t += 1
                for p_, g_, m1, m2 in zip(params, grads_w + grads_b, first, second):
                    if optimizer == "sgd":
                        p_ -= step_lr * g_
                    elif optimizer == "momentum":
                        m1 *= 0.9
                        m1 += g_
                        p_ -= step_lr * m1
                    else:  # adam
                        m1 *= 0.9
                        m1 += 0.1 * g_
                        m2 *= 0.999
                        m2 += 0.001 * g_ * g_
                        p_ -= step_lr * (m1 / (1 - 0.9**t)) / (np.sqrt(m2 / (1 - 0.999**t)) + 1e-8)
        counts = []
        for features, target in evals:
            h = np.broadcast_to(features, (m,) + features.shape)
            for i in range(depth):
                h = _activation(activation, h @ weights[i] + biases[i])
            logits = np.nan_to_num(h @ weights[depth] + biases[depth], nan=-1e30)
            correct = (np.argmax(logits, -1) == target[None]).sum(1)
            counts.append(correct.reshape(len(lrs), len(schedules)).astype(np.uint16))
    return group, counts[0], counts[1]


def make_table(path: str, seeds: int, jobs: int) -> None:
    """Trains every point of `MLP_SPACE` for `seeds` seeds and writes the table to `path`."""
    names = list(MLP_SPACE)
    outer = [n for n in names if n not in _BATCHED]
    shape = tuple(len(v) for v in MLP_SPACE.values())
    val = np.zeros((seeds,) + shape, np.uint16)
    test = np.zeros_like(val)
    groups = [
        (*combo, seed)
        for seed in range(seeds)
        for combo in itertools.product(*(MLP_SPACE[n] for n in outer))
    ]
    # The slowest groups first, so the pool's last tasks are short.
    groups.sort(key=lambda g: -(g[2] * g[1] * g[0] ** 2 / g[5]))
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")  # one thread per worker process
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        for done, (group, v, t) in enumerate(pool.imap_unordered(train_group, groups), 1):
            where = [MLP_SPACE[n].index(value) for n, value in zip(outer, group[:-1])]
            index = dict(zip(outer, where))
            full = tuple(index.get(n, slice(None)) for n in names)
            val[(group[-1],) + full] = v
            test[(group[-1],) + full] = t
            if done % 100 == 0 or done == len(groups):
                elapsed = time.perf_counter() - start
                print(f"{done}/{len(groups)} groups, {elapsed:.0f} s", flush=True)
    seconds = time.perf_counter() - start
    meta = {
        "what": (
            "Fashion-MNIST sample (keras_nasnet/datasets/fashion_mnist_sample): an MLP trained "
            f"in NumPy on the first {MLP_TRAIN} training images for {MLP_EPOCHS} epochs "
            "(softmax cross-entropy, He init for relu, else LeCun; inputs average-pooled to "
            "resolution x resolution, standardized); val = correct of the last 1,000 training "
            "images (never trained on), test = correct of the 1,000 test images. "
            "momentum = SGD with momentum 0.9; adam = Adam(0.9, 0.999, 1e-8); warmup_cosine: "
            "linear warmup over 10% of the steps, then cosine to 0. A model that diverges "
            "predicts class 0 (100 correct)."
        ),
        "names": names,
        "values": [list(v) for v in MLP_SPACE.values()],
        "seeds": seeds,
        "command": "python bench/any_space.py --make-table " + f"--table-seeds {seeds}",
        "date": time.strftime("%Y-%m-%d"),
        "seconds": round(seconds, 1),
        "jobs": jobs,
        "numpy": np.__version__,
        "machine": platform.processor() or platform.machine(),
    }
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez_compressed(path, val_correct=val, test_correct=test, meta=np.array(json.dumps(meta)))
    print(f"wrote {path}: {val[0].size} points x {seeds} seeds in {seconds:.0f} s")


def load_table(path: str = TABLE) -> tuple[dict, np.ndarray, np.ndarray]:
    """Returns (meta, val_correct, test_correct) of a table written by `make_table`."""
    with np.load(path) as data:
        meta = json.loads(str(data["meta"]))
        return meta, data["val_correct"], data["test_correct"]


# -- landscapes ---------------------------------------------------------------------------------


@dataclass
class Landscape:
    """A score for every point of a categorical space.

    `grid[i0, i1, ...]` is the true score of the point whose decision k takes `values[k][ik]`.
    An evaluation returns it plus Gaussian noise of sd `noise_sd`, or, with `draws`, the same
    point of one of the draws picked at random (retraining noise measured in a table).
    """

    name: str
    names: tuple
    values: tuple
    grid: np.ndarray
    noise_sd: float = 0.0
    draws: Optional[np.ndarray] = None

    @property
    def optimum(self) -> float:
        return float(self.grid.max())

    @property
    def noisy(self) -> bool:
        return self.noise_sd > 0 or self.draws is not None

    def index(self, hp_values: dict) -> tuple:
        return tuple(v.index(hp_values[n]) for n, v in zip(self.names, self.values))

    def evaluate(self, index: tuple, rng: np.random.Generator) -> float:
        if self.draws is not None:
            return float(self.draws[(int(rng.integers(len(self.draws))),) + index])
        value = float(self.grid[index])
        return value + float(rng.normal(0, self.noise_sd)) if self.noise_sd else value

    def hyperparameters(self):
        """Returns the keras-tuner space: one Choice per decision (numbers ordered)."""
        import keras_tuner

        hp = keras_tuner.HyperParameters()
        for name, values in zip(self.names, self.values):
            hp.Choice(name, list(values))
        return hp


def _synthetic_space():
    names = tuple(f"d{i}" for i in range(len(SYNTHETIC_COUNTS)))
    values = tuple(
        tuple(f"{chr(ord('a') + i)}{j}" for j in range(n)) for i, n in enumerate(SYNTHETIC_COUNTS)
    )
    return names, values


def _axis(values: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    shape = [1] * ndim
    shape[axis] = len(values)
    return np.asarray(values, np.float64).reshape(shape)


def make_landscape(name: str, seed: int, table_path: str = TABLE) -> Landscape:
    """Returns landscape `name` (instance `seed` of a synthetic one)."""
    counts = SYNTHETIC_COUNTS
    n = len(counts)
    if name == "target":
        names, values = _synthetic_space()
        rng = np.random.default_rng([seed, 11])
        target = [int(rng.integers(c)) for c in counts]
        weights = rng.uniform(0.2, 1.0, n)
        weights /= weights.sum()
        grid = np.zeros(counts)
        for i, c in enumerate(counts):
            grid = grid + _axis(weights[i] * (np.arange(c) == target[i]), i, n)
        return Landscape(name, names, values, grid)
    if name == "nk":
        names, values = _synthetic_space()
        rng = np.random.default_rng([seed, 12])
        index = np.indices(counts, sparse=True)
        grid = np.zeros(counts)
        for i in range(n):
            others = [j for j in range(n) if j != i]
            j, k = (int(v) for v in rng.choice(others, 2, replace=False))
            table = rng.random((counts[i], counts[j], counts[k]))
            grid = grid + table[index[i], index[j], index[k]]
        return Landscape(name, names, values, grid / n)
    if name == "additive":
        names, values = _synthetic_space()
        rng = np.random.default_rng([seed, 13])
        index = np.indices(counts, sparse=True)
        grid = np.zeros(counts)
        for i, c in enumerate(counts):
            grid = grid + _axis(rng.normal(0, 1, c), i, n)
        pairs = list(itertools.combinations(range(n), 2))
        for p in rng.choice(len(pairs), 7, replace=False):
            i, j = pairs[int(p)]
            grid = grid + rng.normal(0, 0.7, (counts[i], counts[j]))[index[i], index[j]]
        grid = 0.5 + 0.1 * (grid - grid.mean()) / grid.std()
        return Landscape(name, names, values, grid, noise_sd=0.01)
    if name in ("mlp", "mlp-noisy"):
        meta, val, _ = load_table(table_path)
        accuracy = val.astype(np.float64) / 1000
        names = tuple(meta["names"])
        values = tuple(tuple(v) for v in meta["values"])
        draws = accuracy if name == "mlp-noisy" else None
        return Landscape(name, names, values, accuracy.mean(0), draws=draws)
    raise ValueError(f"Unknown landscape {name!r}; allowed: {LANDSCAPES}.")


# -- searches -----------------------------------------------------------------------------------

_LANDSCAPES: dict = {}


def _landscape(name: str, seed: int, table_path: str) -> Landscape:
    synthetic = name not in ("mlp", "mlp-noisy")
    key = (name, seed if synthetic else 0)
    if key not in _LANDSCAPES:
        _LANDSCAPES[key] = make_landscape(name, key[1], table_path)
    return _LANDSCAPES[key]


def _scratch_dir() -> str:
    # keras-tuner and the oracle write several files per trial: a RAM disk keeps that cheap.
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def run_search(landscape: Landscape, method: str, max_trials: int, seed: int, settings=None):
    """Runs one search of `max_trials` trials, driven as a Tuner drives an oracle.

    Returns {"curve": the true value of the incumbent after each trial, "observed": the
    observed values, "unique": distinct points evaluated, "seconds"}.
    """
    import keras_tuner
    from keras_tuner.engine.trial import TrialStatus

    from keras_nasnet import compat
    from keras_nasnet.search import ControllerOracle, EvolutionOracle, RandomOracle

    kwargs = dict(
        objective=keras_tuner.Objective("val_accuracy", "max"),
        max_trials=max_trials,
        seed=seed,
        hyperparameters=landscape.hyperparameters(),
        **(settings or {}),
    )
    if method == "random":
        oracle = RandomOracle(**kwargs)
    elif method == "evolution":
        oracle = EvolutionOracle(**kwargs)
    else:
        oracle = ControllerOracle(algorithm=method, **kwargs)
    oracle.verbose = 0
    rng = np.random.default_rng([seed, 5])  # evaluation noise
    observed, true, points = [], [], set()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=_scratch_dir()) as directory:
        compat.set_project_dir(oracle, directory, "search")
        while True:
            trial = oracle.create_trial("bench")
            if trial.status == TrialStatus.STOPPED:
                break
            index = landscape.index(trial.hyperparameters.values)
            value = landscape.evaluate(index, rng)
            observed.append(value)
            true.append(float(landscape.grid[index]))
            points.add(index)
            oracle.update_trial(trial.trial_id, {"val_accuracy": value})
            trial.status = TrialStatus.COMPLETED
            oracle.end_trial(trial)
    seconds = time.perf_counter() - start
    curve, best_index = [], 0
    for i, value in enumerate(observed):
        if value > observed[best_index]:
            best_index = i
        curve.append(true[best_index])
    return {"curve": curve, "observed": observed, "unique": len(points), "seconds": seconds}


def _init_worker(threads: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def _task(task: tuple) -> tuple:
    landscape_name, method, budget, seed, settings, table_path = task
    landscape = _landscape(landscape_name, seed, table_path)
    result = run_search(landscape, method, budget, seed, settings)
    result["optimum"] = landscape.optimum
    return task[:4], result


# -- statistics ---------------------------------------------------------------------------------


def mean_se(values) -> tuple[float, float]:
    values = np.asarray(values, np.float64)
    se = values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return float(values.mean()), float(se)


def paired_interval(a, b, confidence: float = 0.95) -> tuple[float, float, float]:
    """Returns (mean of a - b, low, high): the t interval of paired differences."""
    from keras_nasnet.compare.stats import t_quantile

    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    mean = float(d.mean())
    if len(d) < 2:
        return mean, float("nan"), float("nan")
    half = t_quantile(0.5 + confidence / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    return mean, mean - half, mean + half


def average_ranks(scores) -> np.ndarray:
    """Returns the rank of each score, 1 = highest, ties given their average rank."""
    scores = np.asarray(scores, np.float64)
    ranks = np.empty(len(scores))
    order = np.argsort(-scores, kind="stable")
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def summarize(runs: dict, landscapes, methods, budgets) -> dict:
    """Returns {landscape: {budget: {method: figures}}} from {(landscape, method, budget,
    seed): run}; random search's smaller budgets are the first trials of its largest run."""
    summary: dict = {}
    for landscape in landscapes:
        summary[landscape] = {}
        for budget in budgets:
            best: dict = {}
            for method in methods:
                run_budget = max(budgets) if method == "random" else budget
                seeds = sorted(
                    s for (ls, m, b, s) in runs if (ls, m, b) == (landscape, method, run_budget)
                )
                best[method] = {
                    s: (
                        runs[landscape, method, run_budget, s]["curve"][budget - 1],
                        runs[landscape, method, run_budget, s]["optimum"],
                    )
                    for s in seeds
                }
            common = sorted(set.intersection(*(set(best[m]) for m in methods)))
            ranks = {m: [] for m in methods}
            for s in common:
                for m, r in zip(methods, average_ranks([best[m][s][0] for m in methods])):
                    ranks[m].append(r)
            rows = {}
            for method in methods:
                seeds = sorted(best[method])
                values = [best[method][s][0] for s in seeds]
                regrets = [best[method][s][1] - best[method][s][0] for s in seeds]
                row = {
                    "seeds": len(seeds),
                    "best": mean_se(values),
                    "regret": mean_se(regrets),
                    "optimum_found": float(np.mean([r <= 1e-12 for r in regrets])),
                    "mean_rank": float(np.mean(ranks[method])) if common else None,
                    "rank_seeds": len(common),
                }
                if method != "random" and "random" in best:
                    paired = [s for s in seeds if s in best["random"]]
                    row["vs_random"] = paired_interval(
                        [best[method][s][0] for s in paired],
                        [best["random"][s][0] for s in paired],
                    )
                rows[method] = row
            summary[landscape][budget] = rows
    return summary


def verdict(row: dict) -> str:
    low, high = row["vs_random"][1:]
    if low > 0:
        return "ahead"
    if high < 0:
        return "behind"
    return "tie"


def markdown(summary: dict, budgets) -> str:
    lines = []
    for budget in budgets:
        lines += [
            f"\n**{budget} trials**\n",
            "| landscape | method | seeds | best | regret | optimum found | mean rank "
            "| best - random [95% CI] |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for landscape, by_budget in summary.items():
            for method, row in by_budget[budget].items():
                b, r = row["best"], row["regret"]
                rank = "" if row["mean_rank"] is None else f"{row['mean_rank']:.2f}"
                versus = ""
                if "vs_random" in row:
                    d, low, high = row["vs_random"]
                    versus = f"{d:+.4f} [{low:+.4f}, {high:+.4f}] {verdict(row)}"
                lines.append(
                    f"| {landscape} | {method} | {row['seeds']} | {b[0]:.4f} ± {b[1]:.4f} "
                    f"| {r[0]:.4f} ± {r[1]:.4f} | {row['optimum_found']:.0%} | {rank} "
                    f"| {versus} |"
                )
    return "\n".join(lines)


def goal_lines(summary: dict) -> list[str]:
    lines = []
    for landscape, by_budget in summary.items():
        parts = []
        for method, budget in GOAL.items():
            row = by_budget.get(budget, {}).get(method)
            if row is None or "vs_random" not in row:
                continue
            d, low, high = row["vs_random"]
            state = "reached" if low > 0 else "NOT reached"
            parts.append(f"{method} at {budget}: {d:+.4f} [{low:+.4f}, {high:+.4f}] {state}")
        if parts:
            lines.append(f"- {landscape}: " + "; ".join(parts))
    return lines


def _read_checkpoint(path: Optional[str], tasks) -> dict:
    """Returns {(landscape, method, budget, seed): run} of the runs `path` holds for `tasks`."""
    if not path or not os.path.exists(path):
        return {}
    wanted = {tuple(t[:4]): t[4] or {} for t in tasks}
    runs = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by a kill
                continue
            key = tuple(record["key"])
            if wanted.get(key) == record["settings"]:
                runs[key] = record["run"]
    return runs


def _append_checkpoint(path: Optional[str], key, settings, result) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"key": list(key), "settings": settings or {}, "run": result}))
            f.write("\n")


# -- the command --------------------------------------------------------------------------------


def _parse_settings(items, parser) -> dict:
    settings: dict = {}
    for item in items:
        method, sep, rest = item.partition(":")
        name, sep2, value = rest.partition("=")
        if not (sep and sep2) or method not in METHODS[1:]:
            parser.error(f"--set takes METHOD:NAME=VALUE (METHOD in {METHODS[1:]}); got {item!r}")
        try:
            parsed = int(value)
        except ValueError:
            parsed = float(value)
        settings.setdefault(method, {})[name] = parsed
    return settings


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--landscapes", nargs="+", choices=LANDSCAPES, default=list(LANDSCAPES))
    parser.add_argument(
        "--methods", nargs="+", choices=METHODS, default=["random", "evolution", "ppo"]
    )
    parser.add_argument("--trials", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--seeds", type=int, default=20, help="seeds per method (0, 1, ...)")
    parser.add_argument("--first-seed", type=int, default=0, help="the first seed (held-out runs)")
    parser.add_argument(
        "--controller-seeds", type=int, help="seeds of ppo and reinforce (default: --seeds)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="METHOD:NAME=VALUE",
        help="an oracle setting instead of its default, e.g. evolution:population_size=20",
    )
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--output", help="write the runs and the summary to this JSON file")
    parser.add_argument(
        "--checkpoint",
        help="a JSON-lines file each finished run is appended to; runs it already holds "
        "(same landscape, method, budget, seed and settings) are not run again",
    )
    parser.add_argument("--table", default=TABLE, help="the MLP table (.npz)")
    parser.add_argument("--make-table", action="store_true", help="train the MLP table")
    parser.add_argument("--table-seeds", type=int, default=2)
    args = parser.parse_args(argv)

    if args.make_table:
        make_table(args.table, args.table_seeds, args.jobs)
        return
    settings = _parse_settings(args.set, parser)
    budgets = sorted(set(args.trials))
    methods = [m for m in METHODS if m in args.methods]
    tasks = []
    for landscape in args.landscapes:
        for method in methods:
            seeds = args.seeds
            if method in CONTROLLERS and args.controller_seeds is not None:
                seeds = args.controller_seeds
            for budget in [max(budgets)] if method == "random" else budgets:
                for seed in range(args.first_seed, args.first_seed + seeds):
                    tasks.append(
                        (landscape, method, budget, seed, settings.get(method), args.table)
                    )
    # Controllers first (slowest), so the pool's last tasks are short.
    tasks.sort(key=lambda t: (t[1] not in CONTROLLERS, -t[2]))
    start = time.perf_counter()
    runs = _read_checkpoint(args.checkpoint, tasks)
    todo = [t for t in tasks if tuple(t[:4]) not in runs]
    if len(todo) < len(tasks):
        print(f"{len(tasks) - len(todo)} runs read from {args.checkpoint}", file=sys.stderr)
    with multiprocessing.get_context("spawn").Pool(
        args.jobs, initializer=_init_worker, initargs=(1,)
    ) as pool:
        for done, (key, result) in enumerate(pool.imap_unordered(_task, todo), 1):
            runs[key] = result
            _append_checkpoint(args.checkpoint, key, settings.get(key[1]), result)
            if done % 50 == 0 or done == len(todo):
                print(
                    f"{done}/{len(todo)} runs, {time.perf_counter() - start:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    seconds = time.perf_counter() - start
    summary = summarize(runs, args.landscapes, methods, budgets)
    changed = "; ".join(f"{m}: {s}" for m, s in settings.items()) or "none (defaults)"
    print(f"## Any-space oracles against random search; settings changed: {changed}")
    print(markdown(summary, budgets))
    print("\nGoal (difference from random search paired by seed, 95% interval above 0):")
    print("\n".join(goal_lines(summary)))
    per_run = {}
    for (_, method, budget, _), r in runs.items():
        per_run.setdefault(f"{method}@{budget}", []).append(r["seconds"])
    timing = ", ".join(f"{k} {np.mean(v):.1f} s" for k, v in sorted(per_run.items()))
    print(f"\nWall clock {seconds:.0f} s, {args.jobs} worker process(es); mean s/run: {timing}")
    if args.output:
        record = {
            "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
            "date": time.strftime("%Y-%m-%d"),
            "settings": settings,
            "trials": budgets,
            "seconds": seconds,
            "optimum": {
                ls: {str(s): r["optimum"] for (l2, _, _, s), r in runs.items() if l2 == ls}
                for ls in args.landscapes
            },
            "summary": {ls: {str(b): v for b, v in by.items()} for ls, by in summary.items()},
            "runs": [
                {
                    "landscape": ls,
                    "method": m,
                    "max_trials": b,
                    "seed": s,
                    "curve": r["curve"],
                    "unique": r["unique"],
                    "seconds": r["seconds"],
                }
                for (ls, m, b, s), r in sorted(runs.items())
            ],
        }
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(record, f)


if __name__ == "__main__":
    main()
