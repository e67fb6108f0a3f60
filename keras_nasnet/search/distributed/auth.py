"""A shared secret between a distributed search's chief and its workers.

keras-tuner's oracle service is plain, unauthenticated gRPC: any peer that reaches the
chief's port could create, end or poison trials. With the environment variable
``KERAS_NASNET_SECRET`` set (to the same value) on the chief and on every worker, each worker
request carries the secret as gRPC metadata (`SecretClientInterceptor`) and the chief refuses,
with UNAUTHENTICATED, and logs every request without it (`SecretServerInterceptor`).

A chief asked to listen beyond loopback without a secret refuses to start unless told that the
network is trusted (``KERAS_NASNET_INSECURE=1``, what ``--insecure`` sets). A worker the chief
refuses, or that cannot reach it, stops with one `ChiefRefusedError` naming the cause (no
secret, a wrong secret, the chief unreachable) instead of gRPC's own exception.

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
INSECURE_ENV = "KERAS_NASNET_INSECURE"
METADATA_KEY = "x-keras-nasnet-secret"

logger = logging.getLogger(__name__)


def secret_from_environment(environ=None) -> Optional[str]:
    """Returns the shared secret of `KERAS_NASNET_SECRET`, or None when unset or empty."""
    environ = os.environ if environ is None else environ
    return environ.get(SECRET_ENV) or None


class ChiefRefusedError(ConnectionError):
    """The chief refused this worker (no or a wrong secret) or could not be reached; the
    message names the chief's address and the cause."""


def insecure_allowed(environ=None) -> bool:
    """Returns whether `KERAS_NASNET_INSECURE` (set by `--insecure`) allows a chief without a
    secret beyond loopback."""
    environ = os.environ if environ is None else environ
    return environ.get(INSECURE_ENV, "").strip().lower() in ("1", "true", "yes")


def check_chief_address(host: str, environ=None) -> None:
    """Returns None if a chief may serve on `host`: loopback, a secret set, or the insecure
    mode asked for.

    Raises:
        ValueError: an address beyond loopback without `KERAS_NASNET_SECRET` or
            `KERAS_NASNET_INSECURE`; the message names the address and the ways out.
    """
    if is_loopback(host) or secret_from_environment(environ) is not None:
        return
    if not insecure_allowed(environ):
        raise ValueError(
            f"The chief would serve the oracle on {host} without a secret: any peer that "
            f"reaches the port could end or poison trials. Set {SECRET_ENV} on the chief and "
            "every worker, bind 127.0.0.1, or pass --insecure (KERAS_NASNET_INSECURE=1) on a "
            "network you trust."
        )


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


def _with_secret(details, secret: str):
    metadata = list(details.metadata or ()) + [(METADATA_KEY, secret)]
    return _CallDetails(
        details.method,
        details.timeout,
        metadata,
        details.credentials,
        getattr(details, "wait_for_ready", None),
        getattr(details, "compression", None),
    )


class SecretClientInterceptor(grpc.UnaryUnaryClientInterceptor):
    """Adds the secret to the metadata of every unary request (all keras-tuner's oracle calls)."""

    def __init__(self, secret: str):
        if not isinstance(secret, str) or not secret:
            raise ValueError("`secret` must be a non-empty string.")
        self._secret = secret

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(_with_secret(client_call_details, self._secret), request)


# gRPC codes that mean the chief refused the worker or is out of reach.
_UNREACHABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class WorkerClientInterceptor(grpc.UnaryUnaryClientInterceptor):
    """A worker's side of every request to the chief at `address`: sends `secret` (if any) and
    turns a refusal or an unreachable chief into a `ChiefRefusedError` naming the cause."""

    def __init__(self, address: str, secret: Optional[str] = None):
        self.address = address
        self._secret = secret

    def intercept_unary_unary(self, continuation, client_call_details, request):
        if self._secret is not None:
            client_call_details = _with_secret(client_call_details, self._secret)
        outcome = continuation(client_call_details, request)
        error = outcome.exception()
        if isinstance(error, grpc.RpcError):
            refusal = self.refusal(error)
            if refusal is not None:
                raise refusal from error
        return outcome

    def refusal(self, error: grpc.RpcError) -> Optional[ChiefRefusedError]:
        """Returns the `ChiefRefusedError` a failed request stands for, or None for another
        failure (left as it is)."""
        code = error.code()
        if code == grpc.StatusCode.UNAUTHENTICATED:
            if self._secret is None:
                cause = f"this worker sent no secret; set {SECRET_ENV} to the chief's secret"
            else:
                cause = f"this worker's {SECRET_ENV} is not the chief's secret"
            return ChiefRefusedError(f"The chief at {self.address} refused this worker: {cause}.")
        if code in _UNREACHABLE:
            return ChiefRefusedError(
                f"The chief at {self.address} cannot be reached ({code.name.lower()}: "
                f"{error.details()}); start the chief first, or check --oracle HOST:PORT and "
                "the network."
            )
        return None


def server_interceptors(host: Optional[str] = None, environ=None) -> list:
    """Returns the interceptors a chief's gRPC server needs: the secret check, when one is set.

    Without a secret, serving on an address beyond loopback is refused, or under
    `KERAS_NASNET_INSECURE` logged as a warning: the port is then open to every peer that can
    reach it.

    Raises:
        ValueError: `host` is beyond loopback and neither a secret nor the insecure mode is set.
    """
    secret = secret_from_environment(environ)
    if secret is None:
        if host is not None and not is_loopback(host):
            check_chief_address(host, environ)
            logger.warning(
                "serving the oracle on %s without authentication (%s): any peer that reaches "
                "this port can end or poison trials. Set %s on the chief and every worker.",
                host,
                INSECURE_ENV,
                SECRET_ENV,
            )
        return []
    return [SecretServerInterceptor(secret)]


def secure_worker_client(oracle, environ=None) -> bool:
    """Routes a keras-tuner worker's requests through `WorkerClientInterceptor`: with the
    secret when one is set, and with a refusal named as such; returns whether it sends a
    secret.

    `oracle` is what keras-tuner's Tuner holds as `self.oracle`: on a worker, an
    `OracleClient` whose `stub` talks to the chief. Nothing changes on a chief (whose oracle
    is local).
    """
    environ = os.environ if environ is None else environ
    if not hasattr(oracle, "stub"):
        return False
    secret = secret_from_environment(environ)
    address = f"{environ['KERASTUNER_ORACLE_IP']}:{environ['KERASTUNER_ORACLE_PORT']}"
    channel = grpc.intercept_channel(
        grpc.insecure_channel(address), WorkerClientInterceptor(address, secret)
    )
    oracle.stub = type(oracle.stub)(channel)
    return secret is not None
