"""Where the controller is: shared by the SDK, the CLI and `aiwo up`.

Resolution order: an explicit target, else $AIWO_CONTROLLER, else the "controller" key of
STATE_DIR/cluster.json (written by `aiwo up`), else the controller's default listen
address. STATE_DIR is $AIWO_STATE_DIR, else $XDG_STATE_HOME/aiwo, else
~/.local/state/aiwo (the XDG base-directory default).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_TARGET = "127.0.0.1:7070"  # aiwo-controller's default --listen
CLUSTER_FILE = "cluster.json"
ENV_CONTROLLER = "AIWO_CONTROLLER"
ENV_STATE_DIR = "AIWO_STATE_DIR"


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(ENV_STATE_DIR):
        return Path(env[ENV_STATE_DIR]).expanduser()
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]).expanduser() / "aiwo"
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".local" / "state" / "aiwo"


def cluster_file(directory: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    return (directory if directory is not None else state_dir(environ)) / CLUSTER_FILE


def read_cluster_file(
    directory: Path | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any] | None:
    """The cluster `aiwo up` recorded, or None when there is none (or it is unreadable).

    A half-written or corrupt file is treated as absent: the caller then falls back to
    the default address and reports that one if it cannot be reached.
    """
    path = cluster_file(directory, environ)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def resolve_target_with_source(
    explicit: str | None = None, environ: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """(address, where it came from) — the source helps error messages and `aiwo info`."""
    env = os.environ if environ is None else environ
    if explicit:
        return explicit, "explicit"
    if env.get(ENV_CONTROLLER):
        return env[ENV_CONTROLLER], ENV_CONTROLLER
    cluster = read_cluster_file(environ=env)
    if cluster and isinstance(cluster.get("controller"), str) and cluster["controller"]:
        return cluster["controller"], str(cluster_file(environ=env))
    return DEFAULT_TARGET, "default"


def resolve_target(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    return resolve_target_with_source(explicit, environ)[0]


_SCHEMES = ("ipv4:", "ipv6:", "dns:///", "dns:")


def check_target(target: str) -> None:
    """Refuse a target whose port cannot exist (e.g. "127.0.0.1:99999"), which gRPC would
    otherwise report as a refused connection. Other forms (unix:, names) pass through."""
    from sdk._errors import InvalidArgument

    rest = target
    for scheme in _SCHEMES:
        if rest.startswith(scheme):
            rest = rest[len(scheme) :]
            break
    else:
        if "://" in rest or rest.startswith("unix:"):
            return
    for address in rest.split(","):
        _, sep, port = address.rpartition(":")
        if sep and port.isdigit() and not 1 <= int(port) <= 65535:
            raise InvalidArgument(
                f"controller address {target}: port {port} is invalid (must be 1..65535)",
                field="controller",
            )
