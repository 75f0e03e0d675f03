"""`aiwo top` in an 80×24 terminal: every line fits, the frame fits, the workloads show,
units explain themselves; `q` quits the real program in a real pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time

from rich.console import Console

from sdk import Gpu, Node, NodeState, Resources, SloHints, Workload, WorkloadPhase, WorkloadSpec
from sdk.cli import top_view
from sdk.cli.top import _quit_pressed
from tests.cli.test_cli import wait_for_node
from tests.sdk.processes import LocalControlPlane


def cluster(nodes: int, gpus_per_node: int, workloads: int) -> tuple[list, list, list]:
    node_list = [
        Node(f"node-{n}", state=NodeState.READY, gpu_count=gpus_per_node, gpu_model="H100")
        for n in range(1, nodes + 1)
    ]
    gpu_list = [
        Gpu(f"node-{n}", i, model="H100", memory_total_mib=81559, memory_used_mib=40_000,
            utilization_pct=63.0, power_w=312.0, power_limit_w=700.0, temperature_c=61.0,
            milli_allocated=250, workloads=("default/chat",), sample_unix=1.0)
        for n in range(1, nodes + 1)
        for i in range(gpus_per_node)
    ]  # fmt: skip
    workload_list = [
        Workload(
            f"inference-service-{i:02d}",
            spec=WorkloadSpec(
                priority_class="high",
                slo=SloHints(p99_latency_ms=100),
                resources=Resources(gpus=1, milli_gpu=250),
            ),
            phase=WorkloadPhase.RUNNING,
            node="node-1",
            gpus=(i % gpus_per_node,),
            milli_gpu=250,
            p99_latency_ms=72.5,
            message="placed on node-1 because it has the most free memory of all nodes",
        )
        for i in range(workloads)
    ]
    return node_list, gpu_list, workload_list


def draw(width: int, height: int, nodes: int, gpus: int, workloads: int) -> list[str]:
    console = Console(width=width, height=height, record=True, color_system=None)
    console.print(top_view.frame(*cluster(nodes, gpus, workloads), top_view.Size(width, height)))
    return console.export_text().splitlines()


def test_32_gpus_in_80x24_become_one_row_per_node_and_the_workloads_show() -> None:
    lines = draw(80, 24, nodes=4, gpus=8, workloads=6)
    assert len(lines) < 24, "\n".join(lines)
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    text = "\n".join(lines)
    assert "MAX TEMP" in text and "8× H100" in text  # the per-node summary
    assert sum(line.startswith("node-") for line in lines) == 4
    assert "NAMESPACE/NAME" in text
    assert sum("default/inference-service-" in line for line in lines) == 6  # all of them
    assert "2496/5600 W" in text  # 8 × 312 W now, 8 × 700 W cap
    assert "0.25 GPU" in text and "cap" in lines[1] and "q quits" in lines[1]
    assert lines[0].endswith("workloads 6/6 placed")  # the summary is not cut


def test_gpus_that_fit_get_a_row_each() -> None:
    lines = draw(80, 24, nodes=1, gpus=4, workloads=3)
    assert all(len(line) <= 80 for line in lines) and len(lines) < 24
    text = "\n".join(lines)
    assert "MAX TEMP" not in text and "312/700 W" in text and "61°C" in text
    assert sum(line.startswith("node-1 ") for line in lines) == 4


def test_many_workloads_are_cut_with_a_count_of_the_rest() -> None:
    lines = draw(80, 24, nodes=4, gpus=8, workloads=40)
    assert len(lines) < 24 and all(len(line) <= 80 for line in lines)
    shown = sum("default/inference-service-" in line for line in lines)
    assert shown >= top_view.MIN_WORKLOAD_ROWS
    assert lines[-1].startswith(f"… and {40 - shown} more")


def test_a_wide_terminal_gets_the_messages_and_a_log_gets_everything() -> None:
    wide = "\n".join(draw(160, 50, nodes=2, gpus=8, workloads=3))
    assert "most free memory" in wide and "MESSAGE" in wide
    console = Console(width=240, record=True, color_system=None)
    console.print(top_view.frame(*cluster(4, 8, 40), top_view.Size(240, None)))
    logged = console.export_text()
    assert logged.count("default/inference-service-") == 40 and "MAX TEMP" not in logged


def test_q_is_read_as_quit() -> None:
    read, write = os.pipe()
    try:
        os.write(write, b"xq")
        assert _quit_pressed(read, 5.0)
        assert not _quit_pressed(read, 0.05)  # nothing more to read: the time runs out
    finally:
        os.close(read)
        os.close(write)


def test_q_quits_the_real_live_view_in_an_80x24_terminal(plane: LocalControlPlane) -> None:
    wait_for_node(plane)
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "80", "LINES": "24"}
    view = subprocess.Popen(
        [sys.executable, "-m", "sdk.cli.main", "--controller", plane.address, "top",
         "--interval", "0.2", "--duration", "60"],
        stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True,
    )  # fmt: skip
    os.close(follower)
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while b"NAMESPACE/NAME" not in seen and b"no workloads" not in seen:
            assert time.monotonic() < deadline, seen[-2000:]
            ready, _, _ = select.select([leader], [], [], 1.0)
            if ready:
                seen += os.read(leader, 65536)
        os.write(leader, b"q")
        assert view.wait(20) == 0
    finally:
        if view.poll() is None:
            view.kill()
            view.wait()
        os.close(leader)
