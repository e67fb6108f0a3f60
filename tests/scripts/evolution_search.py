"""Runs a regularized-evolution `search.run` on the hidden-target reward; used by the resume test.

usage: evolution_search.py DIRECTORY MAX_TRIALS PROGRESS_FILE [SLEEP_SECONDS]
Appends one line per evaluated architecture to PROGRESS_FILE, and prints the history as JSON.
Every seventh evaluation fails, so the resumed population must leave failures out as well.
"""

import json
import math
import sys
import time

import numpy as np

from keras_nasnet import search


def main():
    directory, max_trials, progress = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    space = search.SearchSpace(num_blocks=3)
    target = np.array(space.sample_uniform(np.random.default_rng(7)))

    def evaluate(architecture):
        time.sleep(pause)
        actions = np.array(space.encode(architecture))
        reward = float(np.mean(actions == target))
        with open(progress, "a") as f:
            f.write(f"{reward}\n")
        if int(actions.sum()) % 7 == 0:
            raise RuntimeError("child crashed")
        return reward

    history = search.run(
        evaluate,
        space,
        "evolution",
        max_trials=max_trials,
        seed=5,
        directory=directory,
        population_size=6,
        tournament_size=3,
    )
    print(
        json.dumps(
            {
                "architectures": [a.to_json() for a in history.architectures],
                "rewards": [None if math.isnan(r) else r for r in history.rewards],
                "statuses": history.statuses,
            }
        )
    )


if __name__ == "__main__":
    main()
