from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import grpc
import pytest

from controlplane.app.config import ControllerConfig
from controlplane.app.server import Controller
from sdk.pb.aiwo.v1 import admin_pb2_grpc, node_pb2_grpc, workload_pb2_grpc
from tests.helpers import EtcdMember, make_controller_config, started


class Stubs:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.node = node_pb2_grpc.NodeServiceStub(channel)
        self.workload = workload_pb2_grpc.WorkloadServiceStub(channel)
        self.admin = admin_pb2_grpc.AdminServiceStub(channel)


@pytest.fixture
def controller_config(etcd: EtcdMember, etcd_prefix: str) -> ControllerConfig:
    return make_controller_config(
        etcd, etcd_prefix, node_grace_s=2.0, eviction_grace_s=2.0, optimize_interval_s=0.2
    )


@pytest.fixture
async def controller(controller_config: ControllerConfig) -> AsyncIterator[Controller]:
    async with started(Controller(controller_config)) as ctl:
        yield ctl


@pytest.fixture
async def stubs(controller: Controller) -> AsyncIterator[Stubs]:
    async with grpc.aio.insecure_channel(controller.address) as channel:
        yield Stubs(channel)


@pytest.fixture
async def make_controller(controller_config: ControllerConfig):  # type: ignore[no-untyped-def]
    """For tests that need a second controller or a restart on the same etcd prefix."""
    made: list[Controller] = []

    async def start(**changes: object) -> Controller:
        ctl = Controller(replace(controller_config, **changes))  # type: ignore[arg-type]
        await ctl.start()
        made.append(ctl)
        return ctl

    yield start
    for ctl in made:
        await ctl.stop(0)
