"""Migration's state machine in the controller, with agents scripted over real streams.

Real etcd, real gRPC, the real Controller; the agents speak the protocol from a script so a
test can decide exactly what they answer: a corrupt checkpoint, a late ack, an exit code.
The same flows with real agent processes are in tests/e2e/test_migration.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator

import grpc
import pytest

from controlplane.app.server import Controller
from controlplane.leader.migration import MigrationConfig
from sdk import Client, Directive, DirectiveKind, Resources
from sdk.pb.aiwo.v1 import admin_pb2, migration_pb2, node_pb2, types_pb2, workload_pb2
from tests.controlplane.agentsim import ScriptedAgent, node_info
from tests.controlplane.conftest import Stubs
from tests.helpers import assert_eventually

FAST = MigrationConfig(
    checkpoint_grace_s=2.0,
    stop_timeout_s=5.0,
    transfer_timeout_s=10.0,
    start_timeout_s=5.0,
    settle_s=0.3,
    target_lost_s=1.0,
    resume_grace_s=2.0,
    interval_s=0.1,
)
CHECKPOINT = b"\x1f\x8b pretend this is a gzipped tar of the checkpoint directory"


class MigratingAgent(ScriptedAgent):
    """Answers what a real agent would, as the test configures it."""

    def __init__(self, address: str, name: str) -> None:
        super().__init__(address, node_info(name, gpus=2), auto_ack=False)
        self.corrupt_upload = False  # send a checksum that does not match the bytes
        self.hold_stop = False  # keep stop commands unanswered (as if SIGTERM is slow)
        self.held: list[types_pb2.Command] = []
        self.incoming = bytearray()
        self.installed: list[str] = []
        self.install_error = ""

    async def _handle(self, message: node_pb2.ControllerMessage) -> None:
        kind = message.WhichOneof("body")
        if kind == "checkpoint_chunk":
            await self._receive_chunk(message.checkpoint_chunk)
        elif kind == "logs_request":
            reply = node_pb2.AgentLogsReply(
                request_id=message.logs_request.request_id, ok=True, data=b"1\n2\n3\n",
                size_bytes=6,
            )  # fmt: skip
            await self.send(node_pb2.AgentMessage(logs_reply=reply))
        else:
            await super()._handle(message)

    async def _answer(self, command: types_pb2.Command) -> None:
        action = command.WhichOneof("action")
        if action == "stop_workload":
            if self.hold_stop:
                self.held.append(command)
                return
            await self.exited(command.stop_workload.workload, "stopped", 0)
        elif action == "checkpoint_workload":
            await self.upload(command)
        await self.ack(command)

    async def ack(self, command: types_pb2.Command, ok: bool = True, reason: str = "") -> None:
        await self.send(
            node_pb2.AgentMessage(
                ack=types_pb2.CommandAck(command_id=command.id, ok=ok, reason=reason)
            )
        )

    async def exited(self, workload: str, outcome: str, code: int, signal: str = "") -> None:
        event = node_pb2.ProcessEvent(
            workload=workload, kind="exited", pid=4242, exit_code=code, signal=signal,
            outcome=outcome, detail=outcome,
        )  # fmt: skip
        await self.send(node_pb2.AgentMessage(process_event=event))

    async def upload(self, command: types_pb2.Command) -> None:
        digest = hashlib.sha256(CHECKPOINT).hexdigest()
        if self.corrupt_upload:
            digest = hashlib.sha256(b"something else").hexdigest()
        chunk = node_pb2.CheckpointChunk(
            transfer_id=command.id, workload=command.checkpoint_workload.workload, offset=0,
            data=CHECKPOINT, last=True, total_bytes=len(CHECKPOINT), sha256=digest,
        )  # fmt: skip
        await self.send(node_pb2.AgentMessage(checkpoint_chunk=chunk))

    async def _receive_chunk(self, chunk: node_pb2.CheckpointChunk) -> None:
        self.incoming += chunk.data
        if not chunk.last:
            return
        ok = hashlib.sha256(self.incoming).hexdigest() == chunk.sha256 and not self.install_error
        path = f"/state/{self.info.name}/checkpoints/{chunk.workload}"
        if ok:
            self.installed.append(path)
        reply = node_pb2.CheckpointInstalled(
            transfer_id=chunk.transfer_id, workload=chunk.workload, ok=ok,
            reason=self.install_error or ("" if ok else "sha256 mismatch"), path=path,
        )  # fmt: skip
        self.incoming = bytearray()
        await self.send(node_pb2.AgentMessage(checkpoint_installed=reply))


@pytest.fixture
async def fast_controller(make_controller) -> AsyncIterator[Controller]:  # type: ignore[no-untyped-def]
    ctl = await make_controller()
    ctl.migrations.config = FAST
    yield ctl


async def managed(stubs: Stubs, name: str) -> None:
    spec = types_pb2.WorkloadSpec(
        resources=types_pb2.Resources(gpus=1),
        launch=types_pb2.LaunchSpec(command=["/opt/train"]),
    )
    await stubs.workload.Register(
        workload_pb2.RegisterWorkloadRequest(name=name, namespace="default", spec=spec)
    )


async def placed_on(ctl: Controller, key: str) -> str:
    placement = await assert_eventually(lambda: ctl.state.placements.get(key), message="placed")
    return placement.node


async def finished(ctl: Controller, key: str, timeout_s: float = 15) -> migration_pb2.Migration:
    def done() -> migration_pb2.Migration | None:
        record = ctl.migrations.cache.get(key)
        if record is not None and record.phase in (
            migration_pb2.MIGRATION_PHASE_RUNNING,
            migration_pb2.MIGRATION_PHASE_FAILED,
        ):
            return record
        return None

    return await assert_eventually(done, timeout_s=timeout_s, message="migration not done")


async def two_agents(ctl: Controller) -> dict[str, MigratingAgent]:
    agents = {n: MigratingAgent(ctl.address, n) for n in ("node-a", "node-b")}
    for agent in agents.values():
        await agent.start()
    return agents


@contextlib.asynccontextmanager
async def migrating(
    ctl: Controller, name: str = "train"
) -> AsyncIterator[tuple[dict[str, MigratingAgent], Stubs, str, str]]:
    """Two scripted agents and a managed workload placed on one of them: (agents, stubs,
    source, target). The agents are stopped on the way out."""
    agents = await two_agents(ctl)
    try:
        async with grpc.aio.insecure_channel(ctl.address) as channel:
            stubs = Stubs(channel)
            await managed(stubs, name)
            source = await placed_on(ctl, f"default/{name}")
            yield agents, stubs, source, "node-b" if source == "node-a" else "node-a"
    finally:
        for agent in agents.values():
            await agent.stop()


async def test_a_migration_moves_the_checkpoint_and_starts_from_it(
    fast_controller: Controller,
) -> None:
    ctl = fast_controller
    async with migrating(ctl) as (agents, stubs, source, target):
        record = await stubs.admin.Migrate(
            admin_pb2.MigrateRequest(name="train", target_node=target, reason="test")
        )
        assert record.phase == migration_pb2.MIGRATION_PHASE_REQUESTED
        done = await finished(ctl, "default/train")
        assert done.phase == migration_pb2.MIGRATION_PHASE_RUNNING, done.error
        phases = [s.phase for s in done.history]
        assert phases == [
            migration_pb2.MIGRATION_PHASE_REQUESTED,
            migration_pb2.MIGRATION_PHASE_CHECKPOINTING,
            migration_pb2.MIGRATION_PHASE_STOPPED,
            migration_pb2.MIGRATION_PHASE_TRANSFERRING,
            migration_pb2.MIGRATION_PHASE_STARTING_ON_TARGET,
            migration_pb2.MIGRATION_PHASE_RUNNING,
        ]
        assert done.checkpoint_sha256 == hashlib.sha256(CHECKPOINT).hexdigest()
        assert ctl.state.placements.get("default/train").node == target  # type: ignore[union-attr]
        starts = agents[target].actions("start_workload")
        assert starts and starts[-1].start_workload.checkpoint_dir == agents[target].installed[0]
        assert agents[source].actions("stop_workload")
        assert agents[source].actions("unassign_workload")
        workload = ctl.state.workloads.get("default/train")
        assert workload is not None and workload.phase == types_pb2.WORKLOAD_PHASE_RUNNING
        assert f"migrated from {source} to {target}" in workload.message
        # Read anywhere: the record is in etcd and in every replica's cache.
        got = await stubs.admin.GetMigration(admin_pb2.GetMigrationRequest(name="train"))
        assert got == done
        listed = await stubs.admin.ListMigrations(admin_pb2.ListMigrationsRequest())
        assert [m.workload for m in listed.migrations] == ["default/train"]
        logs = await stubs.admin.Logs(admin_pb2.LogsRequest(name="train"))
        assert logs.data == b"1\n2\n3\n" and logs.node == target


async def test_a_corrupt_checkpoint_fails_the_migration_and_rolls_back(
    fast_controller: Controller,
) -> None:
    ctl = fast_controller
    async with migrating(ctl) as (agents, stubs, source, target):
        agents[source].corrupt_upload = True
        await stubs.admin.Migrate(admin_pb2.MigrateRequest(name="train", target_node=target))
        done = await finished(ctl, "default/train")
        assert done.phase == migration_pb2.MIGRATION_PHASE_FAILED
        assert "checkpoint is corrupt" in done.error and "restarted on" in done.error
        # Back where it was, started again there from its own checkpoint; never on the
        # target, which got no bytes at all.
        assert ctl.state.placements.get("default/train").node == source  # type: ignore[union-attr]
        starts = agents[source].actions("start_workload")
        assert starts and starts[-1].start_workload.checkpoint_dir == ""
        assert not agents[target].actions("start_workload")
        assert agents[target].installed == []
        workload = ctl.state.workloads.get("default/train")
        assert workload is not None and "migration to" in workload.message
        kinds = [e.kind for e in ctl.state.events_for("workload/default/train", 50)]
        assert "migration_failed" in kinds


async def test_a_target_that_cannot_install_rolls_back(fast_controller: Controller) -> None:
    ctl = fast_controller
    async with migrating(ctl) as (agents, stubs, source, target):
        agents[target].install_error = "cannot store the checkpoint: No space left on device"
        await stubs.admin.Migrate(admin_pb2.MigrateRequest(name="train", target_node=target))
        done = await finished(ctl, "default/train")
        assert done.phase == migration_pb2.MIGRATION_PHASE_FAILED
        assert "No space left on device" in done.error
        assert ctl.state.placements.get("default/train").node == source  # type: ignore[union-attr]
        assert agents[source].actions("start_workload")


async def test_a_new_leader_resumes_a_migration_from_etcd(
    fast_controller: Controller,
    make_controller,  # type: ignore[no-untyped-def]
) -> None:
    ctl = fast_controller
    agents = await two_agents(ctl)
    async with grpc.aio.insecure_channel(ctl.address) as channel:
        stubs = Stubs(channel)
        await managed(stubs, "train")
        source = await placed_on(ctl, "default/train")
        target = "node-b" if source == "node-a" else "node-a"
        agents[source].hold_stop = True  # the controller dies while the source checkpoints
        await stubs.admin.Migrate(admin_pb2.MigrateRequest(name="train", target_node=target))
        await assert_eventually(lambda: agents[source].held, message="no stop sent")
    for agent in agents.values():
        await agent.stop()
    await ctl.stop(0)

    second = await make_controller()
    second.migrations.config = FAST
    record = second.migrations.cache.get("default/train")
    assert record is not None and record.phase == migration_pb2.MIGRATION_PHASE_CHECKPOINTING
    # The agents reconnect to the new leader: the unanswered stop comes again, is answered.
    again = await two_agents(second)
    try:
        done = await finished(second, "default/train", timeout_s=20)
        assert done.phase == migration_pb2.MIGRATION_PHASE_RUNNING, done.error
        assert second.state.placements.get("default/train").node == target  # type: ignore[union-attr]
        assert again[target].actions("start_workload")
        stops = again[source].actions("stop_workload")
        assert stops and stops[0].id == agents[source].held[0].id  # the same command, resent
    finally:
        for agent in again.values():
            await agent.stop()


async def test_refusals_name_the_reason(fast_controller: Controller) -> None:
    ctl = fast_controller
    agents = await two_agents(ctl)
    try:
        async with grpc.aio.insecure_channel(ctl.address) as channel:
            stubs = Stubs(channel)

            async def code_of(request: admin_pb2.MigrateRequest) -> tuple[grpc.StatusCode, str]:
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await stubs.admin.Migrate(request)
                return info.value.code(), info.value.details() or ""

            code, _ = await code_of(admin_pb2.MigrateRequest(name="ghost"))
            assert code == grpc.StatusCode.NOT_FOUND
            code, text = await code_of(admin_pb2.MigrateRequest(name="Bad_Name"))
            assert code == grpc.StatusCode.INVALID_ARGUMENT and text.startswith("name:")
            await managed(stubs, "train")
            source = await placed_on(ctl, "default/train")
            code, text = await code_of(admin_pb2.MigrateRequest(name="train", target_node=source))
            assert code == grpc.StatusCode.FAILED_PRECONDITION and "already runs on" in text
            code, _ = await code_of(admin_pb2.MigrateRequest(name="train", target_node="node-z"))
            assert code == grpc.StatusCode.NOT_FOUND
            target = "node-b" if source == "node-a" else "node-a"
            await stubs.admin.Cordon(admin_pb2.CordonRequest(name=target))
            code, text = await code_of(admin_pb2.MigrateRequest(name="train", target_node=target))
            assert code == grpc.StatusCode.FAILED_PRECONDITION and "cordoned" in text
            assert ctl.migrations.cache.get("default/train") is None  # nothing was recorded
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stubs.admin.Drain(admin_pb2.DrainRequest(name="node-z"))
            assert info.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        for agent in agents.values():
            await agent.stop()


@pytest.mark.parametrize(
    ("outcome", "code", "signal", "phase", "message"),
    [
        ("succeeded", 0, "", types_pb2.WORKLOAD_PHASE_SUCCEEDED, "exited with code 0 on node-a"),
        ("failed", 3, "", types_pb2.WORKLOAD_PHASE_FAILED, "exited with code 3 on node-a"),
        ("failed", -9, "SIGKILL", types_pb2.WORKLOAD_PHASE_FAILED, "killed by SIGKILL on node-a"),
    ],
)
async def test_an_exit_becomes_the_workloads_phase_and_frees_its_gpus(
    fast_controller: Controller, outcome: str, code: int, signal: str, phase: int, message: str
) -> None:
    ctl = fast_controller
    agent = MigratingAgent(ctl.address, "node-a")
    await agent.start()
    try:
        async with grpc.aio.insecure_channel(ctl.address) as channel:
            stubs = Stubs(channel)
            await managed(stubs, "job")
            await placed_on(ctl, "default/job")
            await agent.exited("default/job", outcome, code, signal)

            def ended() -> types_pb2.Workload | None:
                workload = ctl.state.workloads.get("default/job")
                return workload if workload is not None and workload.phase == phase else None

            workload = await assert_eventually(ended, message="phase not set")
            assert workload.message.startswith(message)
            assert ctl.state.placements.get("default/job") is None
            await asyncio.sleep(0.6)  # a few optimizer passes: it is not placed again
            assert ctl.state.placements.get("default/job") is None
            got = await stubs.workload.Get(
                workload_pb2.GetWorkloadRequest(name="job", namespace="default")
            )
            assert got.phase == phase and got.node == "node-a"
    finally:
        await agent.stop()


async def test_an_attached_workload_checkpoints_on_the_directive_first(
    fast_controller: Controller,
) -> None:
    """With an SDK session open, the CHECKPOINT directive comes before the SIGTERM; a
    refusal ends the migration with nothing done (the workload never stopped)."""
    ctl = fast_controller
    agents = await two_agents(ctl)
    seen: list[DirectiveKind] = []
    refuse = True

    def on_directive(directive: Directive) -> None:
        seen.append(directive.kind)
        if directive.kind == DirectiveKind.CHECKPOINT and refuse:
            raise RuntimeError("disk full")

    client = await Client.connect(ctl.address)
    try:
        async with grpc.aio.insecure_channel(ctl.address) as channel:
            stubs = Stubs(channel)
            await managed(stubs, "train")
            source = await placed_on(ctl, "default/train")
            target = "node-b" if source == "node-a" else "node-a"
            async with client.get_handle("train").attach(on_directive=on_directive) as session:
                await session.wait_connected(5)
                await assert_eventually(lambda: ctl.sessions.apps.get("default/train"))
                await stubs.admin.Migrate(
                    admin_pb2.MigrateRequest(name="train", target_node=target)
                )
                failed = await finished(ctl, "default/train")
                assert failed.phase == migration_pb2.MIGRATION_PHASE_FAILED
                assert "could not checkpoint: RuntimeError: disk full" in failed.error
                assert not agents[source].actions("stop_workload")  # it was never stopped
                refuse = False
                await stubs.admin.Migrate(
                    admin_pb2.MigrateRequest(name="train", target_node=target)
                )
                done = await finished(ctl, "default/train")
                assert done.phase == migration_pb2.MIGRATION_PHASE_RUNNING, done.error
                assert seen.count(DirectiveKind.CHECKPOINT) == 2
                details = [step.detail for step in done.history]
                assert "CHECKPOINT directive sent" in details
                assert "checkpointed; SIGTERM to stop it" in details
    finally:
        await client.close()
        for agent in agents.values():
            await agent.stop()


async def test_a_workload_that_runs_itself_is_told_to_move(fast_controller: Controller) -> None:
    ctl = fast_controller
    agents = await two_agents(ctl)
    moves: list[Directive] = []
    client = await Client.connect(ctl.address)
    try:
        handle = await client.register("svc", resources=Resources(gpus=1))
        source = (await handle.wait_placed(10)).node
        target = "node-b" if source == "node-a" else "node-a"
        admin_channel = grpc.aio.insecure_channel(ctl.address)
        stubs = Stubs(admin_channel)
        async with handle.attach(on_directive=moves.append) as session:
            await session.wait_connected(5)
            await assert_eventually(lambda: ctl.sessions.apps.get("default/svc"))
            await stubs.admin.Migrate(admin_pb2.MigrateRequest(name="svc", target_node=target))
            done = await finished(ctl, "default/svc")
            assert done.phase == migration_pb2.MIGRATION_PHASE_RUNNING, done.error
            [move] = [d for d in moves if d.kind == DirectiveKind.MIGRATE]
            assert move.node == target and len(move.gpus) == 1
            assert session.placement is not None and session.placement.node == target
        assert (await handle.describe()).node == target
        assert agents[target].actions("assign_workload")
        assert not agents[target].actions("start_workload")  # it moves itself
        await admin_channel.close()
    finally:
        await client.close()
        for agent in agents.values():
            await agent.stop()


async def test_a_workload_preempted_mid_migration_ends_it(fast_controller: Controller) -> None:
    """The placement is the optimizer's again: the migration stops driving it, once."""
    from controlplane.leader.decisions import Batch

    ctl = fast_controller
    async with migrating(ctl) as (agents, stubs, source, target):
        agents[source].hold_stop = True
        await stubs.admin.Migrate(admin_pb2.MigrateRequest(name="train", target_node=target))
        await assert_eventually(lambda: agents[source].held, message="no stop sent")
        batch = Batch()
        placement = ctl.state.placements.get("default/train")
        assert placement is not None
        ctl.decisions.unplace(batch, "default/train", placement, "preempted", 0.0)
        await ctl.decisions.commit(batch)
        done = await finished(ctl, "default/train")
        assert done.phase == migration_pb2.MIGRATION_PHASE_FAILED
        assert "placement changed meanwhile" in done.error
        assert not agents[target].actions("start_workload")
        # Whoever ended it ("preempted", then the optimizer placing it again) keeps the
        # status line: the migration's "migrating to …" does not come back.
        workload = ctl.state.workloads.get("default/train")
        assert workload is not None
        assert "migrating" not in workload.message, workload.message


