"""Search algorithms at the budgets people run, on a synthetic reward, with default settings.

Random search, PPO, REINFORCE and regularized evolution, each as `NASOracle` builds it with
its default ("budget" preset) settings, at 100, 400 and 1,000 samples over several seeds, on the
synthetic reward of bench/search.py: the fraction of the paper space's 50 decisions equal to a
hidden target architecture (one target per seed; chance level about 0.25). No child is trained,
so the figures are about the algorithms alone. Prints, per algorithm and budget, the mean over
seeds (± std) of the best reward and of the mean reward of the last 100 samples, then the
issue-13 goal: at 400 samples, evolution and PPO each beat random's last-100 mean by >= 0.15.

    python bench/search_budget.py                          # 100/400/1000 samples, seeds 0..4
    python bench/search_budget.py --budgets 400 --seeds 3  # quicker
    python bench/search_budget.py --preset paper           # the papers' settings instead
    python bench/search_budget.py --algorithms ppo --set learning_rate=0.01   # one setting changed
"""

from __future__ import annotations

import argparse
import time

import numpy as np

ALGORITHMS = ("random", "ppo", "reinforce", "evolution")
GOAL_BUDGET, GOAL_MARGIN = 400, 0.15


def hidden_target_reward(space, seed: int):
    """Returns reward(architecture): the fraction of decisions equal to a hidden target's."""
    target = np.array(space.sample_uniform(np.random.default_rng(1000 + seed)))
    return lambda architecture: float(np.mean(np.array(space.encode(architecture)) == target))


def step_oracle(oracle, reward, max_trials: int) -> list:
    """Returns the rewards of `max_trials` proposals of `oracle`, each learned from at once.

    The oracle's own proposer (controller and learner, evolution or random generator, built
    from its preset) without keras-tuner's per-trial bookkeeping (trial objects and files, ~25
    ms a trial here), which would dominate these runs. `search.run` makes the same proposals.
    """
    rewards = []
    for i in range(max_trials):
        trial_id = str(i)
        values = oracle.populate_space(trial_id)["values"]
        r = reward(oracle.space.from_values(values))
        sample = oracle.pending.pop(trial_id)
        oracle.proposer.observe(sample["actions"], sample, r, trial_id)
        rewards.append(r)
    return rewards


def measure(algorithm: str, budget: int, seeds: int, preset: str, overrides=None) -> dict:
    """Returns {"best": [...], "last100": [...], "seconds": [...]}, one entry per seed.

    `overrides`: NASOracle settings that replace the preset's (e.g. {"learning_rate": 0.01}).
    """
    from keras_nasnet import search

    space = search.SearchSpace()
    result = {"best": [], "last100": [], "seconds": []}
    for seed in range(seeds):
        start = time.perf_counter()
        oracle = search.NASOracle(
            space, algorithm, max_trials=budget, seed=seed, preset=preset, **(overrides or {})
        )
        rewards = np.array(step_oracle(oracle, hidden_target_reward(space, seed), budget))
        result["seconds"].append(time.perf_counter() - start)
        result["best"].append(float(rewards.max()))
        result["last100"].append(float(rewards[-100:].mean()))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--budgets", type=int, nargs="+", default=[100, 400, 1000])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--algorithms", nargs="+", choices=ALGORITHMS, default=list(ALGORITHMS))
    parser.add_argument("--preset", choices=("budget", "paper"), default="budget")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a NASOracle setting instead of the preset's (repeatable)",
    )
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set takes NAME=VALUE; received {item!r}")
        overrides[name] = int(value) if value.isdigit() else float(value)

    changed = "".join(f", {k}={v}" for k, v in overrides.items())
    print(
        f"## Synthetic reward (hidden target, paper space: 50 decisions), preset {args.preset!r}"
        f"{changed}, seeds 0..{args.seeds - 1}"
    )
    print(f"{'algorithm':<10} {'samples':>7} {'best':>13} {'last-100 mean':>14} {'s/run':>7}")
    last100 = {}
    for budget in args.budgets:
        for algorithm in args.algorithms:
            r = measure(algorithm, budget, args.seeds, args.preset, overrides)
            last100[algorithm, budget] = np.mean(r["last100"])
            print(
                f"{algorithm:<10} {budget:>7} {np.mean(r['best']):>7.3f}±{np.std(r['best']):.3f} "
                f"{np.mean(r['last100']):>8.3f}±{np.std(r['last100']):.3f} "
                f"{np.mean(r['seconds']):>7.1f}",
                flush=True,
            )
    if ("random", GOAL_BUDGET) in last100:
        print(f"\nGoal: at {GOAL_BUDGET} samples, last-100 mean >= random's + {GOAL_MARGIN}")
        random = last100["random", GOAL_BUDGET]
        for algorithm in ("evolution", "ppo", "reinforce"):
            if (algorithm, GOAL_BUDGET) in last100:
                margin = last100[algorithm, GOAL_BUDGET] - random
                verdict = "reached" if margin >= GOAL_MARGIN else "NOT reached"
                print(f"{algorithm:<10} {margin:+.3f} over random: {verdict}")


if __name__ == "__main__":
    main()
