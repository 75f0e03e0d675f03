"""Agent configuration: defaults < TOML file < AIWO_AGENT_* environment < flags."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sdk._settings import layered_settings


class ConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class AgentConfig:
    controller: str = "127.0.0.1:7070"
    # False: never change a GPU's power limit or clocks (a shared or borrowed machine, or one
    # whose power another system manages). The agent then does not report the capabilities,
    # so the controller plans no caps or clock locks for it and refuses them if sent anyway.
    gpu_control: bool = True
    node: str = ""  # default: the host name
    backend: str = "nvml"  # or "sim"
    sim_gpu_model: str = "H100"
    sim_gpus: int = 8
    sim_seed: int = 0
    cpu_milli: int = 0  # 0 = what the host has
    memory_mib: int = 0
    telemetry_interval_s: float = 1.0
    state_dir: str = ""  # logs, checkpoints, fencing state; default under the user's state dir
    # Where managed workloads keep checkpoints (default STATE_DIR/checkpoints). With
    # shared_checkpoints, every agent mounts it at this same path (NFS, a cluster filesystem):
    # a migration between two such nodes then moves no bytes (docs/migration.md).
    checkpoint_root: str = ""
    shared_checkpoints: bool = False
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 10.0
    # Cut off from every controller for this long, the agent stops its managed workloads.
    # It must be shorter than the controller's node grace + eviction grace (10 s + 60 s by
    # default), after which the controller starts them elsewhere: stopping first is what
    # keeps two copies from running during a partition (tests/fault/test_partition.py found
    # both running when the two were equal). 0 disables self-fencing.
    fence_after_s: float = 60.0
    log_format: str = "console"
    log_level: str = "info"
    # Mutual TLS (docs/security.md): this node's certificate (URI SAN aiwo://node/NAME),
    # its key, and the CA that signed the controller's. Empty tls_cert = plaintext.
    tls_cert: str = ""
    tls_key: str = ""
    tls_ca: str = ""
    tls_server_name: str = ""  # name to expect in the controller's certificate, if not its host
    # A client certificate (no node identity) handed to the managed workloads this agent
    # starts, with a token it asks the controller for: on a secured cluster they can then
    # use the SDK. Unset there: they run, but cannot attach.
    workload_tls_cert: str = ""
    workload_tls_key: str = ""

    def resolved(self) -> AgentConfig:
        node = self.node or socket.gethostname().split(".")[0].lower()
        state_dir = self.state_dir or str(_default_state_dir() / "agents" / node)
        checkpoint_root = self.checkpoint_root or str(Path(state_dir) / "checkpoints")
        config = replace(self, node=node, state_dir=state_dir, checkpoint_root=checkpoint_root)
        endpoints = [e.strip() for e in config.controller.split(",") if e.strip()]
        if not endpoints or any(not _is_host_port(e) for e in endpoints):
            raise ConfigError(
                f"controller: expected HOST:PORT[,HOST:PORT...], got {config.controller!r}"
            )
        if config.backend not in ("nvml", "sim"):
            raise ConfigError(f"backend: must be 'nvml' or 'sim', got {config.backend!r}")
        if not 0 < config.sim_gpus <= 64:
            raise ConfigError(f"sim_gpus: must be 1..64, got {config.sim_gpus}")
        if config.telemetry_interval_s <= 0:
            raise ConfigError("telemetry_interval_s: must be > 0")
        if config.shared_checkpoints and not Path(config.checkpoint_root).is_absolute():
            raise ConfigError("checkpoint_root: a shared directory needs an absolute path")
        if bool(config.tls_cert) != bool(config.tls_key):
            raise ConfigError("tls_cert, tls_key: a certificate needs its key (set both)")
        if bool(config.workload_tls_cert) != bool(config.workload_tls_key):
            raise ConfigError(
                "workload_tls_cert, workload_tls_key: a certificate needs its key (set both)"
            )
        return config


def _is_host_port(endpoint: str) -> bool:
    host, sep, port = endpoint.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536)


def _default_state_dir() -> Path:
    if os.environ.get("AIWO_STATE_DIR"):
        return Path(os.environ["AIWO_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "aiwo"


def load_config(
    toml_path: str | None = None,
    environ: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> AgentConfig:
    return layered_settings(
        AgentConfig(), "agent", "AIWO_AGENT_", toml_path, environ, overrides, ConfigError
    ).resolved()
