"""Runs `search.run` on the synthetic hidden-target reward; used by the resume tests.

usage: synthetic_search.py DIRECTORY MAX_TRIALS PROGRESS_FILE [SLEEP_SECONDS]
Appends one line per evaluated architecture to PROGRESS_FILE, and prints the history as JSON.
"""

import json
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
        reward = float(np.mean(np.array(space.encode(architecture)) == target))
        with open(progress, "a") as f:
            f.write(f"{reward}\n")
        return reward

    history = search.run(
        evaluate,
        space,
        "ppo",
        max_trials=max_trials,
        seed=5,
        directory=directory,
        learning_rate=0.02,
        update_every=4,
    )
    print(
        json.dumps(
            {
                "architectures": [a.to_json() for a in history.architectures],
                "rewards": history.rewards,
                "statuses": history.statuses,
            }
        )
    )


if __name__ == "__main__":
    main()
