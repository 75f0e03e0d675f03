"""sd_notify without a dependency, shared by aiwo-controller and aiwo-agent (Type=notify units)."""

from __future__ import annotations

import os
import socket


def notify_systemd(state: str) -> None:
    """Send e.g. "READY=1" to $NOTIFY_SOCKET; a no-op outside systemd."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):  # an abstract socket
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(path)
        sock.sendall(state.encode())
