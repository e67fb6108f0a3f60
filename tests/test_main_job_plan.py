"""The main job's plan on fixed costs: a fast machine, one twice and one four times slower, and a
tiny budget; each plan fits its seconds and names what it cut."""

import math
import re

import pytest

from keras_nasnet.main_job import plan as planning
from keras_nasnet.main_job.plan import (
    FullSettings,
    MachineCosts,
    Plan,
    StepCost,
    child_trial_seconds,
    compare_seconds,
    final_seconds,
    plan_main_job,
)

FULL = FullSettings()


def costs(slowness: float) -> MachineCosts:
    # About an idle 2-core machine of the README's record at slowness 1.
    return MachineCosts(
        child=StepCost(fixed=10 * slowness, step=0.2 * slowness),
        final=StepCost(fixed=12 * slowness, step=0.33 * slowness),
        startup=5 * slowness,
    )


def planned_seconds(plan: Plan, machine: MachineCosts) -> float:
    """What the plan's choices cost by the cost model, independently of the plan's estimates."""
    child_steps = math.ceil(plan.child_examples / FULL.batch_size)
    final_steps = math.ceil((plan.final_examples or FULL.train_examples) / FULL.batch_size)
    total = plan.max_time + child_trial_seconds(machine, child_steps)
    total += final_seconds(machine, plan.final_epochs * final_steps)
    if plan.compare_cells:
        compare_steps = math.ceil((plan.compare_examples or FULL.train_examples) / FULL.batch_size)
        runs = plan.compare_cells * plan.compare_seeds
        total += compare_seconds(machine, FULL, runs, compare_steps)
    return total + machine.child.fixed * planning.SEARCH_FIXED


@pytest.mark.parametrize("slowness", [1, 2, 4])
def test_every_plan_fits_its_seconds_less_the_reserve(slowness):
    machine = costs(slowness)
    seconds = 800.0
    plan = plan_main_job(seconds, machine)
    assert planned_seconds(plan, machine) <= seconds - plan.reserve + 1e-6
    assert plan.reserve >= planning.RESERVE_FRACTION * seconds


def test_a_fast_machine_runs_the_full_job_and_more_seeds():
    plan = plan_main_job(800.0, costs(1))
    assert plan.child_examples == FULL.child_train_examples  # whole epochs
    assert plan.final_epochs == FULL.final_epochs and plan.final_examples is None
    assert plan.compare_cells == 3 and plan.compare_examples is None
    assert plan.compare_seeds >= planning.MIN_SEEDS
    assert plan.expected_children >= planning.MIN_CHILDREN
    assert plan.cuts == ()
    if plan.compare_seeds > planning.MIN_SEEDS:
        assert any("seeds per cell" in note for note in plan.notes)


def test_a_machine_twice_slower_keeps_eight_children_by_training_each_on_fewer_images():
    fast, slow = plan_main_job(800.0, costs(1)), plan_main_job(800.0, costs(2))
    assert slow.expected_children >= planning.MIN_CHILDREN
    assert slow.child_examples < fast.child_examples
    assert slow.final_epochs < FULL.final_epochs
    assert slow.compare_cells >= 2
    text = "\n".join(slow.cuts)
    assert "search: each child trains on" in text and "a fraction of an epoch" in text
    assert f"final model: {slow.final_epochs} of {FULL.final_epochs} epochs" in text


def test_a_very_slow_machine_leaves_the_comparison_out_and_says_why():
    plan = plan_main_job(600.0, costs(4))
    assert plan.compare_cells == 0 and plan.compare_seeds == 0
    assert plan.child_examples == planning.MIN_CHILD_EXAMPLES
    cuts = "\n".join(plan.cuts)
    assert "comparison: left out" in cuts and "more than the budget leaves" in cuts
    assert "s larger would fit it" in cuts
    assert "search: only about" in cuts  # fewer than 8 children even at the fewest images
    assert "comparison: none" in plan.lines()


def test_a_tiny_budget_still_plans_one_child_and_a_final_model():
    plan = plan_main_job(30.0, costs(1))
    assert plan.expected_children == 1 and plan.max_time >= 1.0
    assert plan.final_epochs == 1 and plan.final_examples is not None
    assert plan.compare_cells == 0
    assert any("the budget is too small" in cut for cut in plan.cuts)


def test_cuts_come_in_the_order_the_steps_run():
    cuts = plan_main_job(800.0, costs(2)).cuts
    steps = [cut.split(":")[0] for cut in cuts]
    order = ["search", "final model", "comparison"]
    assert steps == sorted(steps, key=order.index)


def test_more_time_never_drops_a_step_or_shrinks_the_final_model():
    # The search may shrink when the comparison first fits: the comparison is added, not cut.
    machine = costs(2)
    plans = [plan_main_job(seconds, machine) for seconds in (300, 600, 900, 1800, 3600)]
    for smaller, larger in zip(plans, plans[1:]):
        assert larger.compare_cells >= smaller.compare_cells
        assert larger.compare_seeds >= smaller.compare_seeds
        assert larger.expected_children >= min(smaller.expected_children, planning.MIN_CHILDREN)
        assert (larger.final_epochs, larger.final_examples or math.inf) >= (
            smaller.final_epochs,
            smaller.final_examples or math.inf,
        )


def test_the_plan_round_trips_through_its_dict():
    plan = plan_main_job(800.0, costs(2))
    assert Plan.from_dict(plan.to_dict()) == plan
    machine = costs(2)
    assert MachineCosts.from_dict(machine.to_dict()) == machine
    with pytest.raises(ValueError, match="fields"):
        Plan.from_dict({**plan.to_dict(), "extra": 1})


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: plan_main_job(0, costs(1)), "`seconds`"),
        (lambda: plan_main_job(100, "fast"), "`costs` must be a MachineCosts"),
        (lambda: StepCost(fixed=-1, step=0.1), "`fixed`"),
        (lambda: StepCost(fixed=1, step=0), "`step`"),
        (lambda: FullSettings(validation_examples=6000), "`validation_examples`=6000"),
    ],
)
def test_bad_arguments_are_refused_with_their_name(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()


def test_a_left_out_comparison_names_the_budget_that_would_bring_it_in():
    machine, seconds = costs(4), 600.0
    cut = next(c for c in plan_main_job(seconds, machine).cuts if "left out" in c)
    more = int(re.search(r"a budget about (\d+) s larger would fit it", cut).group(1))
    assert plan_main_job(seconds + more, machine).compare_cells >= 2
    assert plan_main_job(seconds + more - 2, machine).compare_cells == 0
