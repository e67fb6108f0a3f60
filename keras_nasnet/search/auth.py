"""A shared secret between a distributed search's chief and its workers.

keras-tuner's oracle service is plain, unauthenticated gRPC: any peer that reaches the
chief's port could create, end or poison trials. With the environment variable
``KERAS_NASNET_SECRET`` set (to the same value) on the chief and on every worker, each worker
request carries the secret as gRPC metadata (`SecretClientInterceptor`) and the chief refuses,
with UNAUTHENTICATED, and logs every request without it (`SecretServerInterceptor`).

The secret travels in clear text, like the rest of the traffic: it keeps out peers that can
reach the port, not ones that can read the network. Across an untrusted network, also keep
the port on a private network, a VPN or an SSH tunnel (docs/reliability.md).
"""

from __future__ import annotations

import collections
import hmac
import ipaddress
import logging
import os
from typing import Optional

import grpc

SECRET_ENV = "KERAS_NASNET_SECRET"
METADATA_KEY = "x-keras-nasnet-secret"

logger = logging.getLogger(__name__)


def secret_from_environment(environ=None) -> Optional[str]:
    """Returns the shared secret of `KERAS_NASNET_SECRET`, or None when unset or empty."""
    environ = os.environ if environ is None else environ
    return environ.get(SECRET_ENV) or None


def is_loopback(host: str) -> bool:
    """Returns whether `host` (an address or "localhost") only reaches this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


class SecretServerInterceptor(grpc.ServerInterceptor):
    """Refuses (UNAUTHENTICATED) and logs every request that does not carry `secret`."""

    def __init__(self, secret: str):
        if not isinstance(secret, str) or not secret:
            raise ValueError("`secret` must be a non-empty string.")
        self._secret = secret.encode("utf-8")
        self.refused = 0

    def intercept_service(self, continuation, handler_call_details):
        sent = dict(handler_call_details.invocation_metadata or ()).get(METADATA_KEY)
        if sent is not None and hmac.compare_digest(str(sent).encode("utf-8"), self._secret):
            return continuation(handler_call_details)
        method = handler_call_details.method
        reason = "no secret" if sent is None else "a wrong secret"

        def refuse(request, context):
            self.refused += 1
            logger.warning(
                "refused %s from %s: %s (%s)", method, context.peer(), reason, SECRET_ENV
            )
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED, f"keras-nasnet chief: {reason}; set {SECRET_ENV}."
            )

        return grpc.unary_unary_rpc_method_handler(refuse)


class _CallDetails(
    collections.namedtuple(
        "_CallDetails",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,
):
    pass


class SecretClientInterceptor(grpc.UnaryUnaryClientInterceptor):
    """Adds the secret to the metadata of every unary request (all keras-tuner's oracle calls)."""

    def __init__(self, secret: str):
        if not isinstance(secret, str) or not secret:
            raise ValueError("`secret` must be a non-empty string.")
        self._secret = secret

    def intercept_unary_unary(self, continuation, client_call_details, request):
        metadata = list(client_call_details.metadata or ()) + [(METADATA_KEY, self._secret)]
        details = _CallDetails(
            client_call_details.method,
            client_call_details.timeout,
            metadata,
            client_call_details.credentials,
            getattr(client_call_details, "wait_for_ready", None),
            getattr(client_call_details, "compression", None),
        )
        return continuation(details, request)


def server_interceptors(host: Optional[str] = None, environ=None) -> list:
    """Returns the interceptors a chief's gRPC server needs: the secret check, when one is set.

    Without a secret, serving on an address beyond loopback logs a warning: the port is then
    open to every peer that can reach it.
    """
    secret = secret_from_environment(environ)
    if secret is None:
        if host is not None and not is_loopback(host):
            logger.warning(
                "serving the oracle on %s without authentication: any peer that reaches this port "
                "can end or poison trials. Set %s on the chief and every worker.",
                host,
                SECRET_ENV,
            )
        return []
    return [SecretServerInterceptor(secret)]


def secure_worker_client(oracle, environ=None) -> bool:
    """Makes a keras-tuner worker's oracle client send the secret; returns whether it did.

    `oracle` is what keras-tuner's Tuner holds as `self.oracle`: on a worker, an
    `OracleClient` whose `stub` talks to the chief. Nothing changes without a secret or on a
    chief (whose oracle is local).
    """
    secret = secret_from_environment(environ)
    if secret is None or not hasattr(oracle, "stub"):
        return False
    environ = os.environ if environ is None else environ
    address = f"{environ['KERASTUNER_ORACLE_IP']}:{environ['KERASTUNER_ORACLE_PORT']}"
    channel = grpc.intercept_channel(
        grpc.insecure_channel(address), SecretClientInterceptor(secret)
    )
    oracle.stub = type(oracle.stub)(channel)
    return True
