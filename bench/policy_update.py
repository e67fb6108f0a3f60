"""What a search's first policy update costs (its trace), and what each later one costs.

Three ways to take the PPO step of `PolicyLearner`, each in its own process (tracing costs
depend on what the process traced before), alternated over --repeats rounds:

  package   the controller's `tf.scan` over decisions and the fused Adam (what ships)
  keras     the same scoring with `keras.optimizers.Adam`
  unrolled  one LSTM step per decision in the graph and `keras.optimizers.Adam` (the
            formulation before the scan)

Each arm feeds the same 10 sampled results per update to a learner of the default
`SearchSpace` (50 decisions) and prints the seconds of the first update (trace included), of
each later update, and the largest difference of its weights after the updates to the first
arm's (the same math: round-off only).

    python bench/policy_update.py                 # 3 rounds
    python bench/policy_update.py --arm package   # one arm, in this process
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np

ARMS = ("package", "keras", "unrolled")
UPDATES = 6


def unrolled_log_prob_and_entropy(controller, actions):
    """The controller's scoring with one LSTM step per decision in the graph."""
    import tensorflow as tf

    from keras_nasnet.search.controller import _TensorFlowMath

    actions = tf.convert_to_tensor(actions, dtype="int32")
    xp, v = _TensorFlowMath(tf), controller._variables
    batch = tf.shape(actions)[0]
    x = tf.tile(v["start"], (batch, 1))
    h = c = tf.zeros((batch, controller.units))
    log_prob = entropy = tf.zeros((batch,))
    for t in range(len(controller.space)):
        logits, h, c = controller._step(xp, v, x, h, c, v[f"head_{t}/kernel"], v[f"head_{t}/bias"])
        log_p = tf.nn.log_softmax(logits)
        log_prob += tf.gather(log_p, actions[:, t], axis=1, batch_dims=1)
        entropy -= tf.reduce_sum(tf.exp(log_p) * log_p, axis=1)
        if t + 1 < len(controller.space):
            x = tf.gather(v[f"embedding_{t}"], actions[:, t])
    return log_prob, entropy


class _KerasAdam:
    def __init__(self, variables, learning_rate):
        import keras

        self._variables = variables
        self._adam = keras.optimizers.Adam(learning_rate=learning_rate)
        self._adam.build(variables)
        self.variables = self._adam.variables

    def apply(self, gradients):
        self._adam.apply_gradients(zip(gradients, self._variables))


def run_arm(arm: str) -> dict:
    from keras_nasnet.search import SearchSpace
    from keras_nasnet.search.controller import Controller
    from keras_nasnet.search.policy import PolicyLearner

    controller = Controller(SearchSpace(), seed=0)
    learner = PolicyLearner(controller, "ppo", learning_rate=0.003, update_every=10)
    if arm in ("keras", "unrolled"):
        learner.optimizer = _KerasAdam(controller.trainable_variables, learner.learning_rate)
    if arm == "unrolled":
        controller.log_prob_and_entropy = lambda actions: unrolled_log_prob_and_entropy(
            controller, actions
        )
    rewards = np.random.default_rng(0).uniform(size=(UPDATES, 10))
    seconds = []
    for update in range(UPDATES):
        samples = [controller.sample() for _ in range(10)]
        start = time.perf_counter()
        for sample, reward in zip(samples, rewards[update]):
            learner.observe(sample.actions, sample.log_prob, reward)
        seconds.append(time.perf_counter() - start)
    weights = np.concatenate([w.ravel() for w in controller.get_weights().values()])
    return {"first": seconds[0], "later": statistics.median(seconds[1:]), "weights": weights}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arm", choices=ARMS, help="run one arm in this process and exit")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.arm:
        result = run_arm(args.arm)
        result["weights"] = result["weights"].tolist()
        print(json.dumps(result))
        return
    results = {arm: [] for arm in ARMS}
    for round_ in range(args.repeats):
        order = ARMS if round_ % 2 == 0 else ARMS[::-1]
        for arm in order:
            out = subprocess.run(
                [sys.executable, __file__, "--arm", arm],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            result = json.loads(out.strip().splitlines()[-1])
            results[arm].append(result)
            print(
                f"round {round_} {arm:8s} first update {result['first']:5.2f} s, later "
                f"{result['later'] * 1000:5.0f} ms",
                flush=True,
            )
    reference = np.array(results[ARMS[0]][0]["weights"])
    for arm in ARMS:
        first = statistics.median(r["first"] for r in results[arm])
        later = statistics.median(r["later"] for r in results[arm])
        diff = np.abs(np.array(results[arm][0]["weights"]) - reference).max()
        print(
            f"{arm:8s} median first update {first:5.2f} s, later {later * 1000:4.0f} ms, "
            f"weights vs {ARMS[0]}: max |diff| {diff:.1e}"
        )


if __name__ == "__main__":
    main()
