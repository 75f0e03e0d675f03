"""A real network partition for one agent: network namespaces, a veth pair, a link taken down.

Two namespaces of our own, joined by a veth pair with a private /30: the agent runs in one
(`ip netns exec`), and the other holds the only way out — a TCP relay whose listening socket
lives there and which forwards to the controller on this host's loopback. Taking the agent's
link down cuts it off without closing any socket: neither side gets a FIN, as in a real
partition. No address outside these namespaces is touched. Needs root (`ip netns add`);
`NetnsPair.create` raises `NetnsUnavailable` otherwise.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import socket
import subprocess
import threading

CLONE_NEWNET = 0x40000000


class NetnsUnavailable(Exception):
    pass


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


class NetnsPair:
    """`agent_ns` (address `agent_ip`) and `gateway_ns` (address `gateway_ip`), one link."""

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.agent_ns, self.gateway_ns = f"aiwo-a-{tag}", f"aiwo-g-{tag}"
        self.agent_link, self.gateway_link = f"awa{tag}", f"awg{tag}"
        subnet = int(tag[:2], 16)
        self.gateway_ip, self.agent_ip = f"10.213.{subnet}.1", f"10.213.{subnet}.2"
        self._created: list[str] = []

    def create(self) -> NetnsPair:
        try:
            for ns in (self.agent_ns, self.gateway_ns):
                _ip("netns", "add", ns)
                self._created.append(ns)
            _ip("-n", self.agent_ns, "link", "add", self.agent_link, "type", "veth",
                "peer", "name", self.gateway_link, "netns", self.gateway_ns)  # fmt: skip
            for ns, link, address in (
                (self.agent_ns, self.agent_link, self.agent_ip),
                (self.gateway_ns, self.gateway_link, self.gateway_ip),
            ):
                _ip("-n", ns, "addr", "add", f"{address}/30", "dev", link)
                _ip("-n", ns, "link", "set", link, "up")
                _ip("-n", ns, "link", "set", "lo", "up")
        except (OSError, subprocess.SubprocessError) as exc:
            self.delete()
            raise NetnsUnavailable(f"cannot create network namespaces: {exc}") from None
        return self

    def partition(self) -> None:
        _ip("-n", self.agent_ns, "link", "set", self.agent_link, "down")

    def heal(self) -> None:
        _ip("-n", self.agent_ns, "link", "set", self.agent_link, "up")

    def delete(self) -> None:
        """Deleting a namespace deletes the veth end in it, and with it the pair."""
        for ns in reversed(self._created):
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                _ip("netns", "delete", ns)
        self._created.clear()

    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.agent_ns]


class Relay:
    """Listens at `(host, port)` inside `netns`, forwards each connection to `target`
    (a loopback address of this namespace), byte for byte."""

    def __init__(self, netns: str, host: str, target: tuple[str, int]) -> None:
        self.target = target
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = _listen_in(netns, host)
        self.address = f"{host}:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                inbound, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                outbound = socket.create_connection(self.target, timeout=5)
            except OSError:
                inbound.close()
                continue
            outbound.settimeout(None)
            with self._lock:
                self._sockets += [inbound, outbound]
            for source, sink in ((inbound, outbound), (outbound, inbound)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _listen_in(netns: str, host: str) -> socket.socket:
    """A listening socket created inside `netns` (a socket stays in the namespace it was
    created in; only this thread switches, and it switches back)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    result: dict[str, object] = {}

    def create() -> None:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/var/run/netns/{netns}", os.O_RDONLY)
        try:
            if libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
            try:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.bind((host, 0))
                sock.listen(64)
                result["socket"] = sock
            finally:
                libc.setns(home, CLONE_NEWNET)
        except OSError as exc:
            result["error"] = exc
        finally:
            os.close(home)
            os.close(target)

    thread = threading.Thread(target=create)
    thread.start()
    thread.join()
    if "error" in result:
        raise NetnsUnavailable(f"cannot listen in {netns}: {result['error']}")
    return result["socket"]  # type: ignore[return-value]
