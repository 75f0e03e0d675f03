"""Network telemetry: per-interface rates from /proc/net/dev and InfiniBand port counters.

The kernel exposes cumulative counters; `NetSampler.sample(now)` turns the difference between
two reads into rates (bytes/s, packets/s) and passes errors and drops through as cumulative
totals (the wire message, aiwo.v1.NetSample, has the same fields). Time comes in as `now`
(seconds, monotonic) so tests control it.

- The first read of an interface is its baseline: it appears from the second sample on.
- A counter that goes down was reset (interface re-created, driver reload) and counts from
  zero, as Prometheus' rate() does; if it was in the top quarter of the 32-bit range and is now
  in the bottom quarter, it wrapped at 2^32 (drivers with 32-bit counters) instead.
- InfiniBand ports (/sys/class/infiniband/DEV/ports/N/counters) appear as "DEV/N" (netdev
  names cannot contain "/"). port_rcv_data / port_xmit_data count 4-byte words (IBA
  PortCounters), so bytes = 4 x value. Errors: rx = port_rcv_errors +
  port_rcv_remote_physical_errors, tx = port_xmit_constraint_errors; drops: rx =
  port_rcv_constraint_errors + port_rcv_switch_relay_errors, tx = port_xmit_discards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

_U32: Final = 1 << 32
_IB_WORD_BYTES: Final = 4


@dataclass(frozen=True, slots=True)
class NetSample:
    interface: str
    rx_bytes_per_s: float
    tx_bytes_per_s: float
    rx_packets_per_s: float
    tx_packets_per_s: float
    rx_errors: int
    tx_errors: int
    rx_drops: int
    tx_drops: int


@dataclass(frozen=True, slots=True)
class NetCounters:
    """Cumulative counters of one interface at one instant."""

    rx_bytes: int
    tx_bytes: int
    rx_packets: int
    tx_packets: int
    rx_errors: int
    tx_errors: int
    rx_drops: int
    tx_drops: int


def parse_proc_net_dev(text: str) -> dict[str, NetCounters]:
    """Counters per interface from /proc/net/dev's text (two header lines, then one per device).

    Columns after "name:" are 8 receive fields (bytes packets errs drop fifo frame compressed
    multicast) then 8 transmit fields (bytes packets errs drop fifo colls carrier compressed).
    Malformed lines are skipped.
    """
    out: dict[str, NetCounters] = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        fields = rest.split()
        if not sep or len(fields) < 16 or not all(f.isdigit() for f in fields[:16]):
            continue
        v = [int(f) for f in fields[:16]]
        out[name.strip()] = NetCounters(
            rx_bytes=v[0], rx_packets=v[1], rx_errors=v[2], rx_drops=v[3],
            tx_bytes=v[8], tx_packets=v[9], tx_errors=v[10], tx_drops=v[11],
        )  # fmt: skip
    return out


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0  # counter absent on this HCA or firmware


def read_infiniband(root: Path) -> dict[str, NetCounters]:
    """Port counters of every InfiniBand device under `root`, keyed "DEV/PORT"."""
    out: dict[str, NetCounters] = {}
    try:
        counter_dirs = sorted(root.glob("*/ports/*/counters"))
    except OSError:
        return out
    for counters in counter_dirs:
        port = counters.parent
        device = port.parent.parent.name

        def c(name: str, d: Path = counters) -> int:
            return _read_int(d / name)

        out[f"{device}/{port.name}"] = NetCounters(
            rx_bytes=c("port_rcv_data") * _IB_WORD_BYTES,
            tx_bytes=c("port_xmit_data") * _IB_WORD_BYTES,
            rx_packets=c("port_rcv_packets"),
            tx_packets=c("port_xmit_packets"),
            rx_errors=c("port_rcv_errors") + c("port_rcv_remote_physical_errors"),
            tx_errors=c("port_xmit_constraint_errors"),
            rx_drops=c("port_rcv_constraint_errors") + c("port_rcv_switch_relay_errors"),
            tx_drops=c("port_xmit_discards"),
        )
    return out


def counter_delta(old: int, new: int) -> int:
    """Increase of a cumulative counter between two reads, surviving resets and 32-bit wraps."""
    if new >= old:
        return new - old
    if 3 * _U32 // 4 <= old < _U32 and new < _U32 // 4:
        return new + _U32 - old  # wrapped
    return new  # reset: counted from zero since


class NetSampler:
    """Rates per interface between successive `sample(now)` calls."""

    def __init__(
        self,
        proc_net_dev: str | Path = "/proc/net/dev",
        infiniband_root: str | Path = "/sys/class/infiniband",
    ) -> None:
        self._proc_net_dev = Path(proc_net_dev)
        self._ib_root = Path(infiniband_root)
        self._last: dict[str, NetCounters] = {}
        self._last_now: float | None = None
        self.last_error = ""  # why the latest read found nothing, for the agent to report

    def read(self) -> dict[str, NetCounters]:
        """Current cumulative counters of every interface (netdevs, then IB ports)."""
        try:
            counters = parse_proc_net_dev(self._proc_net_dev.read_text())
            self.last_error = ""
        except OSError as exc:
            counters = {}
            self.last_error = f"{self._proc_net_dev}: {exc.strerror or exc}"
        counters.update(read_infiniband(self._ib_root))
        return counters

    def sample(self, now: float) -> list[NetSample]:
        """Rates since the previous call. Empty on the first call; empty if `now` equals the
        previous call's (the baseline is kept); empty if `now` went back, as a wall clock can
        (the baseline restarts there)."""
        if self._last_now is not None and now == self._last_now:
            return []
        if self._last_now is not None and now < self._last_now:
            self._last, self._last_now = self.read(), now
            return []
        current = self.read()
        samples = []
        if self._last_now is not None:
            dt = now - self._last_now
            for name, new in current.items():
                old = self._last.get(name)
                if old is not None:
                    samples.append(_rates(name, old, new, dt))
        self._last, self._last_now = current, now
        return samples


def _rates(name: str, old: NetCounters, new: NetCounters, dt_s: float) -> NetSample:
    def rate(a: int, b: int) -> float:
        return counter_delta(a, b) / dt_s

    return NetSample(
        interface=name,
        rx_bytes_per_s=rate(old.rx_bytes, new.rx_bytes),
        tx_bytes_per_s=rate(old.tx_bytes, new.tx_bytes),
        rx_packets_per_s=rate(old.rx_packets, new.rx_packets),
        tx_packets_per_s=rate(old.tx_packets, new.tx_packets),
        rx_errors=new.rx_errors,
        tx_errors=new.tx_errors,
        rx_drops=new.rx_drops,
        tx_drops=new.tx_drops,
    )
