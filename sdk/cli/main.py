"""`aiwo`: the command line for an aiwo cluster, built only on the public SDK."""

from __future__ import annotations

import click

from sdk.cli import bench as bench_module
from sdk.cli import certs as certs_module
from sdk.cli import cluster as cluster_module
from sdk.cli import commands, lifecycle, migrate, run, serve, top, workload
from sdk.cli import tokens as tokens_module
from sdk.cli._app import AiwoGroup, CliState
from sdk.cli.credentials import client_config, credential_options
from sdk.cli.up import up


@click.group(cls=AiwoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--controller",
    envvar="AIWO_CONTROLLER",
    metavar="HOST:PORT",
    help="Controller address (else $AIWO_CONTROLLER, else the cluster `aiwo up` recorded).",
)
@credential_options
@click.pass_context
def cli(ctx: click.Context, controller: str | None, **credentials: str | None) -> None:
    """Place, watch and explain AI workloads on a GPU fleet."""
    ctx.obj = CliState(controller=controller, config=client_config(**credentials))


for command in (
    commands.nodes,
    commands.gpus,
    commands.workloads,
    commands.events,
    commands.describe,
    commands.explain,
    commands.cordon,
    commands.uncordon,
    commands.info,
    top.top,
    workload.register,
    workload.deregister,
    workload.update,
    run.run,
    run.logs,
    serve.serve,
    serve.services,
    serve.scale,
    migrate.migrate,
    migrate.drain,
    migrate.migrations,
    bench_module.bench,
    up,
    lifecycle.down,
    lifecycle.reset,
    cluster_module.cluster,
    certs_module.certs,
    tokens_module.tokens,
):
    cli.add_command(command)
commands.describe.add_command(serve.describe_service)


def main() -> None:
    cli(prog_name="aiwo")


if __name__ == "__main__":
    main()
