"""What validation accepts, the optimizer must digest: no poison-pill workload or node.

A spec that passes validation but makes the optimizer raise would fail every pass of the
leader's loop for as long as it is stored — nothing else would be placed. Pure: no server.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from controlplane.optimizer import OptimizerConfig, can_ever_fit, explain, optimize
from controlplane.optimizer.types import Snapshot
from controlplane.rpc.validation import (
    ValidationError,
    check_node_info,
    check_workload_spec,
    resolve_priority,
)
from controlplane.view.snapshot import node_view_of, request_of, workload_view_of
from sdk.pb.aiwo.v1 import types_pb2
from tests.fuzz.harness import FUZZ
from tests.fuzz.strategies import node_infos, workload_specs


def _accepted(check: object, message: object) -> bool:
    try:
        check(message)  # type: ignore[operator]
    except ValidationError:
        return False
    return True


@settings(FUZZ, max_examples=120)
@given(
    nodes=st.lists(node_infos(), min_size=1, max_size=2, unique_by=lambda n: n.name),
    specs=st.lists(workload_specs(), min_size=1, max_size=3),
)
def test_accepted_specs_and_nodes_never_break_the_optimizer(
    nodes: list[types_pb2.NodeInfo], specs: list[types_pb2.WorkloadSpec]
) -> None:
    nodes = [n for n in nodes if _accepted(check_node_info, n)]
    specs = [s for s in specs if _accepted(check_workload_spec, s)]
    if not nodes or not specs:
        return  # nothing accepted this time (assume() would filter too much)
    node_views = tuple(
        node_view_of(types_pb2.Node(name=n.name, state=types_pb2.NODE_STATE_READY, info=n))
        for n in nodes
    )
    workloads = tuple(
        workload_view_of(
            f"default/w{i}",
            types_pb2.Workload(spec=spec, priority=resolve_priority(spec), created_unix=i),
            None,
        )
        for i, spec in enumerate(specs)
    )
    snapshot = Snapshot(nodes=node_views, workloads=workloads)
    config = OptimizerConfig()
    for spec in specs:
        can_ever_fit(list(node_views), request_of(spec.resources))
    optimize(snapshot, 1_000.0, config)
    explain(snapshot, "default/w0", config)
