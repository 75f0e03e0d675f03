"""The replicas' readiness as a pure table: probe answers in, transitions out."""

from __future__ import annotations

import pytest

from nodeagent.readiness import Readiness, ReplicaHealth


@pytest.mark.parametrize(
    ("answers", "transitions"),
    [
        # Ready on the first 200, never announced twice.
        ([200, 200], ["ready", None]),
        # Not answering yet (loading): no transition until the first 200.
        ([None, 503, None, 200], [None, None, None, "ready"]),
        # One miss is ridden out; two in a row make it unready.
        ([200, None, 200], ["ready", None, None]),
        ([200, 503, None], ["ready", None, "unready"]),
        # Unready is said once; back on the next 200.
        ([200, 500, 500, 500, 200], ["ready", None, "unready", None, "ready"]),
        # A redirect or a 204 is not 200.
        ([204, 302], [None, None]),
    ],
)
def test_probe_answers_to_transitions(
    answers: list[int | None], transitions: list[str | None]
) -> None:
    health = ReplicaHealth(port=8000)
    assert [health.observe(a) for a in answers] == transitions


def test_a_replica_that_exits_is_unready_at_once_only_if_it_was_ready() -> None:
    state = Readiness()
    state.watch("ns/a-0", 9000)
    state.watch("ns/a-1", 9001)
    assert state.observe("ns/a-0", 200) == "ready"
    assert state.ready() == {"ns/a-0": 9000}
    assert state.forget("ns/a-0") == "unready"
    assert state.forget("ns/a-1") is None  # never ready: nothing to take back
    assert state.forget("ns/unknown") is None
    assert state.observe("ns/a-0", 200) is None  # forgotten: results of a late probe ignored


def test_a_restarted_replica_starts_unready_on_its_new_port() -> None:
    state = Readiness(failures_to_unready=1)
    state.watch("ns/a-0", 9000)
    assert state.observe("ns/a-0", 200) == "ready"
    state.watch("ns/a-0", 9100)
    assert state.ready() == {}
    assert state.observe("ns/a-0", None) is None
    assert state.observe("ns/a-0", 200) == "ready"
    assert state.ready() == {"ns/a-0": 9100}
