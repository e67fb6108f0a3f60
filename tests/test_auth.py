"""The distributed chief's shared secret, on 127.0.0.1 (search/auth.py)."""

import logging
import threading

import grpc
import keras_tuner
import pytest

from keras_nasnet.search import SearchSpace
from keras_nasnet.search.auth import (
    SECRET_ENV,
    SecretClientInterceptor,
    is_loopback,
    secure_worker_client,
    server_interceptors,
)
from keras_nasnet.search.child import NASNetHyperModel, NASTuner
from keras_nasnet.search.distributed import ENV_IP, ENV_PORT, ENV_TUNER_ID, serve
from keras_nasnet.search.oracle import NASOracle
from keras_nasnet.search.run import open_project
from keras_nasnet.training import TrainingSettings
from tests.helpers import free_port

SPACE = SearchSpace(num_blocks=1)
GET_SPACE = "/keras_tuner.Oracle/GetSpace"  # an empty GetSpaceRequest serializes to b""


def _raw_get_space(port, secret=None):
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    if secret is not None:
        channel = grpc.intercept_channel(channel, SecretClientInterceptor(secret))
    with channel:
        call = channel.unary_unary(GET_SPACE, request_serializer=None, response_deserializer=None)
        return call(b"", timeout=20, wait_for_ready=True)


def test_chief_refuses_and_logs_a_worker_without_the_secret_and_serves_one_with_it(
    tmp_path, monkeypatch, caplog
):
    port = free_port()
    monkeypatch.setenv(SECRET_ENV, "s3cret")
    oracle = NASOracle(
        SPACE, "random", objective=keras_tuner.Objective("val_accuracy", "max"), max_trials=1
    )
    oracle.monitors = []
    open_project(oracle, str(tmp_path / "chief"), overwrite=True)
    chief = threading.Thread(
        target=serve, args=(oracle, f"127.0.0.1:{port}"), kwargs={"poll": 0.05}, daemon=True
    )
    chief.start()

    caplog.set_level(logging.WARNING, logger="keras_nasnet.search.auth")
    for secret in (None, "wrong", "s3cret-but-longer"):
        with pytest.raises(grpc.RpcError) as refused:
            _raw_get_space(port, secret)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert SECRET_ENV in refused.value.details()
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 3 and all("GetSpace" in m and "127.0.0.1" in m for m in refusals)
    assert "no secret" in refusals[0] and "a wrong secret" in refusals[1]

    # A real worker: NASTuner under keras-tuner's worker variables, with the same secret.
    monkeypatch.setenv(ENV_TUNER_ID, "worker0")
    monkeypatch.setenv(ENV_IP, "127.0.0.1")
    monkeypatch.setenv(ENV_PORT, str(port))
    hypermodel = NASNetHyperModel(
        SPACE, (8, 8, 1), 3, TrainingSettings(num_blocks=1, filters=4, epochs=1)
    )
    worker = NASTuner(
        NASOracle(
            SPACE, "random", objective=keras_tuner.Objective("val_accuracy", "max"), max_trials=1
        ),
        hypermodel,
        directory=str(tmp_path / "worker"),
        project_name="search",
        verbose=0,
    )
    trial = worker.oracle.create_trial("worker0")
    assert trial.status == "RUNNING" and trial.trial_id in oracle.trials
    worker.oracle.update_trial(trial.trial_id, {"val_accuracy": 0.5})
    trial.status = "COMPLETED"
    worker.oracle.end_trial(trial)
    assert worker.oracle.create_trial("worker0").status == "STOPPED"
    chief.join(timeout=20)
    assert not chief.is_alive()
    assert oracle.rewards == {trial.trial_id: 0.5}  # only the authenticated worker's result counts


def test_secure_worker_client_changes_nothing_without_a_secret_or_on_a_chief():
    class Client:
        stub = object()

    client = Client()
    assert not secure_worker_client(client, environ={})
    assert client.stub is Client.stub
    assert not secure_worker_client(object(), environ={SECRET_ENV: "x"})  # a local oracle: no stub


def test_without_a_secret_only_a_public_address_is_warned_about(caplog):
    caplog.set_level(logging.WARNING, logger="keras_nasnet.search.auth")
    assert server_interceptors("127.0.0.1", environ={}) == []
    assert not caplog.records
    assert server_interceptors("0.0.0.0", environ={}) == []
    assert "without authentication" in caplog.records[-1].getMessage()
    assert len(server_interceptors("0.0.0.0", environ={SECRET_ENV: "x"})) == 1
    assert is_loopback("localhost") and is_loopback("::1") and is_loopback("[::1]")
    assert not is_loopback("10.0.0.2") and not is_loopback("chief.example.org")
