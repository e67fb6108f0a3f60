"""Distributed search: one chief holds the controller, workers train children.

Built on keras-tuner's own distributed mode, configured by its environment variables:
``KERASTUNER_TUNER_ID`` ("chief" on the chief, a unique id without "chief" on each worker),
``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT`` (where the chief serves the oracle).
`role_environment` turns the command line's ``--role/--oracle/--worker-id`` into them.

The chief runs `serve` instead of keras-tuner's server loop: the same gRPC service, but it
checks for dead workers every `poll` seconds (`NASOracle.requeue_lost_trials`), reports each
result as it arrives, and returns as soon as the last trial ended and every worker was told to
stop (keras-tuner's own loop sleeps 20 s at a time and waits forever for a dead worker). With
``KERAS_NASNET_SECRET`` set on the chief and the workers, every request must carry it
(`search.auth`); without it the service is unauthenticated: keep the port on loopback or a
trusted network.
"""

from __future__ import annotations

import os
import time
from typing import Callable, Optional

ROLES = ("single", "chief", "worker")
# Where a chief listens and its workers connect when no address is given: this machine only.
DEFAULT_ORACLE = "127.0.0.1:8000"
CHIEF_ID = "chief"
ENV_TUNER_ID = "KERASTUNER_TUNER_ID"
ENV_IP = "KERASTUNER_ORACLE_IP"
ENV_PORT = "KERASTUNER_ORACLE_PORT"


def parse_address(address: str) -> tuple[str, int]:
    """Returns (host, port) of "HOST:PORT". Raises ValueError on anything else."""
    host, sep, port = str(address).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"`oracle` must be HOST:PORT with a port in 1..65535; received {address!r}."
        )
    return host.strip("[]"), int(port)


def role_environment(
    role: str, oracle: Optional[str] = None, worker_id: Optional[str] = None
) -> dict:
    """Returns keras-tuner's environment variables for `role` ({} for "single").

    Args:
        role: "single" (no distribution), "chief" or "worker".
        oracle: "HOST:PORT": where the chief listens (default `DEFAULT_ORACLE`, 127.0.0.1:8000,
            loopback; it binds HOST: 127.0.0.1 for workers on
            this machine, the address of one interface for a cluster, with the shared secret
            `KERAS_NASNET_SECRET` set, see search/distributed/auth.py) and where workers connect.
        worker_id: a worker's unique id (not containing "chief"); restarting a worker with the
            same id hands it back the trial it was running.

    Raises:
        ValueError: an unknown role, a malformed address, or a bad worker id.
    """
    if role not in ROLES:
        raise ValueError(f"Unknown `role` {role!r}; allowed: {', '.join(ROLES)}.")
    if role == "single":
        if oracle is not None or worker_id is not None:
            raise ValueError("`oracle` and `worker_id` need role 'chief' or 'worker'.")
        return {}
    # Loopback unless told otherwise: a port reachable from other machines is a choice to make
    # with the shared secret (search/distributed/auth.py), never a default.
    host, port = parse_address(DEFAULT_ORACLE if oracle is None else oracle)
    if role == "chief":
        if worker_id not in (None, CHIEF_ID):
            raise ValueError(f"The chief's id is {CHIEF_ID!r}; received worker_id={worker_id!r}.")
        tuner_id = CHIEF_ID
    else:
        if not worker_id or CHIEF_ID in worker_id or any(c.isspace() for c in worker_id):
            raise ValueError(
                "A worker needs a unique `worker_id` without spaces and not containing "
                f"{CHIEF_ID!r}; received {worker_id!r}."
            )
        tuner_id = worker_id
    return {ENV_TUNER_ID: tuner_id, ENV_IP: host, ENV_PORT: str(port)}


def current_role(environ=None) -> str:
    """Returns "single", "chief" or "worker" from keras-tuner's environment variables.

    Raises:
        ValueError: the variables are set only in part.
    """
    environ = os.environ if environ is None else environ
    present = [name for name in (ENV_TUNER_ID, ENV_IP, ENV_PORT) if environ.get(name)]
    if not present or present == [ENV_TUNER_ID]:  # a tuner id alone only names a local tuner
        return "single"
    if len(present) < 3:
        missing = sorted({ENV_TUNER_ID, ENV_IP, ENV_PORT} - set(present))
        raise ValueError(
            f"Distributed search needs {', '.join(missing)} set as well as {', '.join(present)}."
        )
    return "chief" if CHIEF_ID in environ[ENV_TUNER_ID] else "worker"


def serve(
    oracle,
    address: Optional[str] = None,
    poll: float = 0.5,
    on_result: Optional[Callable[[str], None]] = None,
    max_workers: int = 16,
) -> None:
    """Serves `oracle` to keras-tuner workers until the search is over.

    Args:
        oracle: a `NASOracle` (needs `requeue_lost_trials` and `search_finished`).
        address: "HOST:PORT" to bind (default: the KERASTUNER_ORACLE_IP/PORT variables).
        poll: seconds between checks for dead workers and the end of the search.
        on_result: called with each trial id as its end reaches the chief.
        max_workers: gRPC threads: several, so that heartbeats get through while other
            requests wait for the oracle's lock (a controller update in end_trial); with many
            workers, too few threads would delay heartbeats until healthy workers look dead.
            NASOracle synchronizes its readers as well as its writers.
    """
    from concurrent import futures

    import grpc

    from ... import compat

    if address is None:
        address = f"{os.environ[ENV_IP]}:{os.environ[ENV_PORT]}"
    from .auth import server_interceptors

    host, port = parse_address(address)
    # With KERAS_NASNET_SECRET set, requests without it are refused and logged (auth.py).
    pool = futures.ThreadPoolExecutor(max_workers=max_workers)
    server = grpc.server(pool, interceptors=server_interceptors(host))
    compat.add_oracle_service(server, oracle)
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise ValueError(
            f"Cannot listen on {host}:{port} (in use, or not an address of this machine)."
        )
    server.start()
    reported = len(oracle.end_order)
    try:
        while True:
            time.sleep(poll)
            for tuner_id in oracle.requeue_lost_trials():
                print(f"worker {tuner_id} lost: its trial goes back to the queue", flush=True)
            ended = list(oracle.end_order)
            if on_result is not None:
                for trial_id in ended[reported:]:
                    on_result(trial_id)
            reported = len(ended)
            if oracle.search_finished():
                break
    finally:
        server.stop(grace=2)
