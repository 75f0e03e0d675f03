"""The fuzz suite's controller: the real in-process controller on the real etcd fixture.

It leads (it holds the epoch, so writes go through the fenced path) but runs none of the
leader's background loops: placement, liveness and the runtime would write to etcd on
their own schedule, and "a rejected request changed nothing" is only checkable when the
request under test is the only thing writing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import fields, replace

import grpc
import pytest

from controlplane.app.config import ControllerConfig
from controlplane.app.server import Controller
from sdk.pb.aiwo.v1 import node_pb2, types_pb2, workload_pb2
from tests.controlplane.agentsim import node_info
from tests.controlplane.conftest import Stubs
from tests.helpers import EtcdMember, make_controller_config, started


class QuietController(Controller):
    async def _lead(self) -> None:
        await asyncio.Event().wait()  # lead until deposed or stopped; decide nothing


def fuzz_config(base: ControllerConfig, **changes: object) -> ControllerConfig:
    known = {f.name for f in fields(ControllerConfig)}
    return replace(base, **{k: v for k, v in changes.items() if k in known})  # type: ignore[arg-type]


@pytest.fixture
def controller_config(etcd: EtcdMember, etcd_prefix: str) -> ControllerConfig:
    return make_controller_config(
        etcd,
        etcd_prefix,
        # Long graces and lease: a loaded 2-core machine must not depose the leader or
        # mark a node NotReady in the middle of a run.
        node_grace_s=600.0,
        eviction_grace_s=600.0,
        leader_lease_s=10,
        rate_limit_rps=0.0,  # the suite sends hundreds of calls a second from one address
    )


@pytest.fixture
async def controller(controller_config: ControllerConfig) -> AsyncIterator[Controller]:
    async with started(QuietController(controller_config)) as ctl:
        yield ctl


@pytest.fixture
async def channel(controller: Controller) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(controller.address) as ch:
        yield ch


@pytest.fixture
def stubs(channel: grpc.aio.Channel) -> Stubs:
    return Stubs(channel)


@pytest.fixture
async def seeded(controller: Controller, stubs: Stubs) -> Controller:
    """A node and a workload to aim at (strategies.SEEDED_NAMES), so that examples reach
    the paths behind "not found" too: update, cordon, describe, explain."""
    await stubs.node.Register(node_pb2.RegisterNodeRequest(node=node_info("node-a", gpus=8)))
    await stubs.workload.Register(
        workload_pb2.RegisterWorkloadRequest(
            name="web",
            namespace="default",
            spec=types_pb2.WorkloadSpec(resources=types_pb2.Resources(gpus=1)),
        )
    )
    return controller
