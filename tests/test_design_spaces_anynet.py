"""AnyNetX (A-E) and RegNet as spaces of `keras-nasnet spaces`: seeded sampling within each
space's rules, the complexity counter against the built model, narrowed files, the worker target
and the command."""

import json

import numpy as np
import pytest

from keras_nasnet import cli
from keras_nasnet.anynet import AnyNetPoint
from keras_nasnet.compare import runner
from keras_nasnet.design_spaces import load_records
from keras_nasnet.design_spaces.anynet_study import (
    ANYNET_SPACES,
    TRAIN_TARGET,
    AnyNetStudySpace,
)
from keras_nasnet.design_spaces.model_training import build_point_model, train_point
from keras_nasnet.design_spaces.sampling import (
    ANYNET_SPACE_NAMES,
    resolve_spaces,
    sample_points,
    space_rng,
)
from keras_nasnet.training import TrainingSettings

DATASET = "fashion_mnist_sample"
TINY = TrainingSettings(epochs=1, batch_size=32, epoch_examples=128)
TINY_FLAGS = (
    "--dataset",
    DATASET,
    "--epochs",
    "1",
    "--batch-size",
    "32",
    "--epoch-examples",
    "128",
)
SHAPE = (28, 28, 1)  # Fashion-MNIST


def _draw(name, count=25, seed=0):
    space = AnyNetStudySpace(name)
    rng = space_rng(seed, name)
    return space, [space.sample(rng) for _ in range(count)]


def test_the_copied_names_are_the_modules():
    assert ANYNET_SPACE_NAMES == tuple(ANYNET_SPACES)


@pytest.mark.parametrize("name", ["anynetx-a", "anynetx-b", "anynetx-c", "anynetx-d", "anynetx-e"])
def test_anynetx_spaces_sample_reproducibly_within_their_rules(name):
    space, draws = _draw(name)
    _, again = _draw(name)
    _, other = _draw(name, seed=1)
    assert [v for _, v in draws] == [v for _, v in again] != [v for _, v in other]
    letter = name[-1].upper()
    for point, values in draws:
        assert set(values) == set(space.decisions) and len(values) == 16
        assert all(type(v) is int for v in values.values())  # numeric: the bootstrap ranges
        assert [values[f"d{i}"] for i in range(1, 5)] == list(point.depths)
        assert [values[f"w{i}"] for i in range(1, 5)] == list(point.widths)
        assert [values[f"g{i}"] for i in range(1, 5)] == list(point.group_widths)
        assert point.stem_width == 16 and max(point.depths) <= 3 and max(point.widths) <= 128
        ratios = {values[f"b{i}"] for i in range(1, 5)}
        # pycls' adjustment caps a shared g at a narrower stage's bottleneck width
        groups = {g for g, v in zip(point.group_widths, point.bottleneck_widths) if g < v}
        if letter >= "B":
            assert len(ratios) == 1
        if letter >= "C":
            assert len(groups) <= 1
        if letter >= "D":
            assert list(point.widths) == sorted(point.widths)
        if letter == "E":
            assert list(point.depths) == sorted(point.depths)
    if letter == "A":  # unconstrained: some draw breaks every later rule
        assert any(len(set(p.bottleneck_ratios)) > 1 for p, _ in draws)
        assert any(list(p.widths) != sorted(p.widths) for p, _ in draws)
    if letter == "D":
        assert any(list(p.depths) != sorted(p.depths) for p, _ in draws)


def test_the_regnet_space_records_its_six_parameters_and_generates_its_point():
    space, draws = _draw("regnet", count=10)
    _, again = _draw("regnet", count=10)
    assert [v for _, v in draws] == [v for _, v in again]
    for point, values in draws:
        assert list(values) == list(space.decisions)
        assert isinstance(values["w_a"], float) and isinstance(values["depth"], int)
        assert space.sampler.point(values) == point
        assert 2 <= point.num_stages <= 4 and point.num_blocks == values["depth"]


@pytest.mark.parametrize("name", ["anynetx-a", "regnet"])
def test_the_counter_is_the_built_models_trainable_parameter_count(name):
    space, draws = _draw(name, count=2, seed=3)
    count = space.counter(SHAPE, 10, TINY)
    for point, _ in draws:
        model = build_point_model(point, "anynet", SHAPE, 10)
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        params, mult_adds = count(point)
        assert params == trainable and mult_adds > params
    with pytest.raises(ValueError, match=r"square images.*\(28, 32, 1\)"):
        space.counter((28, 32, 1), 10, TINY)


def test_a_narrowing_file_restricts_anynet_values_to_its_ranges(tmp_path):
    path = tmp_path / "narrowing.json"
    ranges = {"anynetx-e": {"d4": [3, 3], "w1": [8, 48]}, "regnet": {"w_m": [2.0, 2.5]}}
    path.write_text(json.dumps(ranges))
    spaces = resolve_spaces([f"file:{path}", "anynetx-e"])
    assert [s.name for s in spaces] == ["anynetx-e-narrowed", "regnet-narrowed", "anynetx-e"]
    narrowed, regnet = spaces[0], spaces[1]
    points, draws = sample_points(narrowed, 8, space_rng(0, narrowed.name), lambda p: (1, 1))
    assert all(p.point.depths[3] == 3 and p.point.widths[0] <= 48 for p in points)
    rng = space_rng(0, "regnet")
    assert all(2.0 <= regnet.sample(rng)[1]["w_m"] <= 2.5 for _ in range(5))
    assert narrowed.config()["allowed"] == {"d4": [3, 3], "w1": [8, 48]}


