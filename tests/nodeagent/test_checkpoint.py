"""Checkpoint archives and the agent's transfers: real files, real processes, real supervisor.

The only stand-in is the stream: `send` collects what the agent would put on it.
"""

from __future__ import annotations

import hashlib
import sys
import tarfile
from pathlib import Path

import pytest

from nodeagent import checkpoint
from nodeagent.checkpoint import Assembly, CheckpointError
from nodeagent.executor import Executor
from nodeagent.gpu import make_backend
from nodeagent.launch import LaunchSpec
from nodeagent.supervisor import Supervisor
from nodeagent.transfers import Transfers
from sdk.pb.aiwo.v1 import node_pb2, types_pb2


class Stream:
    """What the agent sends up, in order."""

    def __init__(self) -> None:
        self.sent: list[node_pb2.AgentMessage] = []

    async def __call__(self, message: node_pb2.AgentMessage) -> None:
        self.sent.append(message)

    def of(self, kind: str) -> list:  # type: ignore[type-arg]
        return [getattr(m, kind) for m in self.sent if m.WhichOneof("body") == kind]


@pytest.fixture
async def supervisor(tmp_path: Path):  # type: ignore[no-untyped-def]
    sup = Supervisor(tmp_path / "logs", tmp_path / "ckpt", "127.0.0.1:1")
    yield sup
    await sup.shutdown(1.0)


def write_checkpoint(directory: Path, count: int = 41) -> None:
    (directory / "shards").mkdir(parents=True, exist_ok=True)
    (directory / "counter.json").write_text(f'{{"count": {count}}}')
    (directory / "shards" / "0.bin").write_bytes(bytes(range(256)) * 64)


def test_pack_and_install_round_trip(tmp_path: Path) -> None:
    source, target = tmp_path / "src", tmp_path / "dst" / "ns" / "w"
    write_checkpoint(source)
    data = checkpoint.pack(source)
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(data)
    target.mkdir(parents=True)
    (target / "stale.json").write_text("from an older life")
    checkpoint.install(archive, target, "t1")
    assert (target / "counter.json").read_text() == '{"count": 41}'
    assert (target / "shards" / "0.bin").read_bytes() == bytes(range(256)) * 64
    assert not (target / "stale.json").exists()  # replaced whole, not merged
    assert sorted(p.name for p in target.parent.iterdir()) == ["w"]  # no scratch left


@pytest.mark.parametrize("case", ["missing", "empty", "symlink", "too_big"])
def test_pack_refuses_what_cannot_be_resumed_from(tmp_path: Path, case: str) -> None:
    directory = tmp_path / "ckpt"
    if case != "missing":
        directory.mkdir()
    if case == "symlink":
        (directory / "link").symlink_to("/etc/passwd")
    if case == "too_big":
        (directory / "big.bin").write_bytes(b"x" * 5000)
    with pytest.raises(CheckpointError) as info:
        checkpoint.pack(directory, max_bytes=1000)
    expected = {
        "missing": "does not exist",
        "empty": "is empty",
        "symlink": "not a regular file",
        "too_big": "over the 0 MiB limit",
    }[case]
    assert expected in info.value.reason


def test_an_assembly_refuses_gaps_and_a_wrong_digest(tmp_path: Path) -> None:
    data = b"0123456789" * 10
    assembly = Assembly("t", "ns/w", tmp_path / "t.tar.gz")
    assembly.add(0, data[:50])
    with pytest.raises(CheckpointError, match="expected 50"):
        assembly.add(60, data[60:])
    assembly.add(50, data[50:])
    with pytest.raises(CheckpointError, match="corrupt"):
        assembly.verify(len(data), hashlib.sha256(b"other").hexdigest())
    with pytest.raises(CheckpointError, match="corrupt"):
        assembly.verify(len(data) + 1, hashlib.sha256(data).hexdigest())
    assembly.verify(len(data), hashlib.sha256(data).hexdigest())


