"""Checkpoint archives: pack a workload's checkpoint directory, receive one in chunks, install it.

A checkpoint moves between agents that may share no directory, through the controller, over
the agents' gRPC streams: a gzipped tar of the directory, cut into chunks, with the SHA-256 of
the whole archive on the last chunk. The receiver spools chunks to a file, checks order, size
and digest, unpacks into a fresh directory and swaps it in, so a half-received or corrupt
checkpoint never replaces a good one and a workload never resumes from one.

Pure file work, no asyncio: the agent calls these from a thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nodeagent.gpu.base import ActuationError

# 64 MiB: the controller holds a checkpoint in memory while it forwards it, so the bound is a
# memory bound there. Model weights do not belong in a checkpoint moved this way; a shared
# directory (docs/migration.md) is the way for large state.
MAX_CHECKPOINT_BYTES = 64 * 1024 * 1024
# Well under gRPC's 4 MiB message limit, and small enough to interleave with telemetry.
CHUNK_BYTES = 1024 * 1024


class CheckpointError(ActuationError):
    """A checkpoint that cannot be sent or installed; `reason` goes to the controller."""


def pack(directory: Path, max_bytes: int = MAX_CHECKPOINT_BYTES) -> bytes:
    """The directory's regular files (and subdirectories) as a gzipped tar.

    Refuses a missing or empty directory (there is nothing to resume from), symbolic links
    (they would point into the source machine) and archives over `max_bytes`."""
    if not directory.is_dir():
        raise CheckpointError(f"no checkpoint: {directory} does not exist")
    files = sorted(p for p in directory.rglob("*") if not p.is_dir())
    for path in files:
        if path.is_symlink() or not path.is_file():
            raise CheckpointError(f"checkpoint file {path} is not a regular file")
    if not files:
        raise CheckpointError(f"no checkpoint: {directory} is empty")
    raw = sum(p.stat().st_size for p in files)
    if raw > 4 * max_bytes:  # not worth compressing to find out
        raise CheckpointError(_too_big(raw, max_bytes))
    buffer = io.BytesIO()
    # compresslevel 1: checkpoints are mostly numbers and tensors; speed matters more.
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        for path in sorted(directory.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(directory)), recursive=False)
    data = buffer.getvalue()
    if len(data) > max_bytes:
        raise CheckpointError(_too_big(len(data), max_bytes))
    return data


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunks(data: bytes, size: int = CHUNK_BYTES) -> Iterator[tuple[int, bytes, bool]]:
    """(offset, piece, last) over `data`; one empty last piece for empty data."""
    if not data:
        yield 0, b"", True
        return
    for offset in range(0, len(data), size):
        yield offset, data[offset : offset + size], offset + size >= len(data)


@dataclass
class Assembly:
    """One incoming archive, spooled to `path` chunk by chunk."""

    transfer_id: str
    workload: str
    path: Path
    max_bytes: int = MAX_CHECKPOINT_BYTES
    received: int = 0
    _hash: hashlib._Hash = field(default_factory=hashlib.sha256)

    def add(self, offset: int, data: bytes) -> None:
        if offset != self.received:
            raise CheckpointError(
                f"checkpoint transfer {self.transfer_id}: chunk at offset {offset}, "
                f"expected {self.received} (a chunk was lost)"
            )
        if self.received + len(data) > self.max_bytes:
            raise CheckpointError(_too_big(self.received + len(data), self.max_bytes))
        mode = "ab" if self.received else "wb"
        with open(self.path, mode) as f:
            f.write(data)
        self._hash.update(data)
        self.received += len(data)

    def verify(self, total_bytes: int, sha256: str) -> None:
        if total_bytes != self.received:
            raise CheckpointError(
                f"checkpoint is corrupt: received {self.received} bytes, sender says {total_bytes}"
            )
        if self._hash.hexdigest() != sha256:
            raise CheckpointError(
                f"checkpoint is corrupt: sha256 {self._hash.hexdigest()[:16]}… "
                f"does not match the sender's {sha256[:16]}…"
            )

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def install(archive: Path, destination: Path, tag: str) -> None:
    """Unpack `archive` into a fresh directory, then put it in place of `destination`.

    The swap is two renames on one filesystem: a reader sees the old checkpoint or the new one,
    never a mix. `tag` makes the scratch names unique (the transfer id)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    incoming = destination.parent / f".{destination.name}.incoming-{tag}"
    previous = destination.parent / f".{destination.name}.previous-{tag}"
    shutil.rmtree(incoming, ignore_errors=True)
    incoming.mkdir()
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            # The "data" filter refuses absolute paths, "..", links out of the tree and device
            # files: an archive is input from the network, whatever its checksum says.
            tar.extractall(incoming, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        shutil.rmtree(incoming, ignore_errors=True)
        raise CheckpointError(f"checkpoint is corrupt: cannot unpack it ({exc})") from exc
    if destination.exists():
        destination.rename(previous)
    incoming.rename(destination)
    with contextlib.suppress(OSError):
        shutil.rmtree(previous)


def _too_big(size: int, limit: int) -> str:
    return f"checkpoint is {size / 2**20:.1f} MiB, over the {limit / 2**20:.0f} MiB limit"