async def test_a_finished_migration_leaves_no_migrating_line(fast_controller: Controller) -> None:
    """A workload that runs itself, not attached: the move is the whole migration, and its
    status line says it moved, not that it is moving (`aiwo describe` showed "migrating
    from … to …" long after)."""
    ctl = fast_controller
    agents = await two_agents(ctl)
    client = await Client.connect(ctl.address)
    try:
        handle = await client.register("svc", resources=Resources(gpus=1))
        source = (await handle.wait_placed(10)).node
        target = "node-b" if source == "node-a" else "node-a"
        async with grpc.aio.insecure_channel(ctl.address) as channel:
            await Stubs(channel).admin.Migrate(
                admin_pb2.MigrateRequest(name="svc", target_node=target)
            )
            done = await finished(ctl, "default/svc")
        assert done.phase == migration_pb2.MIGRATION_PHASE_RUNNING, done.error
        assert (await handle.describe()).node == target
        # The record's own line (what `describe` shows once the app attaches).
        workload = ctl.state.workloads.get("default/svc")
        assert workload is not None
        assert (
            workload.message == f"migrated from {source} to {target}; it is told when it attaches"
        )
    finally:
        await client.close()
        for agent in agents.values():
            await agent.stop()


async def test_an_app_that_reattaches_gets_the_unanswered_directive_again(
    fast_controller: Controller,
) -> None:
    """The stream drops after the MIGRATE directive, before the ack: on re-attach the same
    directive (same id) comes again, and its ack completes the migration."""
    ctl = fast_controller
    agents = await two_agents(ctl)
    client = await Client.connect(ctl.address)
    channel = grpc.aio.insecure_channel(ctl.address)
    stubs = Stubs(channel)
    hello = workload_pb2.AppMessage(hello=workload_pb2.AttachHello(name="svc", namespace="default"))

    async def next_of(call, kind: int) -> types_pb2.Directive:  # type: ignore[no-untyped-def]
        while True:
            directive = await asyncio.wait_for(call.read(), 10)
            if directive.kind == kind:
                return directive

    try:
        handle = await client.register("svc", resources=Resources(gpus=1))
        source = (await handle.wait_placed(10)).node
        target = "node-b" if source == "node-a" else "node-a"
        first = stubs.workload.Attach()
        await first.write(hello)
        await next_of(first, types_pb2.DIRECTIVE_KIND_PLACEMENT)
        await stubs.admin.Migrate(admin_pb2.MigrateRequest(name="svc", target_node=target))
        move = await next_of(first, types_pb2.DIRECTIVE_KIND_MIGRATE)
        first.cancel()  # gone before it could ack
        await assert_eventually(lambda: ctl.sessions.apps.get("default/svc") is None)

        second = stubs.workload.Attach()
        await second.write(hello)
        again = await next_of(second, types_pb2.DIRECTIVE_KIND_MIGRATE)
        assert (again.id, again.node, list(again.gpus)) == (move.id, target, list(move.gpus))
        ack = workload_pb2.DirectiveAck(directive_id=again.id, ok=True)
        await second.write(workload_pb2.AppMessage(ack=ack))
        done = await finished(ctl, "default/svc")
        assert done.phase == migration_pb2.MIGRATION_PHASE_RUNNING, done.error
        second.cancel()
    finally:
        await channel.close()
        await client.close()
        for agent in agents.values():
            await agent.stop()
