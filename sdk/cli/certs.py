"""`aiwo certs`: a CA and the certificates a cluster needs (with `cryptography`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from sdk import state_dir
from sdk.cli._app import CliError

if TYPE_CHECKING:
    from sdk import Issued


def _default_dir() -> Path:
    return state_dir() / "certs"


def _split(values: str) -> list[str]:
    return [v.strip() for v in values.split(",") if v.strip()]


@click.group()
def certs() -> None:
    """Create and issue TLS certificates (CA, controller, agents, gateways, clients)."""


@certs.command("init")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write them (default: STATE_DIR/certs).",
)
@click.option("--nodes", default="", metavar="NAME,...", help="One agent certificate per node.")
@click.option(
    "--gateways", default="", metavar="NAME,...", help="One aiwo-gateway certificate per name."
)
@click.option(
    "--hosts",
    default="localhost,127.0.0.1",
    show_default=True,
    metavar="HOST,...",
    help="Names and IPs clients use to reach the controller (its certificate's SANs).",
)
@click.option("--new-ca", is_flag=True, help="Replace an existing CA (invalidates every cert).")
def init(directory: Path | None, nodes: str, gateways: str, hosts: str, new_ca: bool) -> None:
    """A CA (kept if one exists), and certificates for the controller, the CLI, nodes and
    gateways.

    Private keys are written 0600. Keep ca-key.pem off the controller and the nodes: it
    can mint a certificate for any node.
    """
    from sdk import init_pki

    target = (directory or _default_dir()).expanduser()
    names, gateway_names = _split(nodes), _split(gateways)
    _check_names([*names, *gateway_names])
    layout = init_pki(target, names, _split(hosts), reuse_ca=not new_ca, gateways=gateway_names)
    click.echo(f"CA          {layout.ca_cert}  (key {layout.ca_key})")
    click.echo(f"controller  {layout.controller_cert}  (key {layout.controller_key})")
    click.echo(f"cli         {layout.client_cert}  (key {layout.client_key})")
    for node, (cert, key) in layout.node_certs.items():
        click.echo(f"node {node:<6} {cert}  (key {key})")
    for gateway, (cert, key) in layout.gateway_certs.items():
        click.echo(f"gateway {gateway:<3} {cert}  (key {key})")


@certs.command("issue")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The CA's directory (default: STATE_DIR/certs).",
)
@click.option("--node", "nodes", multiple=True, help="An agent certificate for this node.")
@click.option(
    "--gateway",
    "gateways",
    multiple=True,
    help="An aiwo-gateway certificate (URI aiwo://gateway/NAME: the gateway role only).",
)
@click.option("--client", "clients", multiple=True, help="A client certificate (CLI, app).")
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 3650))
def issue(
    directory: Path | None,
    nodes: tuple[str, ...],
    gateways: tuple[str, ...],
    clients: tuple[str, ...],
    days: int,
) -> None:
    """More certificates from an existing CA: new nodes, gateways, clients, or rotation."""
    from sdk import issue_client, issue_gateway, issue_node, write_pem

    if not nodes and not gateways and not clients:
        raise click.UsageError("name at least one --node, --gateway or --client")
    _check_names([*nodes, *gateways, *clients])
    target, ca = _ca_in(directory)
    made = [("nodes", n, issue_node(ca, n, days)) for n in nodes]
    made += [("gateways", g, issue_gateway(ca, g, days)) for g in gateways]
    made += [("clients", c, issue_client(ca, c, days)) for c in clients]
    for folder, name, issued in made:
        cert, key = target / folder / f"{name}.pem", target / folder / f"{name}-key.pem"
        write_pem(cert, issued.cert_pem, private=False)
        write_pem(key, issued.key_pem, private=True)
        click.echo(f"{folder[:-1]} {name}: {cert}  (key {key})")


@certs.command("revoke")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The CA's directory (default: STATE_DIR/certs); its crl.pem is updated.",
)
@click.option("--node", "nodes", multiple=True, help="The certificate issued to this node.")
@click.option("--gateway", "gateways", multiple=True, help="A gateway's certificate by name.")
@click.option("--client", "clients", multiple=True, help="A client certificate by name.")
@click.option(
    "--cert",
    "paths",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A certificate file (PEM) the CA issued.",
)
def revoke(
    directory: Path | None,
    nodes: tuple[str, ...],
    gateways: tuple[str, ...],
    clients: tuple[str, ...],
    paths: tuple[Path, ...],
) -> None:
    """Revoke certificates: add them to the CA's CRL (crl.pem), which the controller reads
    as tls_crl. A controller refuses them within a second, open streams included.

    Then issue the node, gateway or client a new certificate (`aiwo certs issue`) if it should
    keep working: the old one stays revoked.
    """
    from sdk import revoke_certificate as with_revoked
    from sdk import write_pem

    if not nodes and not gateways and not clients and not paths:
        raise click.UsageError("name at least one --node, --gateway, --client or --cert")
    _check_names([*nodes, *gateways, *clients])
    target, ca = _ca_in(directory)
    files = [target / "nodes" / f"{n}.pem" for n in nodes]
    files += [target / "gateways" / f"{g}.pem" for g in gateways]
    files += [target / ("cli.pem" if c == "cli" else f"clients/{c}.pem") for c in clients]
    files += list(paths)
    pems = []
    for path in files:
        try:
            pems.append(path.read_bytes())
        except OSError as exc:
            raise CliError(f"{path}: {exc.strerror}") from None
    crl_path = target / "crl.pem"
    try:
        crl = with_revoked(ca, pems, crl_path.read_bytes() if crl_path.exists() else None)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    write_pem(crl_path, crl, private=False)
    for path in files:
        click.echo(f"revoked {path}")
    click.echo(f"CRL {crl_path}: give it to the controller as tls_crl (and to every replica)")


def _ca_in(directory: Path | None) -> tuple[Path, Issued]:
    """The CA directory (default STATE_DIR/certs) and its CA, or a one-line error."""
    from sdk import load_ca

    target = (directory or _default_dir()).expanduser()
    try:
        return target, load_ca(target)
    except OSError as exc:
        raise CliError(f"no CA in {target} ({exc.strerror}); run `aiwo certs init`") from None


def _check_names(names: list[str]) -> None:
    import re

    for name in names:
        if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", name):
            raise click.BadParameter(f"{name!r}: names are [a-z0-9-], at most 63 characters")
