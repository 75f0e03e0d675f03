"""`aiwo-agent`: the node agent, one per machine (run by systemd)."""

from __future__ import annotations

import os

# The agent forks workloads while gRPC threads run. gRPC's fork handlers cannot run then
# ("Other threads are currently calling into gRPC, skipping fork() handlers") and a child
# could crash before exec (seen: SIGSEGV). The child execs at once and needs none of
# gRPC's state, so the handlers are turned off. Must be set before grpc is imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import asyncio

import click
import structlog

from nodeagent.config import AgentConfig, ConfigError, load_config
from sdk._process import controller_tls_options, run_process, settings_options, stop_event
from sdk._systemd import notify_systemd

log = structlog.get_logger("aiwo.agent")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@settings_options("agent", config_envvar="AIWO_AGENT_CONFIG")
@click.option("--controller", help="Controller address HOST:PORT.")
@click.option("--node", help="Node name (default: host name).")
@click.option("--backend", type=click.Choice(["nvml", "sim"]), help="GPU backend.")
@click.option("--sim-gpu-model", help="Simulated GPU model (sim backend).")
@click.option("--sim-gpus", type=int, help="Simulated GPU count (sim backend).")
@click.option("--sim-seed", type=int, help="Seed of the simulated GPUs' noise.")
@click.option("--cpu-milli", type=int, help="CPU capacity to advertise (default: the host's).")
@click.option("--memory-mib", type=int, help="Memory to advertise (default: the host's).")
@click.option("--telemetry-interval-s", type=float, help="Seconds between telemetry reports.")
@click.option("--state-dir", help="Logs, checkpoints and fencing state of this agent.")
@click.option("--checkpoint-root", help="Checkpoints of managed workloads (default: in state dir).")
@click.option(
    "--shared-checkpoints/--no-shared-checkpoints",
    default=None,
    help="The checkpoint root is one filesystem every agent mounts at the same path.",
)
@click.option(
    "--gpu-control/--no-gpu-control",
    default=None,
    help="Let the controller set power limits and lock clocks (default). --no-gpu-control: "
    "never change a GPU setting; only report.",
)
@click.option(
    "--fence-after-s",
    type=float,
    help="Stop managed workloads after this long without a controller (0: never).",
)
@controller_tls_options("This node's certificate (PEM, names aiwo://node/NAME).")
@click.option("--workload-tls-cert", help="Client certificate for the workloads it starts (PEM).")
@click.option("--workload-tls-key", help="Its private key (PEM).")
def main(config_file: str | None, **flags: object) -> None:
    """Run the aiwo node agent. Settings: flags > AIWO_AGENT_* env > TOML file."""
    run_process(
        "aiwo-agent", lambda: load_config(config_file, overrides=flags), _run, (ConfigError,)
    )


async def _run(config: AgentConfig) -> int:
    from pathlib import Path

    from nodeagent.agent import Agent
    from nodeagent.clock_locks import ClockLocks
    from nodeagent.executor import Executor
    from nodeagent.gpu import make_backend
    from nodeagent.gpu.sim_faults import FAULT_FILE_NAME
    from nodeagent.net import NetSampler
    from nodeagent.probe import ReplicaProber
    from nodeagent.supervisor import Supervisor
    from nodeagent.throttle import ThrottleConfig, detect_throttler
    from nodeagent.transfers import Transfers

    backend = make_backend(
        config.backend,
        model=config.sim_gpu_model,
        count=config.sim_gpus,
        seed=config.sim_seed,
        node_name=config.node,
        fault_file=Path(config.state_dir) / FAULT_FILE_NAME,
    )
    # Each agent keeps its cgroups apart: several agents may share a host in tests and demos.
    throttler = detect_throttler(
        config=ThrottleConfig(
            cgroup_v2_root=Path(f"/sys/fs/cgroup/aiwo/{config.node}"),
            cgroup_v1_group=f"aiwo-{config.node}",
        )
    )
    state_dir = Path(config.state_dir)
    agent = Agent(
        config,
        backend,
        net_sampler=NetSampler(),
        capabilities=(throttler.capability, "managed-workloads"),
        shared_checkpoints=config.checkpoint_root if config.shared_checkpoints else "",
    )
    agent.prober = ReplicaProber(on_event=agent.report_supervisor_event)
    supervisor = Supervisor(
        log_dir=state_dir / "logs",
        checkpoint_root=Path(config.checkpoint_root),
        controller_address=config.controller,
        throttler=throttler,
        on_event=agent.report_supervisor_event,
        # Node name and state dir: unique to this agent, the same across its restarts.
        owner=f"{config.node}@{config.state_dir}",
        replicas=agent.prober,
    )
    # Workloads left running by a previous life of this agent would run twice once the
    # controller's assignment set restarts them: stop them first.
    leftovers = await supervisor.reap_leftovers()
    if leftovers:
        log.warning("stopped_leftover_workloads", process_groups=leftovers)
    transfers = Transfers(supervisor, agent.outbox.put)
    agent.transfers = transfers
    agent.executor = Executor(
        backend,
        supervisor=supervisor,
        throttler=throttler,
        transfers=transfers,
        gpu_control=config.gpu_control,
        credentials=agent.workload_credentials,
        clock_locks=ClockLocks(state_dir / "clock-locks.json"),
    )
    stop = stop_event()
    state = backend.state()
    log.info(
        "agent_starting",
        node=config.node,
        controller=config.controller,
        backend=state.kind,
        backend_status=state.status.value,
        detail=state.detail,
        gpus=len(backend.inventory()),
        throttle=throttler.capability,
    )
    ready = asyncio.create_task(_notify_when_connected(agent))
    await agent.run(stop)
    ready.cancel()
    await supervisor.shutdown()
    await agent.prober.close()
    await throttler.close()
    backend.close()
    return 0


async def _notify_when_connected(agent: object) -> None:
    await agent.connected.wait()  # type: ignore[attr-defined]
    notify_systemd("READY=1")


if __name__ == "__main__":
    main()
