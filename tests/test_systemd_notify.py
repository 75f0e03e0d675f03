"""Readiness reaches systemd: a real datagram on a real unix socket."""

import socket
from pathlib import Path

import pytest

from sdk._systemd import notify_systemd


def test_notify_sends_the_state_to_notify_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        notify_systemd("READY=1")
        assert server.recv(64) == b"READY=1"


def test_notify_is_a_no_op_outside_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notify_systemd("READY=1")
