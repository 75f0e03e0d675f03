"""The token sweep: managed workloads' tokens end with the workload's stay on a node, and
records long revoked or expired leave etcd."""

from __future__ import annotations

import time

import aetcd
import pytest

from controlplane.app.server import Controller
from controlplane.auth.sweep import Revocation, Sweep, sweep
from controlplane.auth.sweeper import TokenSweeper
from sdk.pb.aiwo.v1 import auth_pb2, types_pb2
from tests.helpers import EtcdMember, assert_eventually

NOW = 1_800_000_000.0
DAY = 86_400.0


def _info(token_id: str, **fields: object) -> auth_pb2.TokenInfo:
    return auth_pb2.TokenInfo(id=token_id, role="workload", source="etcd", **fields)  # type: ignore[arg-type]


PLACED = {"default/stays": "node-a", "default/moved": "node-b"}


LEFT = "workload default/{} left node node-a ({})"


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (_info("live"), "keep"),
        (_info("never", expires_unix=0.0, created_unix=NOW - 400 * DAY), "keep"),
        (_info("expiring", expires_unix=NOW + 1), "keep"),
        (_info("expired-lately", expires_unix=NOW - DAY), "keep"),
        (_info("expired-long-ago", expires_unix=NOW - 8 * DAY), "delete"),
        (_info("revoked-lately", revoked=True, revoked_unix=NOW - 6 * DAY), "keep"),
        (_info("revoked-long-ago", revoked=True, revoked_unix=NOW - 7 * DAY), "delete"),
        # Revoked lately but expired long ago: it stopped working at the earlier time.
        (_info("both", revoked=True, revoked_unix=NOW, expires_unix=NOW - 9 * DAY), "delete"),
        (_info("m-stays", workload="default/stays", node="node-a"), "keep"),
        (
            _info("m-moved", workload="default/moved", node="node-a"),
            LEFT.format("moved", "now on node node-b"),
        ),
        (
            _info("m-gone", workload="default/gone", node="node-a"),
            LEFT.format("gone", "no longer placed"),
        ),
        # Already revoked: nothing to revoke again, and too recent to delete.
        (
            _info("m-revoked", workload="default/x", node="node-a", revoked=True, revoked_unix=NOW),
            "keep",
        ),
        # The tokens file's records are the file's to change.
        (auth_pb2.TokenInfo(id="file", source="file", expires_unix=NOW - 30 * DAY), "keep"),
    ],
    ids=lambda value: value.id if isinstance(value, auth_pb2.TokenInfo) else "",
)  # fmt: skip
def test_sweep_rules(info: auth_pb2.TokenInfo, expected: str) -> None:
    due = sweep([info], PLACED.get, NOW, retention_s=7 * DAY)
    if expected == "keep":
        assert not due
    elif expected == "delete":
        assert due == Sweep(delete=(info.id,))
    else:
        assert due == Sweep(revoke=(Revocation(info.id, expected),))


async def test_the_sweeper_revokes_and_deletes_in_etcd(
    secure_controller: Controller, etcd: EtcdMember, etcd_prefix: str
) -> None:
    ctl = secure_controller
    await assert_eventually(lambda: ctl.store.epoch > 0, message="the controller never led")
    tokens = ctl.auth.tokens
    now = ctl_now = time.time()
    _, old = await tokens.create("viewer", [], 60, "expired long ago", "test", now=now - 30 * DAY)
    _, recent = await tokens.create("viewer", [], 60, "expired lately", "test", now=now - 120)
    _, live = await tokens.create("viewer", [], 0, "never expires", "test", now=now)
    _, kept = await tokens.create(
        "workload", ["default"], 3600, "m", "node:node-a", now, "default/kept", "node-a"
    )
    _, gone = await tokens.create(
        "workload", ["default"], 3600, "m", "node:node-a", now, "default/gone", "node-a"
    )
    spec = types_pb2.WorkloadSpec(resources=types_pb2.Resources(gpus=1))
    ctl.state.workloads.apply_local(
        "default/kept", types_pb2.Workload(name="kept", namespace="default", spec=spec)
    )
    ctl.state.placements.apply_local(
        "default/kept", types_pb2.PlacementRecord(node="node-a", gpus=[0])
    )

    sweeper = TokenSweeper(tokens, ctl.state, ctl.store, retention_s=7 * DAY)
    done = await sweeper.sweep_once(ctl_now)
    assert done.delete == (old.id,)
    assert [r.token_id for r in done.revoke] == [gone.id]

    async with aetcd.Client(host="127.0.0.1", port=etcd.client_port) as client:
        stored = await client.get_prefix(f"{etcd_prefix}/tokens/".encode())
    records = {}
    for kv in stored.kvs:
        info = auth_pb2.TokenRecord.FromString(kv.value).info
        records[info.id] = info
    assert set(records) == {recent.id, live.id, kept.id, gone.id}  # `old` is deleted
    assert records[gone.id].revoked and not records[kept.id].revoked
    assert {i.id for i in tokens.infos(ctl_now)} >= set(records)
    assert old.id not in {i.id for i in tokens.infos(ctl_now)}

    # A week on, the revoked and the lately expired go too; the live ones stay.
    later = await sweeper.sweep_once(ctl_now + 7 * DAY + 1)
    assert sorted(later.delete) == sorted([recent.id, gone.id])
    assert {i.id for i in tokens.infos(ctl_now)} & {kept.id, live.id} == {kept.id, live.id}
