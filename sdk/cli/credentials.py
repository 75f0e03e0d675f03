"""The CLI's global credential options: --token, --token-file and the --tls-* files.

Each falls back to its environment variable (click reads it), and when none is given the
SDK resolves the rest: AIWO_* variables, then what `aiwo up --secure` recorded for the
cluster being addressed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from sdk import ClientConfig, TlsConfig, read_token_file

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = (
    click.option(
        "--token",
        envvar="AIWO_TOKEN",
        metavar="TOKEN",
        help="Bearer token (else $AIWO_TOKEN, --token-file, or the cluster `aiwo up` recorded).",
    ),
    click.option(
        "--token-file",
        envvar="AIWO_TOKEN_FILE",
        type=click.Path(dir_okay=False),
        help="Read the bearer token from this file (keeps it out of shell history).",
    ),
    click.option(
        "--tls-ca", envvar="AIWO_TLS_CA", type=click.Path(dir_okay=False), help="CA bundle (PEM)."
    ),
    click.option(
        "--tls-cert",
        envvar="AIWO_TLS_CERT",
        type=click.Path(dir_okay=False),
        help="Client certificate (PEM) for a controller that requires one.",
    ),
    click.option(
        "--tls-key", envvar="AIWO_TLS_KEY", type=click.Path(dir_okay=False), help="Its key."
    ),
    click.option(
        "--tls-server-name",
        envvar="AIWO_TLS_SERVER_NAME",
        help="Name to expect in the controller's certificate, if not the dialled host.",
    ),
)


def credential_options(fn: F) -> F:
    for option in reversed(_OPTIONS):
        fn = option(fn)
    return fn


def client_config(
    token: str | None = None,
    token_file: str | None = None,
    tls_ca: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    tls_server_name: str | None = None,
) -> ClientConfig:
    """The ClientConfig for what was given; the SDK resolves whatever was not."""
    if token_file and not token:
        try:
            token = read_token_file(token_file)
        except Exception as exc:
            raise click.BadParameter(str(exc), param_hint="--token-file") from None
    tls = None
    if tls_ca or tls_cert or tls_key or tls_server_name:
        if bool(tls_cert) != bool(tls_key):
            raise click.UsageError("--tls-cert and --tls-key go together")
        tls = TlsConfig(tls_ca or "", tls_cert or "", tls_key or "", tls_server_name or "")
    return ClientConfig(token=token or None, tls=tls)
