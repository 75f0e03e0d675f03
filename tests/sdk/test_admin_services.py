"""AdminClient's service methods (ServingService) against the real controller, in process:
each typed request reaches the controller and each typed reply comes back as a `Service`."""

from __future__ import annotations

import pytest

from sdk import InvalidArgument, NotFound, Resources, make_service_spec
from tests.helpers import assert_eventually
from tests.sdk.conftest import Cluster


async def test_create_get_list_scale_and_delete_a_service(cluster: Cluster) -> None:
    admin = cluster.admin
    spec = make_service_spec(
        ["python", "-m", "sdk.examples.llm_server"],
        min_replicas=0,
        max_replicas=3,
        resources=Resources(gpus=1, milli_gpu=250),
    )
    created = await admin.create_service("chat", spec)
    assert (created.key, created.spec.max_replicas, created.pinned) == ("default/chat", 3, None)
    assert (await admin.get_service("chat")).created_unix == created.created_unix
    await admin.create_service("embed", spec, namespace="team-a")
    assert [s.key for s in await admin.list_services()] == ["default/chat", "team-a/embed"]
    assert [s.key for s in await admin.list_services("team-a")] == ["team-a/embed"]

    assert (await admin.scale_service("chat", 2)).pinned == 2
    # 0 is a pin too (the oneof is set even to its default), not "unpinned".
    assert (await admin.scale_service("chat", 0)).pinned == 0
    assert (await admin.scale_service("chat", auto=True)).pinned is None
    with pytest.raises(InvalidArgument, match="replicas"):
        await admin.scale_service("chat", 4)
    with pytest.raises(ValueError, match="not both or neither"):
        await admin.scale_service("chat", 1, auto=True)

    updated = await admin.update_service("chat", min_replicas=1, ttft_ms=1500)
    assert (updated.spec.min_replicas, updated.spec.max_replicas) == (1, 3)
    assert updated.spec.template.slo.ttft_ms == 1500 and updated.desired == 1
    with pytest.raises(InvalidArgument, match="min_replicas: must be at most max_replicas"):
        await admin.update_service("chat", min_replicas=3, max_replicas=2)
    assert (await admin.get_service("chat")).spec.max_replicas == 3  # nothing half-written
    await admin.delete_service("chat")

    async def gone() -> bool:
        try:
            await admin.get_service("chat")
        except NotFound:
            return True
        return False

    await assert_eventually(gone, message="the deleted service is still there")