def test_install_refuses_an_archive_that_escapes_its_directory(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar.gz"
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(outside, arcname="../../escaped.txt")
    target = tmp_path / "ck" / "ns" / "w"
    with pytest.raises(CheckpointError, match="corrupt"):
        checkpoint.install(archive, target, "t")
    assert not (tmp_path / "escaped.txt").exists() and not target.exists()


async def test_upload_then_receive_moves_the_checkpoint_between_agents(
    tmp_path: Path, supervisor: Supervisor
) -> None:
    write_checkpoint(supervisor.checkpoint_dir("ns/w"), count=7)
    up = Stream()
    size = await Transfers(supervisor, up).upload("cmd-1", "ns/w")
    chunks = up.of("checkpoint_chunk")
    assert chunks[-1].last and chunks[-1].total_bytes == size
    target_supervisor = Supervisor(tmp_path / "t-logs", tmp_path / "t-ckpt", "127.0.0.1:1")
    down = Stream()
    receiver = Transfers(target_supervisor, down)
    for chunk in chunks:
        await receiver.receive(chunk)
    [installed] = down.of("checkpoint_installed")
    assert installed.ok and installed.transfer_id == "cmd-1", installed.reason
    resumed = Path(installed.path)
    assert resumed == target_supervisor.checkpoint_dir("ns/w")
    assert (resumed / "counter.json").read_text() == '{"count": 7}'
    assert not any((tmp_path / "t-ckpt" / ".incoming").iterdir())  # spool cleaned


async def test_a_corrupt_transfer_is_refused_and_the_old_checkpoint_kept(
    tmp_path: Path, supervisor: Supervisor
) -> None:
    write_checkpoint(supervisor.checkpoint_dir("ns/w"), count=1)
    down = Stream()
    receiver = Transfers(supervisor, down)
    data = checkpoint.pack(tmp_path / "ckpt" / "ns" / "w")
    flipped = bytes([data[0] ^ 0xFF]) + data[1:]
    await receiver.receive(
        node_pb2.CheckpointChunk(
            transfer_id="t", workload="ns/w", offset=0, data=flipped, last=True,
            total_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
        )
    )  # fmt: skip
    [installed] = down.of("checkpoint_installed")
    assert not installed.ok and "corrupt" in installed.reason
    assert (supervisor.checkpoint_dir("ns/w") / "counter.json").read_text() == '{"count": 1}'


async def test_no_checkpoint_or_still_running_is_a_failed_upload(
    supervisor: Supervisor,
) -> None:
    transfers = Transfers(supervisor, Stream())
    executor = Executor(
        make_backend("sim", model="H100", count=1, node_name="n1"),
        supervisor=supervisor,
        transfers=transfers,
    )
    upload = types_pb2.Command(
        id="c1", epoch=1, checkpoint_workload=types_pb2.CheckpointWorkload(workload="ns/ghost")
    )
    ack = await executor.execute(upload)
    assert not ack.ok and "no checkpoint" in ack.reason and "ns/ghost" in ack.reason
    spec = LaunchSpec(command=(sys.executable, "-c", "import time; time.sleep(60)"))
    await supervisor.start("ns/busy", "u1", spec, [])
    busy = types_pb2.Command(
        id="c2", epoch=1, checkpoint_workload=types_pb2.CheckpointWorkload(workload="ns/busy")
    )
    ack = await executor.execute(busy)
    assert not ack.ok and "still running" in ack.reason


async def test_a_start_resumes_only_from_the_agents_own_checkpoints(
    tmp_path: Path, supervisor: Supervisor
) -> None:
    executor = Executor(make_backend("sim", model="H100", count=1, node_name="n1"),
                        supervisor=supervisor)  # fmt: skip
    start = types_pb2.StartWorkload(
        workload="ns/w", uid="u", checkpoint_dir="/etc",
        launch=types_pb2.LaunchSpec(command=[sys.executable, "-c", "pass"]),
    )  # fmt: skip
    ack = await executor.execute(types_pb2.Command(id="s", epoch=1, start_workload=start))
    assert not ack.ok and "outside this agent's checkpoints" in ack.reason
    start.checkpoint_dir = str(supervisor.checkpoint_dir("ns/w"))
    ack = await executor.execute(types_pb2.Command(id="s2", epoch=1, start_workload=start))
    assert not ack.ok and "missing" in ack.reason


async def test_logs_are_read_from_the_end(supervisor: Supervisor) -> None:
    out, _ = supervisor.log_paths("ns/w")
    out.parent.mkdir(parents=True)
    out.write_bytes(b"".join(f"{i}\n".encode() for i in range(1000)))
    stream = Stream()
    transfers = Transfers(supervisor, stream)
    await transfers.logs(node_pb2.AgentLogsRequest(request_id="r", workload="ns/w", tail_bytes=8))
    await transfers.logs(node_pb2.AgentLogsRequest(request_id="s", workload="ns/none"))
    await transfers.logs(node_pb2.AgentLogsRequest(request_id="t", workload="../etc"))
    tail, missing, bad = stream.of("logs_reply")
    assert tail.ok and tail.data == b"998\n999\n" and tail.truncated
    assert tail.size_bytes == out.stat().st_size
    assert not missing.ok and "no log" in missing.reason
    assert not bad.ok and "invalid workload id" in bad.reason
