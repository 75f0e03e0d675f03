"""Time a migration per checkpoint size on a real local cluster (the table in docs/migration.md).

    .venv/bin/python -m tests.e2e.measure_migration [SIZE_MIB ...]

A managed counter per size; random (incompressible) bytes of that size are added to its
checkpoint directory on the source before it is migrated; prints each step's offset.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from sdk import Migration, SyncAdminClient, SyncClient
from tests.e2e.cluster_helpers import (
    assert_contiguous,
    counts,
    local_cluster,
    other,
    start_counter,
    wait_for,
)


def finished_migration(admin: SyncAdminClient, name: str) -> Migration | None:
    m = admin.get_migration(name)
    return m if m.done else None


def main(sizes_mib: list[int]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="aiwo-measure-"))
    with local_cluster(tmp / "state") as cluster:
        client = SyncClient.connect(cluster.controller_address)
        admin = SyncAdminClient.connect(cluster.controller_address)
        for size_mib in sizes_mib:
            name, log = f"c{size_mib}", tmp / f"c{size_mib}"
            source = start_counter(client, name, log)
            if size_mib:
                directory = cluster.state_dir / "agents" / source / "checkpoints" / "default" / name
                (directory / "extra.bin").write_bytes(os.urandom(size_mib << 20))
            started = time.time()
            admin.migrate(name, other(source))
            done = wait_for(partial(finished_migration, admin, name), 120)
            print(f"{name}: {done.phase} in {time.time() - started:.2f}s, "
                  f"{done.checkpoint_bytes} bytes {done.error}")  # fmt: skip
            for step in done.history:
                offset = step.time_unix - done.history[0].time_unix
                print(f"  +{offset:6.3f}s {step.phase}: {step.detail[:60]}")
            time.sleep(1.0)
            assert_contiguous(counts(log))
            client.get_handle(name).deregister()
        client.close()
        admin.close()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [0, 8, 32, 60])
