"""`compare` with whole networks: identifiers, the MobileNetV2 point, width-multiplier matching,
int8 latency and the front chart, resuming."""

import json
import os
import types

import pytest

from keras_nasnet import cli, training
from keras_nasnet.compare import NETWORKS, Network, compare, core, networks, resolve_architectures
from keras_nasnet.compare.matching import MULTIPLIERS, match_multiplier
from keras_nasnet.compare.networks import MOBILENET_V2_BLOCKS
from keras_nasnet.genotypes import Architecture
from keras_nasnet.search.spaces.mnasnet_blocks import MnasNetSearchSpace

TINY = training.TrainingSettings(
    num_blocks=1, filters=8, epochs=1, batch_size=32, epoch_examples=64
)


def test_network_names_and_search_files_resolve(tmp_path):
    found = tmp_path / "best_architecture.json"
    found.write_text(
        json.dumps({"space": "mnasnet", "point": list(MOBILENET_V2_BLOCKS), "reward": 0.5})
    )
    candidates = resolve_architectures(["nasnet_a", "mnasnet-a1", "mnasnet-small", str(found)])
    assert isinstance(candidates[0].architecture, Architecture) and not candidates[0].is_network
    assert [c.is_network for c in candidates[1:]] == [True, True, True]
    assert candidates[1].architecture.blocks[2] == "r3_k5_s22_e3_i24_o40_se0.25"
    assert candidates[2].architecture.stem_filters == 8  # MnasNet-small's stem
    assert candidates[3].architecture == NETWORKS["mobilenet_v2"]
    assert hash(Network(list(MOBILENET_V2_BLOCKS))) == hash(NETWORKS["mobilenet_v2"])
    assert set(NETWORKS) == {"mobilenet_v2", "mnasnet-a1", "mnasnet-b1", "mnasnet-small",
                             "mnasnet-d1"}  # fmt: skip


def test_a_wrong_name_or_space_is_refused_with_what_is_allowed(tmp_path):
    with pytest.raises(ValueError, match=r"did you mean 'mnasnet-a1'.*mobilenet_v2"):
        resolve_architectures(["mnasnet-a2"])
    macro = tmp_path / "macro.json"
    macro.write_text(json.dumps({"space": "macro", "point": {}}))
    with pytest.raises(ValueError, match=r"'macro' space; compare takes NASNet cells and"):
        resolve_architectures([str(macro)])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"space": "mnasnet", "point": ["r1_k4"]}))
    with pytest.raises(ValueError, match=r"bad\.json.*bad 'point'"):
        resolve_architectures([str(bad)])


def test_mobilenet_v2_is_the_skeleton_point_of_the_mnasnet_space():
    space = MnasNetSearchSpace(base="mobilenet_v2")
    values = space.values(MOBILENET_V2_BLOCKS)
    for i in range(space.num_blocks):
        assert values[f"block_{i}_op"] == ("dw" if i == 0 else "mbconv6")
        assert values[f"block_{i}_kernel"] == 3 and values[f"block_{i}_se_ratio"] == 0
        assert values[f"block_{i}_skip"] is True
        assert (values[f"block_{i}_filters"], values[f"block_{i}_layers"]) == space.skeleton[i][:2]


def test_multiplier_matching_picks_the_closest_count_and_refuses_when_none_fits():
    calls = []

    def count(multiplier):
        calls.append(multiplier)
        return 1000 + 20 * round(multiplier * 100), 7

    match = match_multiplier(count, 2400, tolerance=0.05)  # x0.70 exactly
    assert match.multiplier == 0.7 and match.filters is None and match.width == "x0.70"
    assert match.params == 2400 and match.mult_adds == 7
    assert len(calls) <= 16 and len(set(calls)) == len(calls)  # not a sweep of 291
    with pytest.raises(ValueError, match=r"No width multiplier.*'net'.*x0.10 gives 1,200"):
        match_multiplier(count, 500, tolerance=0.05, label="net")
    assert MULTIPLIERS[0] == 0.1 and MULTIPLIERS[-1] == 3.0


def test_networks_refuse_the_aux_head_and_drop_path(tmp_path):
    recipe = TINY.replace(use_aux_head=True)
    with pytest.raises(ValueError, match="Networks have no auxiliary head or drop-path"):
        compare(["nasnet_a", "mobilenet_v2"], "fashion_mnist_sample", str(tmp_path), recipe=recipe)
    assert not os.listdir(tmp_path)


def test_latency_argument_is_checked(tmp_path):
    with pytest.raises(ValueError, match="`latency` must be False, True, 'float' or 'int8'"):
        compare(["nasnet_a"], "fashion_mnist_sample", str(tmp_path), latency="int4")


def test_the_command_line_reads_latency_kinds(monkeypatch, tmp_path):
    import keras_nasnet.compare as package

    seen = []

    def fake_compare(*args, **kwargs):
        seen.append(kwargs["latency"])
        return types.SimpleNamespace(table=lambda: "", paths={})

    monkeypatch.setattr(package, "compare", fake_compare)
    base = ["compare", "nasnet_a", "--dataset", "fashion_mnist_sample"]
    for extra in ([], ["--latency"], ["--latency", "int8"]):
        assert cli.main([*base, "--directory", str(tmp_path / str(len(seen))), *extra]) == 0
    assert seen == [None, "float", "int8"]


def _fake_result(seed):
    return training.TrainResult(None, {}, 0.5 + 0.01 * seed, None, 0.01, {"params": 1})