@pytest.mark.parametrize(
    "allowed, message",
    [
        ({"d9": [1, 2]}, "'d9' is not a decision of the space; allowed: d1, w1"),
        ({"d1": [3, 1]}, r"'d1' needs a range \[low, high\].*\[3, 1\]"),
        ({"d1": ["a", "b"]}, "needs a range"),
    ],
)
def test_bad_ranges_are_refused_naming_the_decision(allowed, message):
    with pytest.raises(ValueError, match=message):
        AnyNetStudySpace("anynetx-a", allowed=allowed)


def test_an_unreachable_range_and_an_unknown_space_fail_clearly():
    space = AnyNetStudySpace("anynetx-e", name="tight", allowed={"d1": [3, 3], "w4": [8, 8]})
    with pytest.raises(ValueError, match="no point of 'anynetx-e' within"):
        space.sample(np.random.default_rng(0))
    with pytest.raises(ValueError, match="Unknown AnyNet space 'anynetx-f'"):
        AnyNetStudySpace("anynetx-f")


def test_the_worker_target_trains_one_tiny_anynet_as_the_runner_reads_it():
    point = AnyNetPoint(
        depths=(1, 1), widths=(8, 16), bottleneck_ratios=(1, 2), group_widths=(4, 8), stem_width=8
    )
    space = AnyNetStudySpace("anynetx-a")
    kwargs = {**space.train_kwargs(point), "dataset": DATASET, "settings": TINY, "seed": 0}
    outcome = runner.run_once(train_point, {**kwargs, "evaluate_on": "test"})
    assert 0.0 <= outcome["test_accuracy"] <= 1.0 and outcome["train_seconds"] > 0
    # all weights, BN statistics included (as training.train reports a NASNet's)
    trainable = space.counter(SHAPE, 10, TINY)(point)[0]
    bn_widths = 8 + (8 + 8 + 8 + 8) + (16 + 8 + 8 + 16)  # stem; projection, b, b, c per block
    assert outcome["params"] == trainable + 2 * bn_widths
    assert TRAIN_TARGET == "keras_nasnet.design_spaces.model_training:train_point"
    with pytest.raises(ValueError, match="use_aux_head"):
        train_point(point, DATASET, settings=TINY.replace(use_aux_head=True))
    with pytest.raises(ValueError, match="`family` must be one of"):
        train_point(point, DATASET, family="resnet", settings=TINY)


class FakeAnyNetRuns:
    """Stands in for `runner.run_in_processes`: checks the target and its arguments and gives
    accuracy 0.5 + (mean width) / 1000."""

    def __init__(self):
        self.trained = []

    def __call__(
        self,
        runs,
        jobs,
        on_done,
        threads=None,
        target=None,
        may_start=None,
        on_failed=None,
        runs_per_worker=1,
    ):
        assert target == TRAIN_TARGET
        for point, kwargs in runs:
            assert kwargs["family"] == "anynet" and kwargs["settings"].epoch_examples == 128
            self.trained.append(point.key)
            on_done(
                point,
                {
                    "test_accuracy": fake_accuracy(kwargs["point"]),
                    "params": 1,
                    "train_seconds": 0.5,
                    "seconds": 0.6,
                    "cpu_seconds": 0.6,
                },
            )


def fake_accuracy(point) -> float:
    """The accuracy `FakeAnyNetRuns` gives `point`."""
    return 0.5 + float(np.mean(point.widths)) / 1000


def _check_study(directory, spaces):
    records = load_records(directory / "records.jsonl")
    assert [r.space for r in records] == [s for s in spaces for _ in range(2)]
    points = json.loads((directory / "points.json").read_text())
    for i, record in enumerate(records):
        point = points[record.space]["points"][i % 2]
        assert record.decisions == point["values"] and record.params == point["params"]
        assert 0.0 <= record.error <= 1.0 and record.mult_adds > record.params
    narrowing = json.loads((directory / "narrowing.json").read_text())
    assert set(narrowing) <= set(spaces)
    for ranges in narrowing.values():  # each a [low, high] a next study can read
        assert all(len(bounds) == 2 and bounds[0] <= bounds[1] for bounds in ranges.values())
    resolve_spaces([f"file:{directory / 'narrowing.json'}"])
    assert (directory / "design_spaces.html").exists()
    return records, points


def test_the_command_studies_anynetx_a_and_e_with_fake_runs(tmp_path, monkeypatch, capsys):
    fake = FakeAnyNetRuns()
    monkeypatch.setattr(runner, "run_in_processes", fake)
    directory = tmp_path / "study"
    arguments = ["spaces", "anynetx-a", "anynetx-e", "--models", "2", "--directory", str(directory)]
    assert cli.main([*arguments, *TINY_FLAGS, "--bins", "2"]) == 0
    assert "4 models recorded (4 trained now" in capsys.readouterr().out
    assert fake.trained == ["anynetx-a-0000", "anynetx-e-0000", "anynetx-a-0001", "anynetx-e-0001"]
    records, points = _check_study(directory, ["anynetx-a", "anynetx-e"])
    for i, record in enumerate(records):
        point = AnyNetPoint.from_dict(points[record.space]["points"][i % 2]["point"])
        assert record.error == pytest.approx(1 - fake_accuracy(point))


@pytest.mark.slow
def test_the_command_trains_a_tiny_anynet_study_in_worker_processes(tmp_path, capsys):
    directory = tmp_path / "study"
    arguments = ["spaces", "anynetx-a", "anynetx-e", "--models", "2", "--directory", str(directory)]
    assert cli.main([*arguments, *TINY_FLAGS, "--bins", "2", "--jobs", "2"]) == 0
    assert "4 models recorded (4 trained now, 0 resumed, 0 failed)" in capsys.readouterr().out
    _check_study(directory, ["anynetx-a", "anynetx-e"])
    assert len(list((directory / "runs").iterdir())) == 4
