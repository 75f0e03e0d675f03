"""`aiwo tokens`: mint, list and revoke bearer tokens; `aiwo tokens whoami`.

Through the controller (AuthService, tokens kept in etcd) by default; with --file, in a
controller's tokens file directly — how the first admin token is made, before any token
exists to call the API with.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict
from pathlib import Path

import click
from rich.table import Table

from sdk import (
    ROLES,
    FileToken,
    SyncAuthClient,
    TokenError,
    TokenInfo,
    new_file_token,
    read_tokens_file,
    write_tokens_file,
)
from sdk.cli._app import CliError, output_option, state
from sdk.cli._render import console

_TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> float:
    """ "90s", "15m", "12h", "30d" or plain seconds; "0" = never expires."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text.strip())
    if not match:
        raise click.BadParameter(f"{text!r}: use e.g. 3600, 90m, 12h or 30d", param_hint="--ttl")
    return float(match.group(1)) * _TTL_UNITS[match.group(2) or "s"]


def _client() -> SyncAuthClient:
    cli_state = state()
    client = SyncAuthClient.connect(cli_state.controller, config=cli_state.config)
    click.get_current_context().call_on_close(client.close)
    return client


file_option = click.option(
    "--file",
    "tokens_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Work on this controller tokens file instead of through the API.",
)


@click.group()
def tokens() -> None:
    """Bearer tokens: roles admin, operator, workload, viewer; scoped to namespaces."""


@tokens.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option(
    "--namespace",
    "-n",
    "namespaces",
    multiple=True,
    help="A namespace it may use (repeat; required for role workload; default: all).",
)
@click.option(
    "--ttl", default="0", show_default=True, help="Lifetime: 3600, 90m, 12h, 30d; 0 = never."
)
@click.option("--description", default="", help="Who or what it is for.")
@file_option
@output_option
def create(
    role: str,
    namespaces: tuple[str, ...],
    ttl: str,
    description: str,
    tokens_file: Path | None,
    output: str,
) -> None:
    """Mint a token. It is printed once, on stdout; only its hash is kept."""
    ttl_s = parse_ttl(ttl)
    if tokens_file is not None:
        try:
            token, record = new_file_token(role, namespaces, ttl_s, description)
            records = read_tokens_file(tokens_file)
            write_tokens_file(tokens_file, [*records, record])
        except TokenError as exc:
            raise CliError(str(exc)) from None
        info = _file_info(record)
    else:
        token, info = _client().create_token(role, namespaces, ttl_s, description)
    if output == "json":
        click.echo(json.dumps({"token": token, **asdict(info)}))
        return
    click.echo(token)
    expires = _when(info.expires_unix) if info.expires_unix else "never"
    click.echo(
        f"token {info.id}: role {info.role}, namespaces {', '.join(info.namespaces)}, "
        f"expires {expires}. It is shown only now: store it (e.g. in a 0600 file for "
        "--token-file / AIWO_TOKEN_FILE).",
        err=True,
    )


@tokens.command("list")
@file_option
@output_option
def list_(tokens_file: Path | None, output: str) -> None:
    """Tokens by id, role, namespaces and status (never the tokens themselves)."""
    if tokens_file is not None:
        try:
            infos = [_file_info(r) for r in read_tokens_file(tokens_file)]
        except TokenError as exc:
            raise CliError(str(exc)) from None
    else:
        infos = _client().list_tokens()
    now = time.time()
    if output == "json":
        click.echo(json.dumps([{**asdict(i), "status": i.status(now)} for i in infos]))
        return
    table = Table(box=None)
    for column in ("ID", "ROLE", "NAMESPACES", "STATUS", "EXPIRES", "SOURCE", "DESCRIPTION"):
        table.add_column(column)
    for info in infos:
        table.add_row(
            info.id,
            info.role,
            ",".join(info.namespaces),
            info.status(now),
            _when(info.expires_unix) if info.expires_unix else "never",
            info.source,
            info.description,
        )
    console().print(table)


@tokens.command("revoke")
@click.argument("token_id")
@file_option
def revoke(token_id: str, tokens_file: Path | None) -> None:
    """Revoke a token by id: refused from then on (every controller replica)."""
    if tokens_file is not None:
        records = read_tokens_file(tokens_file)
        found = [r for r in records if r.id == token_id]
        if not found:
            raise CliError(f"token {token_id} is not in {tokens_file}")
        for record in found:
            record.revoked, record.revoked_unix = True, time.time()
        write_tokens_file(tokens_file, records)
    else:
        _client().revoke_token(token_id)
    click.echo(f"token {token_id} revoked")


@tokens.command("whoami")
def whoami() -> None:
    """Who the controller takes you for: principal, role, namespaces, permissions."""
    me = _client().who_am_i()
    click.echo(f"{me.principal}  role {me.role}  namespaces {', '.join(me.namespaces)}")
    click.echo(f"permissions: {', '.join(me.permissions)}")


def _file_info(record: FileToken) -> TokenInfo:
    return TokenInfo.from_pb(record.info_pb())


def _when(unix: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(unix))
