"""When a comparison's intervals cannot tell the cells apart, it says so, and what would."""

import statistics

import pytest

from keras_nasnet.compare.core import ComparisonResult, ComparisonRow
from keras_nasnet.compare.report import markdown_table, separation_text
from keras_nasnet.compare.stats import seeds_to_resolve, welch_interval
from keras_nasnet.genotypes import NASNET_A
from keras_nasnet.training import TrainingSettings


def samples(mean: float, std: float, n: int) -> list:
    """n values (n even) with exactly this mean and sample standard deviation."""
    half = std * ((n - 1) / n) ** 0.5
    return [mean - half, mean + half] * (n // 2)


def test_seeds_to_resolve_is_the_first_count_whose_interval_excludes_zero():
    # sd 0.01 on both sides, difference 0.02: n = 3 gives t(0.975, 4) * sqrt(2e-4 / 3) = 0.0227,
    # n = 4 gives t(0.975, 6) * sqrt(2e-4 / 4) = 0.0173.
    assert seeds_to_resolve(0.01, 0.01, 0.02) == 4
    assert seeds_to_resolve(0.01, 0.01, -0.02) == 4
    a, b = samples(0.70, 0.01, 4), samples(0.72, 0.01, 4)
    assert statistics.stdev(a) == pytest.approx(0.01)
    assert welch_interval(a, b).low > 0
    three = welch_interval([0.69, 0.70, 0.71], [0.71, 0.72, 0.73])  # sd 0.01, n = 3
    assert three.low < 0


def test_seeds_to_resolve_has_no_answer_for_no_difference_or_too_many_seeds():
    assert seeds_to_resolve(0.01, 0.01, 0.0) is None
    assert seeds_to_resolve(0.05, 0.05, 1e-4, limit=1000) is None
    assert seeds_to_resolve(0.0, 0.0, 0.01) == 2  # no spread: two seeds show it
    with pytest.raises(ValueError, match="std_a"):
        seeds_to_resolve(-0.1, 0.01, 0.01)


def result(*rows, seconds=(60.0, 60.0)) -> ComparisonResult:
    made = []
    for label, accuracies in rows:
        made.append(
            ComparisonRow(
                label=label,
                architecture=NASNET_A,
                filters=12,
                params=144_574,
                mult_adds=19_929_024,
                seeds=tuple(range(len(accuracies))),
                accuracies=tuple(accuracies),
                seconds=tuple(seconds[: len(accuracies)]),
            )
        )
    for row in made[1:]:
        row.difference = welch_interval(made[0].accuracies, row.accuracies)
    recipe = TrainingSettings(num_blocks=1, filters=12, epochs=1)
    return ComparisonResult("d", "fashion_mnist_sample", recipe, 144_574, 0.1, 0.95, made)


# The main job's comparison of 2026-12-05 (README): every interval holds 0.
OVERLAPPING = (
    ("nasnet_a", (0.7720, 0.7660)),  # 0.7690 +- 0.0042
    ("found", (0.7680, 0.7540)),  # 0.7610 +- 0.0099
    ("random-1", (0.7620, 0.7590)),  # 0.7605 +- 0.0021
)


def test_overlapping_intervals_say_so_and_how_many_seeds_would_resolve_the_closest():
    text = separation_text(result(*OVERLAPPING))
    assert text.startswith("At this budget the comparison cannot tell the cells apart")
    assert "every 95% interval of a difference to nasnet_a holds 0 (2 seeds per cell)" in text
    # random-1 needs fewer seeds than the found cell (smaller spread, larger difference).
    needed = seeds_to_resolve(0.0042426, 0.0021213, -0.0085)
    assert needed < seeds_to_resolve(0.0042426, 0.0098995, -0.0080)
    assert f"(random-1, -0.0085) would need about {needed} seeds per cell at 95%" in text
    assert f"{needed * 3} runs of about 60 s each" in text
    assert "more epochs" in text


def test_the_note_follows_the_table_in_markdown():
    table = markdown_table(result(*OVERLAPPING))
    assert table.index("| random-1 |") < table.index("cannot tell the cells apart")


def test_an_interval_that_excludes_zero_needs_no_note():
    separated = result(("nasnet_a", (0.70, 0.71)), ("found", (0.80, 0.81)))
    assert separated.rows[1].difference.low > 0
    assert separation_text(separated) is None
    assert "cannot tell" not in markdown_table(separated)


def test_one_seed_says_there_is_no_interval():
    text = separation_text(result(("nasnet_a", (0.70,)), ("found", (0.72,))))
    assert "cannot tell the cells apart" in text and "no interval" in text and "--seeds" in text


def test_equal_means_say_no_count_of_seeds_would_do():
    text = separation_text(result(("nasnet_a", (0.70, 0.72)), ("found", (0.72, 0.70))))
    assert "No count of seeds up to 1000" in text
