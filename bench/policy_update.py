"""What a search's first policy update costs (its trace), and what each later one costs.

Three ways to take the PPO step of `PolicyLearner`, each in its own process (tracing costs
depend on what the process traced before), alternated over --repeats rounds:

  per-decision  one variable per decision's head kernel, head bias and embedding (about 150
                for the default space), stacked and padded inside every scoring call, and a
                fused Adam (one `ResourceApplyAdam` op per variable): what shipped before the
                packed layout, kept here as the baseline
  packed        the controller's packed variables (seven) and the fused Adam
  packed-keras  the packed variables and `keras.optimizers.Adam` (what ships)

All arms start from the same weights (a seed draws the same values in either layout), feed
the same 10 sampled results per update to a learner of the default `SearchSpace` (50
decisions), and print the seconds of the first update (trace included), of each later update,
and the largest difference of their weights after the updates to the first arm's (the same
math: round-off only).

    python bench/policy_update.py                        # 3 rounds
    python bench/policy_update.py --arm packed-keras     # one arm, in this process
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np

ARMS = ("per-decision", "packed", "packed-keras")
UPDATES = 6


def per_decision_controller_class():
    """The controller with the per-decision layout: its variables, sampling and scoring as they
    were before the heads and embeddings were packed."""
    import tensorflow as tf

    from keras_nasnet.search.proposers.controller import Controller, _TensorFlowMath

    class PerDecisionController(Controller):
        def _initial_variables(self, rng, init_range):
            u = self.units
            shapes = {
                "lstm/kernel": (u, 4 * u),
                "lstm/recurrent": (u, 4 * u),
                "lstm/bias": (4 * u,),
                "start": (1, u),
            }
            counts = self.decisions.choice_counts
            for t, n in enumerate(counts):
                shapes[f"head_{t}/kernel"] = (u, n)
                shapes[f"head_{t}/bias"] = (n,)
                if t + 1 < len(counts):
                    shapes[f"embedding_{t}"] = (n, u)
            return {
                name: tf.Variable(
                    rng.uniform(-init_range, init_range, shape).astype("float32"),
                    name=name.replace("/", "_"),
                )
                for name, shape in shapes.items()
            }

        def _numpy_view(self):
            if self._numpy_weights is None:
                v = self.get_weights()
                counts = self.decisions.choice_counts
                v["heads"] = [
                    (v[f"head_{t}/kernel"], v[f"head_{t}/bias"]) for t in range(len(counts))
                ]
                # The last choice feeds no further step: any rows do.
                last = np.zeros((counts[-1], self.units), dtype="float32")
                v["embedding"] = [v.get(f"embedding_{t}", last) for t in range(len(counts))]
                self._numpy_weights = v
            return self._numpy_weights

        def set_weights(self, weights):
            for name, variable in self._variables.items():
                variable.assign(weights[name])
            self.weights_changed()

        def log_prob_and_entropy(self, actions, mask=None):
            actions = tf.convert_to_tensor(actions, dtype="int32")
            v = self._variables
            counts = self.decisions.choice_counts
            width = max(counts)
            kernels = tf.stack(
                [
                    tf.pad(v[f"head_{t}/kernel"], [[0, 0], [0, width - n]])
                    for t, n in enumerate(counts)
                ]
            )
            biases = tf.stack(
                [tf.pad(v[f"head_{t}/bias"], [[0, width - n]]) for t, n in enumerate(counts)]
            )
            embeddings = tf.stack(
                [
                    tf.pad(v[f"embedding_{t}"], [[0, width - n], [0, 0]])
                    for t, n in enumerate(counts[:-1])
                ]
                + [tf.zeros((width, self.units))]
            )
            valid = tf.constant(np.arange(width)[None, :] < np.array(counts)[:, None])
            batch = tf.shape(actions)[0]
            xp = _TensorFlowMath(tf)

            def step(carry, decision):
                x, h, c, _, _ = carry
                kernel, bias, embedding, valid_choices, chosen = decision
                logits, h, c = self._step(xp, v, x, h, c, kernel, bias)
                log_p = tf.nn.log_softmax(tf.where(valid_choices, logits, -1e9))
                log_prob = tf.gather(log_p, chosen, axis=1, batch_dims=1)
                entropy = -tf.reduce_sum(tf.exp(log_p) * log_p, axis=1)
                return tf.gather(embedding, chosen), h, c, log_prob, entropy

            zeros = tf.zeros((batch, self.units))
            _, _, _, log_probs, entropies = tf.scan(
                step,
                (kernels, biases, embeddings, valid, tf.transpose(actions)),
                initializer=(
                    tf.tile(v["start"], (batch, 1)),
                    zeros,
                    zeros,
                    tf.zeros((batch,)),
                    tf.zeros((batch,)),
                ),
            )
            if mask is not None:
                mask = tf.transpose(tf.convert_to_tensor(mask, dtype="float32"))
                log_probs, entropies = log_probs * mask, entropies * mask
            return tf.reduce_sum(log_probs, axis=0), tf.reduce_sum(entropies, axis=0)

    return PerDecisionController


class FusedAdam:
    """Keras' Adam step (``m += (g - m)(1 - beta_1)``, the bias correction folded into the
    step size, epsilon added to ``sqrt(v)``) as one `ResourceApplyAdam` op per variable: the
    optimizer the controller used while it had a variable per decision."""

    def __init__(self, variables, learning_rate):
        import tensorflow as tf

        self._targets = list(variables)
        self.iterations = tf.Variable(0, dtype="int64", trainable=False)
        self.learning_rate = tf.Variable(learning_rate, dtype="float32", trainable=False)
        self._slots = [
            (tf.Variable(tf.zeros_like(v)), tf.Variable(tf.zeros_like(v))) for v in self._targets
        ]

    @property
    def variables(self):
        return [self.iterations, self.learning_rate] + [s for pair in self._slots for s in pair]

    def apply(self, gradients):
        import tensorflow as tf

        step = tf.cast(self.iterations + 1, "float32")
        beta_1_power, beta_2_power = tf.pow(0.9, step), tf.pow(0.999, step)
        beta_1, beta_2, epsilon = tf.constant(0.9), tf.constant(0.999), tf.constant(1e-7)
        for variable, gradient, (m, v) in zip(self._targets, gradients, self._slots):
            tf.raw_ops.ResourceApplyAdam(
                var=variable.handle,
                m=m.handle,
                v=v.handle,
                beta1_power=beta_1_power,
                beta2_power=beta_2_power,
                lr=self.learning_rate,
                beta1=beta_1,
                beta2=beta_2,
                epsilon=epsilon,
                grad=tf.convert_to_tensor(gradient),
            )
        self.iterations.assign_add(1)


def run_arm(arm: str) -> dict:
    from keras_nasnet.search import SearchSpace
    from keras_nasnet.search.proposers.controller import Controller, pack_per_decision_weights
    from keras_nasnet.search.proposers.policy import PolicyLearner

    space = SearchSpace()
    controller_class = per_decision_controller_class() if arm == "per-decision" else Controller
    controller = controller_class(space, seed=0)
    learner = PolicyLearner(controller, "ppo", learning_rate=0.003, update_every=10)
    if arm != "packed-keras":
        learner.optimizer = FusedAdam(controller.trainable_variables, learner.learning_rate)
    rewards = np.random.default_rng(0).uniform(size=(UPDATES, 10))
    seconds = []
    for update in range(UPDATES):
        samples = [controller.sample() for _ in range(10)]
        start = time.perf_counter()
        for sample, reward in zip(samples, rewards[update]):
            learner.observe(sample.actions, sample.log_prob, reward)
        seconds.append(time.perf_counter() - start)
    weights = controller.get_weights()
    if arm == "per-decision":
        weights = pack_per_decision_weights(weights, controller.units, space.choice_counts)
    flat = np.concatenate([weights[name].ravel() for name in sorted(weights)])
    return {
        "first": seconds[0],
        "later": statistics.median(seconds[1:]),
        "variables": len(controller.trainable_variables),
        "weights": flat,
    }


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
                f"round {round_} {arm:12s} first update {result['first']:5.2f} s, later "
                f"{result['later'] * 1000:5.0f} ms",
                flush=True,
            )
    reference = np.array(results[ARMS[0]][0]["weights"])
    base_first = statistics.median(r["first"] for r in results[ARMS[0]])
    for arm in ARMS:
        first = statistics.median(r["first"] for r in results[arm])
        later = statistics.median(r["later"] for r in results[arm])
        diff = np.abs(np.array(results[arm][0]["weights"]) - reference).max()
        print(
            f"{arm:12s} {results[arm][0]['variables']:3d} variables, median first update "
            f"{first:5.2f} s ({first / base_first:4.2f}x {ARMS[0]}), later {later * 1000:4.0f} ms, "
            f"weights vs {ARMS[0]}: max |diff| {diff:.1e}"
        )


if __name__ == "__main__":
    main()
