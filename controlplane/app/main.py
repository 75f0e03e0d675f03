"""`aiwo-controller`: the central control plane process."""

from __future__ import annotations

import asyncio

import click

from controlplane.app.config import ConfigError, ControllerConfig, load_config
from sdk._process import run_process, settings_options, stop_event
from sdk._systemd import notify_systemd


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@settings_options("controller", config_envvar="AIWO_CONFIG")
@click.option("--listen", help="gRPC address HOST:PORT (port 0 = any free port).")
@click.option("--etcd-endpoints", help="Comma-separated etcd client endpoints HOST:PORT.")
@click.option("--etcd-prefix", help="Key prefix in etcd (default /aiwo/v1).")
@click.option("--metrics-listen", help="Prometheus endpoint HOST:PORT; '' disables it.")
@click.option("--controller-id", help="This replica's id (default host-pid).")
@click.option("--policy", help="Placement policy name.")
@click.option(
    "--preemption-min-runtime-s",
    type=float,
    help="Work placed less than this long ago is never preempted.",
)
@click.option("--node-grace-s", type=float, help="Seconds without heartbeat before NotReady.")
@click.option("--eviction-grace-s", type=float, help="Seconds NotReady before rescheduling.")
@click.option(
    "--leader-grace-s",
    type=float,
    help="After a leader change, seconds before any NotReady (0: sized to the fleet).",
)
@click.option("--agent-admission-rps", type=float, help="Agent streams admitted per second.")
@click.option(
    "--telemetry-burst-factor",
    type=float,
    help="Reports a stream may send per telemetry interval before the excess is dropped (4).",
)
@click.option("--leader-lease-s", type=int, help="Leader lease TTL (failover takes about this).")
@click.option("--ready-file", help="Write {address, metrics, pid} as JSON here once serving.")
@click.option("--tls-cert", help="The controller's certificate (PEM); enables mutual TLS.")
@click.option("--tls-key", help="Its private key (PEM).")
@click.option("--tls-ca", help="CA bundle that signs agent and client certificates.")
@click.option("--tls-crl", help="CRL(s) of those CAs (PEM): revoked certificates are refused.")
@click.option("--etcd-ca", help="CA bundle of the etcd members' certificates: TLS to etcd.")
@click.option("--etcd-cert", help="Client certificate (PEM) for etcd's client-cert-auth.")
@click.option("--etcd-key", help="Its private key (PEM).")
@click.option("--etcd-server-name", help="Name in the etcd members' certificates, if not the host.")
@click.option("--auth", type=click.Choice(["none", "token"]), help="Require bearer tokens.")
@click.option("--tokens-file", help="Hashed tokens accepted besides etcd's (aiwo tokens).")
@click.option("--max-message-bytes", type=int, help="Largest request or response (4 MiB).")
@click.option(
    "--max-workloads-per-namespace", type=int, help="Registration limit; 0 = none (10000)."
)
@click.option("--rate-limit-rps", type=float, help="Requests/s per client; 0 = none (200).")
@click.option("--rate-limit-burst", type=int, help="Requests a client may burst (400).")
def main(config_file: str | None, **flags: object) -> None:
    """Run the aiwo controller. Settings: flags > AIWO_CONTROLLER_* env > TOML file."""
    run_process(
        "aiwo-controller", lambda: load_config(config_file, overrides=flags), _serve, (ConfigError,)
    )


async def _serve(config: ControllerConfig) -> int:
    from controlplane.app.gc_policy import settle_logged, settle_periodically
    from controlplane.app.server import Controller
    from controlplane.auth.revocation import RevocationError
    from controlplane.etcd.store import StoreUnavailable
    from controlplane.optimizer import ConfigError as PolicyError

    try:
        # The policy is checked once, where Controller builds its OptimizerConfig.
        controller = Controller(config)
    except (PolicyError, StoreUnavailable, RevocationError) as exc:  # bad policy, TLS files
        click.echo(f"aiwo-controller: {exc}", err=True)
        return 2
    stop = stop_event()
    try:
        await controller.start()
    except (StoreUnavailable, OSError) as exc:
        click.echo(f"aiwo-controller: {exc}", err=True)
        await controller.stop(0)
        return 1
    settling = None
    if config.gc_settle_interval_s > 0:  # the caches are loaded: settle them out of the way
        settle_logged("info")
        settling = asyncio.create_task(settle_periodically(config.gc_settle_interval_s))
    notify_systemd("READY=1")
    await stop.wait()
    if settling is not None:
        settling.cancel()
    notify_systemd("STOPPING=1")
    await controller.stop()
    return 0


if __name__ == "__main__":
    main()
