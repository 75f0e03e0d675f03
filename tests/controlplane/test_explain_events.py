"""`aiwo explain` / `aiwo describe` events on a real controller: the object's own, not of
another whose name it begins, nor of an earlier object of the same name.

Found trying the serving path as a new user: after `aiwo deregister chat` and a later
`aiwo serve chat`, `aiwo explain chat` listed the old service's 24 events (its deletion
included) above the new one's, and a service "chatbot" would have shown in "chat"'s."""

from __future__ import annotations

from controlplane.app.server import Controller
from sdk.pb.aiwo.v1 import admin_pb2, serving_pb2, serving_pb2_grpc
from tests.controlplane.conftest import Stubs
from tests.controlplane.test_serving import create, service_spec
from tests.helpers import assert_eventually


async def test_a_service_created_again_explains_only_its_own_events(
    controller: Controller, stubs: Stubs
) -> None:
    serving = serving_pb2_grpc.ServingServiceStub(stubs.channel)
    await serving.CreateService(create("chat", service_spec(1, 3)))
    await serving.CreateService(create("chatbot", service_spec(1, 2)))
    await serving.DeleteService(serving_pb2.DeleteServiceRequest(name="chat", namespace="default"))
    await assert_eventually(lambda: controller.state.services.get("default/chat") is None)
    again = await serving.CreateService(create("chat", service_spec(0, 2)))
    await assert_eventually(lambda: controller.state.services.get("default/chat") is not None)

    explained = await stubs.admin.Explain(
        admin_pb2.ExplainRequest(name="chat", namespace="default")
    )
    assert {e.object for e in explained.events} == {"service/default/chat"}
    assert all(e.time_unix >= again.created_unix for e in explained.events)
    kinds = [e.kind for e in explained.events]
    assert kinds[-1] == "service_created" and "service_deleted" not in kinds
    assert [e.message for e in explained.events if e.kind == "service_created"] == ["replicas 0-2"]
    # The prefix listing (`aiwo events --object`) still holds all of them.
    listed = await stubs.admin.ListEvents(
        admin_pb2.ListEventsRequest(object="service/default/chat", limit=100)
    )
    assert {"service/default/chat", "service/default/chatbot"} <= {e.object for e in listed.events}
    assert "service_deleted" in {e.kind for e in listed.events}


async def test_a_node_describes_its_own_events_not_those_of_node_10(
    controller: Controller,
) -> None:
    for name in ("node-1", "node-10"):
        controller.decisions.events.emit("node_cordoned", f"node/{name}", f"{name} why", 1.0)
    await assert_eventually(
        lambda: len(controller.state.events_for("node/node-1", 10)) == 2  # both, by prefix
    )
    assert [e.message for e in controller.state.events_of("node/node-1", 10)] == ["node-1 why"]
