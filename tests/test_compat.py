"""Every shim of keras_nasnet.compat against the installed keras and keras-tuner.

A failure here after an upgrade names the private API that moved (IncompatibleVersionError).
"""

import os
import threading

import h5py
import keras
import keras_tuner
import pytest

from keras_nasnet import compat
from keras_nasnet.search import NASOracle, SearchSpace

SPACE = SearchSpace(num_blocks=1, ops=("identity", "max_pool_3x3"))


def new_oracle(tmp_path):
    oracle = NASOracle(
        SPACE, "random", objective=keras_tuner.Objective("reward", "max"), max_trials=5
    )
    oracle.verbose = 0
    compat.set_project_dir(oracle, str(tmp_path), "proj")
    return oracle


class Probe(NASOracle):
    @compat.synchronized
    def fail(self):
        raise OSError("disk full")

    @compat.synchronized
    def create_twice(self, tuner_id):
        # keras-tuner's own synchronized create_trial, called under our lock: no deadlock.
        return super().create_trial(tuner_id)

    @compat.synchronized
    def hold(self, entered, release):
        entered.set()
        release.wait(10)


def test_synchronized_releases_the_lock_when_the_call_raises(tmp_path):
    oracle = Probe(SPACE, "random", objective=keras_tuner.Objective("reward", "max"), max_trials=5)
    compat.set_project_dir(oracle, str(tmp_path), "proj")
    worker = threading.Thread(target=lambda: pytest.raises(OSError, oracle.fail))
    worker.start()
    worker.join(10)
    answers = []
    other = threading.Thread(target=lambda: answers.append(oracle.create_twice("b")))
    other.start()
    other.join(10)
    assert answers and answers[0].status == "RUNNING"


def test_synchronized_shares_keras_tuners_lock(tmp_path):
    oracle = Probe(SPACE, "random", objective=keras_tuner.Objective("reward", "max"), max_trials=5)
    compat.set_project_dir(oracle, str(tmp_path), "proj")
    entered, release, answers = threading.Event(), threading.Event(), []
    holder = threading.Thread(target=oracle.hold, args=(entered, release))
    holder.start()
    assert entered.wait(10)
    # keras_tuner.Oracle.create_trial is keras-tuner's synchronized: it must wait for ours.
    waiting = threading.Thread(
        target=lambda: answers.append(keras_tuner.Oracle.create_trial(oracle, "kt"))
    )
    waiting.start()
    waiting.join(0.5)
    assert waiting.is_alive() and not answers
    release.set()
    waiting.join(10)
    holder.join(10)
    assert answers[0].status == "RUNNING"


def test_project_trial_and_oracle_paths(tmp_path):
    oracle = new_oracle(tmp_path)
    assert compat.project_dir(oracle) == os.path.join(str(tmp_path), "proj")
    trial = oracle.create_trial("a")
    assert os.path.isdir(compat.trial_dir(oracle, trial.trial_id))
    assert os.path.isfile(os.path.join(compat.trial_dir(oracle, trial.trial_id), "trial.json"))
    assert compat.oracle_file(oracle) == os.path.join(str(tmp_path), "proj", "oracle.json")
    assert os.path.isfile(compat.oracle_file(oracle))


def test_tuner_file_is_the_file_keras_tuner_saves_the_tuner_in(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
    tuner = keras_tuner.RandomSearch(
        lambda hp: keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]),
        objective="val_loss",
        max_trials=1,
        directory=str(tmp_path),
        project_name="proj",
    )
    tuner.save()
    assert compat.tuner_file(tuner) == os.path.join(str(tmp_path), "proj", "tuner0.json")
    assert os.path.isfile(compat.tuner_file(tuner))


def test_retry_queue_is_the_queue_keras_tuner_retries_from(tmp_path):
    oracle = new_oracle(tmp_path)
    trial = oracle.create_trial("a")
    reloaded = new_oracle(tmp_path)
    reloaded.reload()  # keras-tuner re-queues the trial that was running
    assert compat.retry_queue(reloaded) == [trial.trial_id]
    assert reloaded.create_trial("b").trial_id == trial.trial_id
    assert compat.retry_queue(reloaded) == []


def test_keras_tuner_writes_trials_through_the_hook_we_override(tmp_path, monkeypatch):
    assert callable(getattr(keras_tuner.Oracle, compat.TRIAL_WRITER, None)), compat.TRIAL_WRITER
    written = []
    real = getattr(NASOracle, compat.TRIAL_WRITER)
    monkeypatch.setattr(
        NASOracle,
        compat.TRIAL_WRITER,
        lambda self, trial: written.append(trial.trial_id) or real(self, trial),
    )
    oracle = new_oracle(tmp_path)
    trial = oracle.create_trial("a")
    oracle.update_trial(trial.trial_id, {"reward": 1.0})
    assert written == [trial.trial_id] * 2


