"""The policy learner's optimizer: Keras' Adam over the controller's packed variables, its state
in the layout earlier versions saved, restored exactly, and converted from the per-decision
layout of earlier versions."""

import keras
import numpy as np
import pytest

from keras_nasnet.search import Controller, PolicyLearner, SearchSpace

from .test_search_controller import mixed_width_space, per_decision_weights


def trained_learner(space, seed=0, updates=3):
    learner = PolicyLearner(
        Controller(space, units=8, seed=seed), "ppo", learning_rate=0.05, update_every=4
    )
    rewards = np.random.default_rng(seed).uniform(size=4 * updates)
    for reward in rewards:
        sample = learner.controller.sample()
        learner.observe(sample.actions, sample.log_prob, reward)
    return learner


def per_decision_arrays(learner):
    """Returns `learner.get_arrays()` as an earlier version saved them: the controller's weights
    one per decision, and the optimizer's slots in that layout's variable order."""
    arrays = learner.get_arrays()
    counts = learner.controller.decisions.choice_counts
    weights = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("controller/")}
    earlier = {f"controller/{k}": v for k, v in per_decision_weights(weights, counts).items()}
    names = list(weights)
    slots = [
        per_decision_weights(
            {name: arrays[f"optimizer/{2 + 2 * k + j}"] for k, name in enumerate(names)}, counts
        )
        for j in (0, 1)
    ]
    earlier["optimizer/0"], earlier["optimizer/1"] = arrays["optimizer/0"], arrays["optimizer/1"]
    for k, name in enumerate(slots[0]):
        earlier[f"optimizer/{2 + 2 * k}"] = slots[0][name]
        earlier[f"optimizer/{3 + 2 * k}"] = slots[1][name]
    return earlier


def take_an_update(learner, seed=9):
    rng = np.random.default_rng(seed)
    for _ in range(learner.update_every):
        actions = learner.controller.sample().actions
        learner.observe(actions, -1.0, rng.uniform())
    return learner.controller.get_weights()


def test_the_learner_takes_keras_adam_steps_and_saves_its_slots_by_variable():
    learner = trained_learner(SearchSpace(num_blocks=1))
    assert isinstance(learner.optimizer, keras.optimizers.Adam)
    shapes = [tuple(v.shape) for v in learner.controller.trainable_variables]
    arrays = learner.get_arrays()
    # The iteration, the learning rate, then each variable's momentum and velocity.
    assert int(arrays["optimizer/0"]) == 3 * 4  # PPO: 4 epochs an update
    assert float(arrays["optimizer/1"]) == pytest.approx(0.05)
    assert [arrays[f"optimizer/{i}"].shape for i in range(2, 2 + 2 * len(shapes))] == [
        s for s in shapes for _ in (0, 1)
    ]
    assert len([k for k in arrays if k.startswith("optimizer/")]) == 2 + 2 * len(shapes)
    # The padding takes no gradient: its weights and slots stay zero.
    counts = np.array(learner.controller.decisions.choice_counts)
    padding = ~(np.arange(counts.max())[None, :] < counts[:, None])
    heads_bias = learner.controller.get_weights()["heads/bias"]
    assert np.all(heads_bias[padding] == 0) and np.any(heads_bias[~padding] != 0)
    assert np.all(arrays["optimizer/12"][padding] == 0)  # heads/bias' momentum


def test_a_restored_learner_continues_exactly():
    space = SearchSpace(num_blocks=1)
    learner = trained_learner(space)
    state, arrays = learner.get_state(), learner.get_arrays()
    restored = PolicyLearner(
        Controller(space, units=8, seed=7), "ppo", learning_rate=0.05, update_every=4
    )
    restored.set_state(state, arrays)
    for key, value in restored.get_arrays().items():
        np.testing.assert_array_equal(value, arrays[key], err_msg=key)
    after, restored_after = take_an_update(learner), take_an_update(restored)
    for name in after:
        np.testing.assert_array_equal(restored_after[name], after[name], err_msg=name)


def test_a_state_saved_in_the_per_decision_layout_converts_and_continues_exactly():
    space = mixed_width_space()
    learner = trained_learner(space)
    state, earlier = learner.get_state(), per_decision_arrays(learner)
    assert "controller/head_0/kernel" in earlier and "controller/heads/kernel" not in earlier
    restored = PolicyLearner(
        Controller(space, units=8, seed=7), "ppo", learning_rate=0.05, update_every=4
    )
    restored.set_state(state, earlier)
    for key, value in learner.get_arrays().items():
        np.testing.assert_array_equal(restored.get_arrays()[key], value, err_msg=key)
    after, restored_after = take_an_update(learner), take_an_update(restored)
    for name in after:
        np.testing.assert_array_equal(restored_after[name], after[name], err_msg=name)


def test_a_per_decision_state_that_does_not_match_fails_clearly():
    space = mixed_width_space()
    learner = trained_learner(space)
    state, earlier = learner.get_state(), per_decision_arrays(learner)
    fresh = PolicyLearner(Controller(space, units=8), "ppo", learning_rate=0.05, update_every=4)
    before = fresh.get_arrays()
    last = max(int(k.split("/")[1]) for k in earlier if k.startswith("optimizer/"))
    short = {k: v for k, v in earlier.items() if k != f"optimizer/{last}"}
    with pytest.raises(ValueError, match="per-decision layout.*Start the search over"):
        fresh.set_state(state, short)
    swapped = dict(earlier)  # lstm/kernel's momentum and head_0/kernel's
    swapped["optimizer/2"], swapped["optimizer/10"] = (
        earlier["optimizer/10"],
        earlier["optimizer/2"],
    )
    with pytest.raises(ValueError, match="optimizer state does not match.*Start the search over"):
        fresh.set_state(state, swapped)
    other = PolicyLearner(Controller(SearchSpace(num_blocks=1), units=8), "ppo")
    with pytest.raises(ValueError, match="'head_1/kernel' has shape"):
        other.set_state(state, earlier)
    for key, value in fresh.get_arrays().items():  # nothing assigned by a failed call
        np.testing.assert_array_equal(value, before[key], err_msg=key)
