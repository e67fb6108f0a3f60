"""The distributed chief's shared secret, on 127.0.0.1 (search/distributed/auth.py)."""

import logging
import threading

import grpc
import keras_tuner
import pytest

from keras_nasnet.search import SearchSpace
from keras_nasnet.search.auth import (
    INSECURE_ENV,
    SECRET_ENV,
    SecretClientInterceptor,
    is_loopback,
    secure_worker_client,
    server_interceptors,
)
from keras_nasnet.search.child import NASNetHyperModel, NASTuner
from keras_nasnet.search.distributed import ENV_IP, ENV_PORT, ENV_TUNER_ID, serve
from keras_nasnet.search.oracles import NASOracle
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


def test_secure_worker_client_sends_the_secret_only_when_set_and_leaves_a_chief_alone():
    class Stub:
        def __init__(self, channel):
            self.channel = channel

    class Client:
        stub = Stub(None)

    address = {ENV_IP: "127.0.0.1", ENV_PORT: "1"}
    client = Client()
    assert not secure_worker_client(client, environ=address)  # no secret to send ...
    assert client.stub is not Client.stub  # ... but a refusal is still named (see below)
    assert secure_worker_client(Client(), environ={**address, SECRET_ENV: "x"})
    assert not secure_worker_client(object(), environ={SECRET_ENV: "x"})  # a local oracle: no stub


def test_a_chief_beyond_loopback_without_a_secret_is_refused_unless_insecure(caplog):
    caplog.set_level(logging.WARNING, logger="keras_nasnet.search.auth")
    assert server_interceptors("127.0.0.1", environ={}) == []
    assert not caplog.records
    with pytest.raises(ValueError, match="on 0.0.0.0 without a secret.*--insecure"):
        server_interceptors("0.0.0.0", environ={})
    assert server_interceptors("0.0.0.0", environ={INSECURE_ENV: "1"}) == []
    assert "without authentication" in caplog.records[-1].getMessage()
    assert len(server_interceptors("0.0.0.0", environ={SECRET_ENV: "x"})) == 1
    assert is_loopback("localhost") and is_loopback("::1") and is_loopback("[::1]")
    assert not is_loopback("10.0.0.2") and not is_loopback("chief.example.org")


@pytest.fixture
def no_role_environment(monkeypatch):
    """Leaves keras-tuner's role variables and ours as they were after the test (the command
    sets them for the process)."""
    for name in (ENV_TUNER_ID, ENV_IP, ENV_PORT, SECRET_ENV, INSECURE_ENV):
        monkeypatch.setenv(name, "")  # records the value to restore, unset ones included
        monkeypatch.delenv(name)


def test_the_command_refuses_a_chief_beyond_loopback_without_insecure_before_any_work(
    no_role_environment, monkeypatch, tmp_path, capsys
):
    from keras_nasnet import cli
    from keras_nasnet.search import pipeline

    searched = []
    monkeypatch.setattr(pipeline, "search_dataset", lambda *a, **k: searched.append(k))
    argv = ["search", "--dataset", "fashion_mnist_sample", "--directory", str(tmp_path / "s")]
    chief = ["--role", "chief", "--oracle", f"0.0.0.0:{free_port()}"]
    assert cli.main([*argv, *chief]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "without a secret" in err[0] and "--insecure" in err[0]
    assert searched == []
    assert cli.main([*argv, *chief, "--insecure"]) == 0 and len(searched) == 1
    assert cli.main([*argv, "--role", "worker", "--worker-id", "w1", "--insecure"]) == 2
    assert "--insecure applies to --role chief only" in capsys.readouterr().err


@pytest.fixture
def chief_with_secret(tmp_path, monkeypatch):
    """A chief serving one random trial on 127.0.0.1 with the secret "s3cret"; returns its
    port. The test's own process then plays a worker, without the secret in its environment."""
    port = free_port()
    monkeypatch.setenv(SECRET_ENV, "s3cret")
    oracle = NASOracle(
        SPACE, "random", objective=keras_tuner.Objective("val_accuracy", "max"), max_trials=1
    )
    oracle.monitors = []
    open_project(oracle, str(tmp_path / "chief"), overwrite=True)
    threading.Thread(
        target=serve, args=(oracle, f"127.0.0.1:{port}"), kwargs={"poll": 0.05}, daemon=True
    ).start()
    monkeypatch.delenv(SECRET_ENV)
    return port


def _refused_worker_line(argv, capsys) -> str:
    from keras_nasnet import cli

    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line.startswith("keras-nasnet:")]
    assert len(lines) == 1 and "Traceback" not in err and "_InactiveRpcError" not in err, err
    return lines[0]


def test_a_refused_worker_names_the_cause_in_one_line(
    chief_with_secret, no_role_environment, monkeypatch, tmp_path, capsys
):
    worker = [
        "search",
        "--dataset",
        "fashion_mnist_sample",
        "--directory",
        str(tmp_path / "worker"),
        "--role",
        "worker",
        "--worker-id",
        "w1",
        "--oracle",
        f"127.0.0.1:{chief_with_secret}",
    ]
    line = _refused_worker_line(worker, capsys)
    assert f"chief at 127.0.0.1:{chief_with_secret} refused this worker" in line
    assert f"sent no secret; set {SECRET_ENV}" in line
    monkeypatch.setenv(SECRET_ENV, "wrong")
    line = _refused_worker_line(worker, capsys)
    assert f"this worker's {SECRET_ENV} is not the chief's secret" in line


def test_a_worker_whose_chief_cannot_be_reached_says_so_in_one_line(
    no_role_environment, monkeypatch, tmp_path, capsys
):
    from keras_tuner.src.distribute import oracle_client

    monkeypatch.setattr(oracle_client, "TIMEOUT", 1)  # keras-tuner waits an hour for a chief
    port = free_port()
    worker = ["search", "--dataset", "fashion_mnist_sample", "--directory", str(tmp_path / "w")]
    worker += ["--role", "worker", "--worker-id", "w1", "--oracle", f"127.0.0.1:{port}"]
    line = _refused_worker_line(worker, capsys)
    assert f"chief at 127.0.0.1:{port} cannot be reached (deadline_exceeded" in line
    assert "start the chief first" in line