def test_add_oracle_service_registers_keras_tuners_grpc_service(tmp_path):
    from concurrent import futures

    import grpc

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    compat.add_oracle_service(server, new_oracle(tmp_path))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        from keras_tuner.src import protos

        stub = protos.get_service_grpc().OracleStub(channel)
        response = stub.GetSpace(protos.get_service().GetSpaceRequest(), timeout=10)
        names = {hp.name for hp in response.hyperparameters.space.choice_space}
        assert names == {d.name for d in SPACE.decisions}
    finally:
        server.stop(0)


def small_model():
    inner = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, name="inner_dense")], name="inner"
    )
    x = keras.Input((4,))
    shared = keras.layers.Dense(4, name="shared")
    y = shared(shared(x))
    return keras.Model(x, inner(y)), shared, y


class _Hyperband(keras_tuner.Hyperband):
    def __init__(self, oracle, **kwargs):
        compat.init_hyperband_tuner(self, oracle, **kwargs)


def test_a_hyperband_tuner_takes_our_oracle_and_keeps_its_fidelity_methods(tmp_path, monkeypatch):
    oracle = keras_tuner.oracles.RandomSearchOracle(objective="val_loss", max_trials=1)
    tuner = _Hyperband(
        oracle, hypermodel=lambda hp: keras.Sequential(), directory=str(tmp_path), project_name="p"
    )
    assert tuner.oracle is oracle
    # Hyperband's own methods run the trials: they read tuner/epochs and tuner/trial_id.
    assert type(tuner).run_trial is keras_tuner.Hyperband.run_trial
    monkeypatch.delattr(keras_tuner.Hyperband, "run_trial")
    with pytest.raises(compat.IncompatibleVersionError, match="Hyperband.run_trial"):
        _Hyperband(oracle, directory=str(tmp_path), project_name="q")


def test_keras_graph_shims():
    model, shared, y = small_model()
    names = {layer.name for layer in compat.flatten_layers(model)}
    assert {"shared", "inner", "inner_dense"} <= names and model.name not in names
    assert len(compat.inbound_nodes(shared)) == 2
    assert compat.producer(y) is shared
    operations = [node.operation.name for node in compat.model_nodes(model)]
    assert operations.count("shared") == 2 and operations[-1] == "inner"


def test_legacy_h5_weights_and_correct_pad(tmp_path):
    model, _, _ = small_model()
    with h5py.File(tmp_path / "w.h5", "w") as f:
        compat.save_weights_to_hdf5_group(f, model)
    with h5py.File(tmp_path / "w.h5", "r") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs["layer_names"]]
    assert "shared" in names
    assert compat.correct_pad(keras.KerasTensor((1, 8, 8, 3)), 3) == ((0, 1), (0, 1))
    assert compat.correct_pad(keras.KerasTensor((1, 7, 7, 3)), 3) == ((1, 1), (1, 1))


def test_a_missing_private_api_is_named_with_the_tested_version(tmp_path, monkeypatch):
    oracle = new_oracle(tmp_path)
    monkeypatch.delattr(keras_tuner.Oracle, "_set_project_dir")
    with pytest.raises(compat.IncompatibleVersionError, match=r"Oracle\._set_project_dir.*1\.4\.8"):
        compat.set_project_dir(oracle, str(tmp_path), "again")
    monkeypatch.delattr("keras_tuner.src.engine.oracle.LOCKS")
    with pytest.raises(compat.IncompatibleVersionError, match="LOCKS"):
        oracle.get_trial("0")


@pytest.mark.parametrize("aux_outputs", [False, True])
def test_training_fit_traces_the_train_step_once(aux_outputs):
    import numpy as np
    import tensorflow as tf

    from keras_nasnet import training

    x = keras.Input((4,))
    outputs = [keras.layers.Dense(3, name="head")(x)]
    if aux_outputs:  # the shape of a model trained with its auxiliary head
        outputs.append(keras.layers.Dense(3, name="aux")(x))
    model = keras.Model(x, outputs)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
        loss=[loss] * len(outputs),
        metrics=[["accuracy"]] + [[]] * (len(outputs) - 1),
    )
    traces = []
    train_step = model.train_step

    def counted(data):  # Python runs here only while TensorFlow traces the step
        traces.append(1)
        return train_step(data)

    model.train_step = counted
    data = tf.data.Dataset.from_tensor_slices(
        (np.ones((20, 4), "float32"), np.arange(20) % 3)
    ).batch(8)  # a short last batch: the step still serves any batch size
    history = training.fit(model, data, epochs=2)
    assert len(history.history["loss"]) == 2
    # Without the state built beforehand, TensorFlow traces the step twice (it creates the
    # optimizer's variables during the first trace).
    assert len(traces) == 1
