"""Model variants: cheaper under capacity pressure, back when capacity returns."""

from __future__ import annotations

from controlplane.optimizer.runtime import (
    PendingWork,
    RuntimeConfig,
    RuntimeSnapshot,
    SwitchVariant,
    VariantView,
)
from tests.optimizer.runtime.builders import Loop, gpu, job, ls, snap

FP16 = VariantView("fp16", 600, latency_factor=1.0, accuracy_cost=0.0)
INT8 = VariantView("int8", 300, latency_factor=0.8, accuracy_cost=0.01)
INT4 = VariantView("int4", 200, latency_factor=0.7, accuracy_cost=0.05)
CONFIG = RuntimeConfig(energy=False)


def switches(plans) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [
        (a.workload, a.variant) for p in plans for a in p.actions if isinstance(a, SwitchVariant)
    ]


def pressured(svc_milli: int = 600, variant: str = "fp16") -> RuntimeSnapshot:
    return snap(
        gpu(
            "n1",
            0,
            ls("svc", p99=50.0, milli=svc_milli, variant=variant, variants=(FP16, INT8, INT4)),
            job("b", milli=400),
        ),
        pending=(PendingWork("ns/new", priority=900, gpus=1, milli_gpu=300),),
    )


def test_switches_after_the_pressure_has_lasted() -> None:
    loop = Loop(CONFIG)
    assert switches(loop.run(pressured(), 25.0)) == []  # variant_pressure_s: 30 s
    plans = loop.run(pressured(), 10.0)
    assert switches(plans) == [("ns/svc", "int8")]  # enough room at the lower accuracy cost
    action = next(a for p in plans for a in p.actions)
    assert action.reason.code == "variant_switched"
    assert action.reason.field("saves_milli") == 300
    assert action.reason.field("for_workload") == "ns/new"


def test_no_switch_for_pending_work_of_lower_priority_than_the_service() -> None:
    s = snap(
        gpu("n1", 0, ls("svc", p99=50.0, milli=600, variants=(FP16, INT8))),
        pending=(PendingWork("ns/new", priority=100, gpus=1, milli_gpu=500),),
    )
    assert switches(Loop(CONFIG).run(s, 120.0)) == []


def test_no_switch_when_it_would_not_make_enough_room() -> None:
    s = snap(
        gpu("n1", 0, ls("svc", p99=50.0, milli=600, variants=(FP16, INT8)), job("b", milli=400)),
        pending=(PendingWork("ns/new", priority=900, gpus=1, milli_gpu=500),),
    )
    plans = Loop(CONFIG).run(s, 120.0)
    assert switches(plans) == []
    assert any("no cheaper variant" in n for p in plans for n in p.notes)


def test_switches_back_when_capacity_has_returned_for_long_enough() -> None:
    loop = Loop(CONFIG)
    loop.run(pressured(), 40.0)
    calm = snap(
        gpu("n1", 0, ls("svc", p99=50.0, milli=300, variant="int8", variants=(FP16, INT8, INT4)))
    )
    # No pressure, room to grow back: still waits for variant_min_dwell_s (600 s).
    early = switches(loop.run(calm, 500.0))
    assert early == []
    assert switches(loop.run(calm, 200.0)) == [("ns/svc", "fp16")]


def test_no_switch_back_while_anything_is_pending() -> None:
    loop = Loop(CONFIG)
    loop.run(pressured(), 40.0)
    still = snap(
        gpu("n1", 0, ls("svc", p99=50.0, milli=300, variant="int8", variants=(FP16, INT8, INT4))),
        pending=(PendingWork("ns/other", priority=1, gpus=1, milli_gpu=2000),),
    )
    assert switches(loop.run(still, 1200.0)) == []


def test_no_switch_back_without_room() -> None:
    loop = Loop(CONFIG)
    loop.run(pressured(), 40.0)
    full = snap(
        gpu(
            "n1",
            0,
            ls("svc", p99=50.0, milli=300, variant="int8", variants=(FP16, INT8, INT4)),
            job("new", milli=700),
        )
    )
    assert switches(loop.run(full, 1200.0)) == []


def test_variants_off() -> None:
    assert switches(Loop(RuntimeConfig(variants=False)).run(pressured(), 120.0)) == []
