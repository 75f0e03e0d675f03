"""The restart policy as a table: exits in, decisions out (no processes, no clock)."""

from __future__ import annotations

import pytest

from nodeagent.launch import LaunchSpec, RestartPolicy
from nodeagent.restart import RestartDecision as D
from nodeagent.restart import decide_restart


def launch(policy: RestartPolicy, max_restarts: int = 2) -> LaunchSpec:
    return LaunchSpec(
        command=("x",),
        restart_policy=policy,
        max_restarts=max_restarts,
        backoff_initial_s=1.0,
        backoff_max_s=3.0,
        backoff_reset_after_s=100.0,
    )


# (policy, max_restarts, restarts so far, stopping, exit code, ran_s) -> decision
CASES: list[tuple[RestartPolicy, int, int, bool, int, float, D]] = [
    ("always", 2, 0, True, 1, 1.0, D(None, "stopped by the agent", "stopped", 0)),
    ("never", 2, 0, False, 0, 1.0, D(None, "completed", "succeeded", 0)),
    ("on-failure", 2, 1, False, 0, 1.0, D(None, "completed", "succeeded", 1)),
    ("never", 2, 0, False, 3, 1.0, D(None, "failed; restart policy never", "failed", 0)),
    ("on-failure", 2, 0, False, 3, 1.0, D(1.0, "failed; restarting in 1.0 s", "restarting", 0)),
    ("on-failure", 2, 1, False, -9, 1.0, D(2.0, "failed; restarting in 2.0 s", "restarting", 1)),
    # A service that exits with 0 is not done.
    ("always", 5, 0, False, 0, 1.0, D(1.0, "exited; restarting in 1.0 s", "restarting", 0)),
    # The backoff stops growing at backoff_max_s.
    ("always", 5, 4, False, 1, 1.0, D(3.0, "failed; restarting in 3.0 s", "restarting", 4)),
    ("on-failure", 2, 2, False, 1, 1.0, D(None, "failed; giving up after 2 restarts", "failed", 2)),
    ("on-failure", 1, 1, False, 1, 1.0, D(None, "failed; giving up after 1 restart", "failed", 1)),
    # A long enough run starts the count (and the backoff) over.
    ("on-failure", 2, 2, False, 1, 100.0, D(1.0, "failed; restarting in 1.0 s", "restarting", 0)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("policy", "max_restarts", "restarts", "stopping", "returncode", "ran_s", "expected"), CASES
)
def test_decide_restart(
    policy: RestartPolicy,
    max_restarts: int,
    restarts: int,
    stopping: bool,
    returncode: int,
    ran_s: float,
    expected: D,
) -> None:
    decision = decide_restart(
        launch(policy, max_restarts),
        restarts=restarts,
        stopping=stopping,
        returncode=returncode,
        ran_s=ran_s,
    )
    assert decision == expected
