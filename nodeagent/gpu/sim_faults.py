"""Fault injection for the simulated backend through a file, so tests and demos can fault a
real agent process: write `sim-faults.json` in the agent's state dir.

The file holds one fault or a list of them; each names a GPU and one of
    {"gpu": 2, "xid": 79}        the next sample of GPU 2 reports XID 79
    {"gpu": 2, "ecc": 3}         3 more uncorrected ECC errors on GPU 2's counter
    {"gpu": 2, "throttle": 64}   NVML throttle-reason bits forced on GPU 2 (0 clears)
The backend reads it before a sample and removes it (write it whole: to a temporary name,
then rename). A malformed file is removed with a warning and changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger("aiwo.sim_faults")

FAULT_FILE_NAME = "sim-faults.json"
_KINDS = ("xid", "ecc", "throttle")


@dataclass(frozen=True, slots=True)
class Fault:
    gpu: int
    kind: str  # one of _KINDS
    value: int


def parse_faults(text: str) -> list[Fault]:
    """The faults in a file's text; ValueError naming what is wrong."""
    data = json.loads(text)
    items = data if isinstance(data, list) else [data]
    faults = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("gpu"), int):
            raise ValueError(f"each fault needs an integer 'gpu', got {item!r}")
        kinds = [k for k in _KINDS if k in item]
        if len(kinds) != 1 or not isinstance(item[kinds[0]], int) or item[kinds[0]] < 0:
            raise ValueError(f"each fault needs one of {_KINDS} as an integer >= 0, got {item!r}")
        faults.append(Fault(item["gpu"], kinds[0], item[kinds[0]]))
    return faults


def take_faults(path: Path) -> list[Fault]:
    """Read and remove the fault file; [] when there is none or it is malformed."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.warning("sim_fault_file_unreadable", path=str(path), error=str(exc))
        return []
    path.unlink(missing_ok=True)
    try:
        return parse_faults(text)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        log.warning("sim_fault_file_invalid", path=str(path), error=str(exc))
        return []
