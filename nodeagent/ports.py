"""Free TCP ports for service replicas (AIWO_PORT).

The kernel picks: bind port 0, read the port, release it, hand it to the replica. Between the
release and the replica's own bind someone else may take it; the supervisor then sees the
replica exit, checks the port again before the restart and picks another if it is taken.
"""

from __future__ import annotations

import socket

# Every interface: a port free there is free on whatever address the replica binds.
ANY_HOST = "0.0.0.0"


def pick_free_port(host: str = ANY_HOST) -> int:
    """A TCP port nothing listens on now (the kernel's choice of an ephemeral port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = ANY_HOST) -> bool:
    """Whether `port` can be bound now (so a replica restarted on it can listen again)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The replica itself will most likely set SO_REUSEADDR: a port whose last owner
        # left connections in TIME_WAIT is free for it, so it is free here too.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
