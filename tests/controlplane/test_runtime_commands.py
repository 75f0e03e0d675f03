"""Which agent command or app directive carries out each runtime action: tables, no etcd."""

from __future__ import annotations

import pytest
from google.protobuf.message import Message

from controlplane.leader.runtime_loop import agent_command, app_directive
from controlplane.optimizer import runtime as rt
from sdk.pb.aiwo.v1 import types_pb2

WHY = rt.Reason("test", "a test")
W = "default/train"

CASES: list[tuple[rt.RuntimeAction, tuple[str, dict[str, Message]] | None]] = [
    (
        rt.SetPowerCap("n1", 2, 250.0, WHY),
        ("n1", {"set_power_limit": types_pb2.SetPowerLimit(gpu_index=2, watts=250.0)}),
    ),
    (
        rt.ResetPowerCap("n1", 2, WHY),
        ("n1", {"reset_power_limit": types_pb2.ResetPowerLimit(gpu_index=2)}),
    ),
    (
        rt.LockClocks("n1", 0, 900, 1400, WHY),
        ("n1", {"lock_clocks": types_pb2.LockClocks(gpu_index=0, min_mhz=900, max_mhz=1400)}),
    ),
    (rt.ResetClocks("n1", 0, WHY), ("n1", {"reset_clocks": types_pb2.ResetClocks(gpu_index=0)})),
    (
        rt.ThrottleProcess(W, "n2", 0.25, WHY),
        ("n2", {"throttle_workload": types_pb2.ThrottleWorkload(workload=W, cpu_fraction=0.25)}),
    ),
    (  # a fraction of 0 freezes the process
        rt.ThrottleProcess(W, "n2", 0.0, WHY),
        ("n2", {"throttle_workload": types_pb2.ThrottleWorkload(workload=W, freeze=True)}),
    ),
    (
        rt.UnthrottleProcess(W, "n2", WHY),
        ("n2", {"throttle_workload": types_pb2.ThrottleWorkload(workload=W, cpu_fraction=1.0)}),
    ),
    # The app carries a directive out, not the agent.
    (rt.DirectiveThrottle(W, 0.5, WHY), None),
]


@pytest.mark.parametrize(("action", "expected"), CASES)
def test_agent_command(
    action: rt.RuntimeAction, expected: tuple[str, dict[str, Message]] | None
) -> None:
    assert agent_command(action) == expected


D = types_pb2
DIRECTIVES: list[tuple[rt.RuntimeAction, tuple[str, dict[str, object]] | None]] = [
    (
        rt.DirectiveThrottle(W, 0.5, WHY),
        (W, {"kind": D.DIRECTIVE_KIND_THROTTLE, "factor": 0.5, "reason": "a test"}),
    ),
    (
        rt.DirectiveUnthrottle(W, WHY),
        (W, {"kind": D.DIRECTIVE_KIND_UNTHROTTLE, "reason": "a test"}),
    ),
    (
        rt.SwitchVariant(W, "int8", WHY),
        (W, {"kind": D.DIRECTIVE_KIND_SWITCH_VARIANT, "variant": "int8", "reason": "a test"}),
    ),
    (
        rt.Migrate(W, ("n1", 0), WHY, target=("n2", 3)),
        (W, {"kind": D.DIRECTIVE_KIND_MIGRATE, "node": "n2", "gpus": [3], "reason": "a test"}),
    ),
    (  # no target: the placement core decides where
        rt.Migrate(W, ("n1", 0), WHY),
        (W, {"kind": D.DIRECTIVE_KIND_MIGRATE, "node": "", "gpus": [], "reason": "a test"}),
    ),
    # The agent carries a node-level action out, not the app.
    (rt.ResetClocks("n1", 0, WHY), None),
]


@pytest.mark.parametrize(("action", "expected"), DIRECTIVES)
def test_app_directive(
    action: rt.RuntimeAction, expected: tuple[str, dict[str, object]] | None
) -> None:
    assert app_directive(action) == expected
