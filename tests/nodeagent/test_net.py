from __future__ import annotations

from pathlib import Path

import pytest

from nodeagent.net import NetSample, NetSampler, counter_delta, parse_proc_net_dev

HEADER = (
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|"
    "bytes    packets errs drop fifo colls carrier compressed\n"
)


def proc_text(rows: dict[str, tuple[int, int, int, int, int, int, int, int]]) -> str:
    """rows: name -> (rx_bytes, rx_packets, rx_errs, rx_drop, tx_bytes, tx_packets, tx_errs,
    tx_drop); the other columns are zero."""
    lines = [HEADER]
    for name, (rb, rp, re_, rd, tb, tp, te, td) in rows.items():
        lines.append(f"{name:>6}: {rb} {rp} {re_} {rd} 0 0 0 0 {tb} {tp} {te} {td} 0 0 0 0\n")
    return "".join(lines)


def rx(rx_bytes: int, rx_packets: int) -> tuple[int, int, int, int, int, int, int, int]:
    """A proc_text row that only received."""
    return (rx_bytes, rx_packets, 0, 0, 0, 0, 0, 0)


class Host:
    """A fake /proc/net/dev and InfiniBand tree, and the sampler that reads them."""

    def __init__(self, root: Path) -> None:
        self.dev, self.ib = root / "net_dev", root / "infiniband"
        self.sampler = NetSampler(self.dev, self.ib)

    def at(
        self, now: float, rows: dict[str, tuple[int, int, int, int, int, int, int, int]]
    ) -> list[NetSample]:
        """Write `rows` as /proc/net/dev, then sample at `now`."""
        self.dev.write_text(proc_text(rows))
        return self.sampler.sample(now)


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


def test_parse_real_format_including_glued_names() -> None:
    text = proc_text({"eth0": (106539234, 2882, 1, 2, 149307, 1422, 3, 4)})
    text += "enp1s0f0:4294967296 10 0 0 0 0 0 0 5 1 0 0 0 0 0 0\n"  # no space after ':'
    text += "garbage line\n"
    got = parse_proc_net_dev(text)
    assert set(got) == {"eth0", "enp1s0f0"}
    e = got["eth0"]
    assert (e.rx_bytes, e.rx_packets, e.rx_errors, e.rx_drops) == (106539234, 2882, 1, 2)
    assert (e.tx_bytes, e.tx_packets, e.tx_errors, e.tx_drops) == (149307, 1422, 3, 4)
    assert got["enp1s0f0"].rx_bytes == 4294967296


def test_rates_between_two_samples(host: Host) -> None:
    assert host.at(100.0, {"eth0": (1000, 10, 0, 0, 500, 5, 0, 0)}) == []  # baseline
    assert host.at(102.0, {"eth0": (5000, 30, 2, 1, 2500, 9, 0, 3)}) == [
        NetSample(
            "eth0", 2000.0, 1000.0, 10.0, 2.0, rx_errors=2, tx_errors=0, rx_drops=1, tx_drops=3
        )
    ]


def test_new_interface_waits_for_a_baseline_and_gone_one_disappears(host: Host) -> None:
    host.at(0.0, {"eth0": rx(0, 0)})
    assert host.at(1.0, {"eth1": rx(100, 1)}) == []
    assert [s.interface for s in host.at(2.0, {"eth1": rx(300, 3)})] == ["eth1"]


def test_counter_reset_counts_from_zero(host: Host) -> None:
    host.at(0.0, {"eth0": rx(10_000_000, 1000)})
    (s,) = host.at(2.0, {"eth0": rx(4000, 4)})  # interface re-created
    assert s.rx_bytes_per_s == 2000.0 and s.rx_packets_per_s == 2.0


def test_32bit_wrap_is_not_a_reset() -> None:
    assert counter_delta(2**32 - 100, 50) == 150
    assert counter_delta(10, 25) == 15
    assert counter_delta(5_000_000, 100) == 100  # reset
    assert counter_delta(2**40, 100) == 100  # 64-bit counters never "wrap" at 2^32


def test_time_not_advancing_keeps_the_baseline(host: Host) -> None:
    host.at(5.0, {"eth0": rx(0, 0)})
    assert host.at(5.0, {"eth0": rx(100, 1)}) == []
    (s,) = host.sampler.sample(6.0)
    assert s.rx_bytes_per_s == 100.0


def test_clock_stepping_back_restarts_the_baseline(host: Host) -> None:
    host.at(1000.0, {"eth0": rx(0, 0)})
    assert host.at(10.0, {"eth0": rx(500, 5)}) == []  # wall clock stepped back by 990 s
    (s,) = host.at(12.0, {"eth0": rx(700, 7)})
    assert s.rx_bytes_per_s == 100.0  # measured from the new baseline, not stalled


def test_missing_proc_file_is_reported_not_raised(host: Host) -> None:
    sampler = host.sampler
    assert sampler.sample(0.0) == [] and sampler.sample(1.0) == []
    assert "No such file" in sampler.last_error


def write_ib_port(root: Path, device: str, port: int, **counters: int) -> None:
    d = root / device / "ports" / str(port) / "counters"
    d.mkdir(parents=True, exist_ok=True)
    for name, value in counters.items():
        (d / name).write_text(f"{value}\n")


def test_infiniband_counters_in_4_byte_words(host: Host) -> None:
    ib, sampler = host.ib, host.sampler
    host.dev.write_text(proc_text({}))
    base = dict(port_rcv_data=1000, port_xmit_data=2000, port_rcv_packets=10, port_xmit_packets=20)
    write_ib_port(ib, "mlx5_0", 1, **base, port_rcv_errors=1, port_xmit_discards=2)
    sampler.sample(0.0)
    write_ib_port(
        ib, "mlx5_0", 1,
        port_rcv_data=1250, port_xmit_data=3000, port_rcv_packets=15, port_xmit_packets=30,
        port_rcv_errors=1, port_rcv_remote_physical_errors=2, port_xmit_discards=4,
    )  # fmt: skip
    (s,) = sampler.sample(1.0)
    assert s.interface == "mlx5_0/1"
    assert s.rx_bytes_per_s == 1000.0  # 250 words x 4 bytes
    assert s.tx_bytes_per_s == 4000.0
    assert (s.rx_packets_per_s, s.tx_packets_per_s) == (5.0, 10.0)
    assert (s.rx_errors, s.tx_errors, s.rx_drops, s.tx_drops) == (3, 0, 0, 4)


def test_real_proc_net_dev() -> None:
    sampler = NetSampler()  # this machine's /proc/net/dev (no InfiniBand here)
    assert sampler.sample(0.0) == []
    samples = sampler.sample(1.0)
    names = {s.interface for s in samples}
    assert "lo" in names
    for s in samples:
        assert s.rx_bytes_per_s >= 0 and s.tx_packets_per_s >= 0 and s.rx_errors >= 0
