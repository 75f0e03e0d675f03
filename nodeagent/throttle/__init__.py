"""Throttling the processes of managed workloads: cgroup v2, cgroup v1, or SIGSTOP/SIGCONT.

``detect_throttler()`` picks the best mechanism the host allows; its ``capability`` string goes
into the node's capabilities. See docs/node-actuators.md.
"""

from nodeagent.throttle.base import (
    CAPABILITY_CGROUP_V1,
    CAPABILITY_CGROUP_V2,
    CAPABILITY_SIGNALS,
    MIN_CPU_FRACTION,
    ThrottleError,
    Throttler,
)
from nodeagent.throttle.cgroup_v1 import CgroupV1Throttler
from nodeagent.throttle.cgroup_v2 import CgroupV2Throttler
from nodeagent.throttle.detect import (
    Detection,
    Probe,
    ThrottleConfig,
    detect,
    detect_throttler,
)
from nodeagent.throttle.signals import SignalThrottler

__all__ = [
    "CAPABILITY_CGROUP_V1",
    "CAPABILITY_CGROUP_V2",
    "CAPABILITY_SIGNALS",
    "MIN_CPU_FRACTION",
    "CgroupV1Throttler",
    "CgroupV2Throttler",
    "Detection",
    "Probe",
    "SignalThrottler",
    "ThrottleConfig",
    "ThrottleError",
    "Throttler",
    "detect",
    "detect_throttler",
]
