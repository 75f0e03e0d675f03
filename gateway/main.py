"""`aiwo-gateway`: the HTTP gateway in front of services' replicas (run by systemd or `aiwo up`)."""

from __future__ import annotations

import click
import structlog

from gateway.config import ConfigError, GatewayConfig, load_config
from sdk._process import controller_tls_options, run_process, settings_options, stop_event
from sdk._systemd import notify_systemd

log = structlog.get_logger("aiwo.gateway")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@settings_options("gateway", config_envvar="AIWO_GATEWAY_CONFIG")
@click.option("--listen", help="HTTP address HOST:PORT (requests: /s/NAMESPACE/NAME/PATH).")
@click.option("--controller", help="Controller address HOST:PORT[,HOST:PORT...].")
@click.option("--name", help="This gateway's name (default: host name).")
@click.option("--metrics-listen", help="Prometheus /metrics address HOST:PORT ('' = off).")
@click.option("--queue-size", type=int, help="Requests held per service with no ready replica.")
@click.option("--queue-timeout-s", type=float, help="How long a held request waits (then 503).")
@click.option("--max-body-bytes", type=int, help="Largest request body (above: 413).")
@click.option("--eject-s", type=float, help="Seconds a replica that broke a request is out.")
@click.option("--report-interval-s", type=float, help="Seconds per traffic report.")
@controller_tls_options("This gateway's certificate (PEM) for mutual TLS.")
def main(config_file: str | None, **flags: object) -> None:
    """Run the aiwo gateway. Settings: flags > AIWO_GATEWAY_* env > TOML file."""
    run_process(
        "aiwo-gateway", lambda: load_config(config_file, overrides=flags), _run, (ConfigError,)
    )


async def _run(config: GatewayConfig) -> int:
    from gateway.app import Gateway

    gateway = Gateway(config)
    try:
        await gateway.start()
    except OSError as exc:
        log.error("gateway_listen_failed", listen=config.listen, error=str(exc))
        click.echo(
            f"aiwo-gateway: cannot listen on {config.listen}: {exc.strerror or exc}", err=True
        )
        await gateway.stop()
        return 1
    notify_systemd("READY=1")
    await stop_event().wait()
    log.info("gateway_stopping")
    notify_systemd("STOPPING=1")
    await gateway.stop()
    return 0


if __name__ == "__main__":
    main()
