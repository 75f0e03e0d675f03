"""Whether a managed workload's exit is followed by a restart, and after how long: pure, no
processes, no clock (the supervisor passes in how long the run lasted).

The supervisor carries the decision out: it reports the exit with `detail` and `outcome`,
keeps `restarts` as the count of restarts in a row, and waits `delay_s` before starting the
workload again (no restart when `delay_s` is None).
"""

from __future__ import annotations

from dataclasses import dataclass

from nodeagent.launch import LaunchSpec


@dataclass(frozen=True, slots=True)
class RestartDecision:
    delay_s: float | None  # None: no restart follows
    detail: str  # the reason, for the "exited" event
    # What the exit means for the workload (ProcessEvent.outcome): "stopped" (by the agent),
    # "restarting", "succeeded" or "failed".
    outcome: str
    restarts: int  # restarts in a row so far (a long enough run starts the count over)


def decide_restart(
    spec: LaunchSpec, *, restarts: int, stopping: bool, returncode: int, ran_s: float
) -> RestartDecision:
    """The decision for an exit with `returncode` after a run of `ran_s` seconds, `restarts`
    restarts in a row after the first start; `stopping`: the agent asked for the exit."""
    if stopping:
        return RestartDecision(None, "stopped by the agent", "stopped", restarts)
    done = "succeeded" if returncode == 0 else "failed"
    if returncode == 0 and spec.restart_policy != "always":
        return RestartDecision(None, "completed", done, restarts)
    if spec.restart_policy == "never":
        return RestartDecision(None, "failed; restart policy never", done, restarts)
    if ran_s >= spec.backoff_reset_after_s:
        restarts = 0
    if restarts >= spec.max_restarts:
        plural = "" if spec.max_restarts == 1 else "s"
        detail = f"failed; giving up after {spec.max_restarts} restart{plural}"
        return RestartDecision(None, detail, done, restarts)
    delay_s = spec.backoff_s(restarts)
    # The delay is in the detail: `aiwo describe` shows a crash loop's next try from it.
    how = "failed" if returncode != 0 else "exited"
    return RestartDecision(delay_s, f"{how}; restarting in {delay_s:.1f} s", "restarting", restarts)