def _fake_train(calls):
    def train(**kwargs):
        calls.append(kwargs.get("network") or kwargs["architecture"])
        return _fake_result(kwargs["seed"])

    return train


def _refuse(*args, **kwargs):
    raise AssertionError("trained, matched or measured again")


def _refuse_everything(monkeypatch):
    import keras_nasnet.search.evaluators.latency as latency

    for module, name in (
        (training, "train"),
        (networks, "train_network"),
        (networks, "build_network"),
        (latency, "model_latency_ms"),
        (latency, "architecture_latency_ms"),
    ):
        monkeypatch.setattr(module, name, _refuse)


PHONES = ["nasnet_a", "mobilenet_v2"]


def _fake_latency(timed):
    """A stand-in for the LiteRT conversion and timing (tested in test_export.py and
    test_mnasnet_int8.py): records what compare asks for; the latency is the model's count."""

    def model_latency_ms(model, runs=10, threads=1, quantize=None):
        timed.append((model.count_params(), tuple(model.inputs[0].shape), runs, threads, quantize))
        return model.count_params() / 1e4

    return model_latency_ms


def test_a_cell_and_a_network_get_int8_latencies_a_front_and_resume(tmp_path, monkeypatch):
    import keras_nasnet.search.evaluators.latency as latency

    calls, timed = [], []
    monkeypatch.setattr(training, "train", _fake_train(calls))
    monkeypatch.setattr(networks, "train_network", _fake_train(calls))
    monkeypatch.setattr(latency, "model_latency_ms", _fake_latency(timed))
    directory = tmp_path / "phones"
    arguments = dict(
        seeds=2,
        target_params=200_000,
        recipe=TINY.replace(filters=14),
        latency="int8",
        latency_runs=2,
        tolerance=0.1,
    )
    result = compare(PHONES, "fashion_mnist_sample", str(directory), **arguments)
    cell, network = result.rows
    assert cell.filters is not None and cell.multiplier is None
    assert network.filters is None and network.multiplier in MULTIPLIERS
    assert calls.count(NETWORKS["mobilenet_v2"]) == 2 and len(calls) == 4
    # Each row timed once, as int8 on 1 thread, at the width it was matched to (its count).
    assert [t[1:] for t in timed] == [((None, 28, 28, 1), 2, 1, "int8")] * 2
    assert [t[0] for t in timed] == [row.params for row in result.rows]
    assert [row.latency_ms for row in result.rows] == [t[0] / 1e4 for t in timed]
    for row in result.rows:
        assert abs(row.params - 200_000) <= 20_000 and row.accuracies == (0.5, 0.51)
    table = result.table()
    assert "| int8 latency (ms) |" in table and f"| x{network.multiplier:.2f} |" in table
    assert f"| F={cell.filters} |" in table and "compare_files/front.png" in table
    saved = json.loads((directory / "compare.json").read_text())
    assert saved["latency_kind"] == "int8" and saved["rows"][1]["width"] == network.width
    assert saved["rows"][1]["architecture"] == NETWORKS["mobilenet_v2"].to_dict()
    assert (directory / "compare_files" / "front.png").stat().st_size > 0
    assert (directory / "compare.html").read_text().count("data:image/png;base64") == 2

    _refuse_everything(monkeypatch)
    again = compare(PHONES, "fashion_mnist_sample", str(directory), **arguments)
    assert [r.latency_ms for r in again.rows] == [r.latency_ms for r in result.rows]
    assert [r.accuracies for r in again.rows] == [r.accuracies for r in result.rows]
    # Another latency kind on resume is measured, beside the int8 one kept in the file.
    with pytest.raises(AssertionError, match="measured again"):
        compare(PHONES, "fashion_mnist_sample", str(directory), **dict(arguments, latency=True))


@pytest.mark.slow
def test_a_cell_and_a_network_train_in_worker_processes(tmp_path):
    arguments = dict(seeds=1, target_params=200_000, recipe=TINY.replace(filters=14))
    result = compare(
        PHONES, "fashion_mnist_sample", str(tmp_path), tolerance=0.1, jobs=2, **arguments
    )
    for row in result.rows:
        assert 0 <= row.accuracies[0] <= 1 and row.seconds[0] > 0
    assert len(os.listdir(tmp_path / "runs")) == 2


def test_a_failed_latency_is_recorded_and_the_runs_kept(tmp_path, monkeypatch):
    import keras_nasnet.search.evaluators.latency as latency

    def fail(*args, **kwargs):
        raise RuntimeError("XNNPACK refused node 7")

    monkeypatch.setattr(latency, "model_latency_ms", fail)
    monkeypatch.setattr(networks, "train_network", lambda **kwargs: _fake_result(kwargs["seed"]))
    monkeypatch.setattr(networks, "build_network", lambda *args: None)
    # No model to count: a count linear in the multiplier.
    monkeypatch.setattr(core, "model_counter", lambda *args: lambda point, m: (int(1e6 * m), 1))
    result = compare(
        [("net", Network(MOBILENET_V2_BLOCKS))],
        "fashion_mnist_sample",
        str(tmp_path / "cmp"),
        seeds=1,
        target_params=150_000,
        recipe=TINY,
        latency="int8",
    )
    row = result.rows[0]
    assert row.multiplier == 0.15 and row.params == 150_000
    assert row.latency_ms is None and "XNNPACK refused node 7" in row.latency_error
    assert row.accuracies == (0.5,)
    assert "| failed |" in result.table() and "not measured (int8)" in result.table()
