"""Distributed search through keras-tuner's chief/worker mode: roles, the chief's server loop
(`server`) and the shared secret (`auth`)."""

from .server import (
    CHIEF_ID,
    DEFAULT_ORACLE,
    ENV_IP,
    ENV_PORT,
    ENV_TUNER_ID,
    ROLES,
    current_role,
    parse_address,
    role_environment,
    serve,
)

__all__ = [
    "CHIEF_ID",
    "DEFAULT_ORACLE",
    "ENV_IP",
    "ENV_PORT",
    "ENV_TUNER_ID",
    "ROLES",
    "current_role",
    "parse_address",
    "role_environment",
    "serve",
]
