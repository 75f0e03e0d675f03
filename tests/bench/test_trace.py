"""Malformed traces stop with file, line and column named."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.trace import TraceError, read_nodes, read_pods

NODES = "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,T4\nn1,32000,131072,8,G2\n"
PODS = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n"
    "p0,1000,1024,1,500,\np1,2000,2048,2,1000,T4|G2\np2,4000,0,0,0,\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_nodes_and_pods(tmp_path: Path) -> None:
    nodes = read_nodes(write(tmp_path, "n.csv", NODES))
    assert [(n.name, len(n.gpus), n.gpus[0].model) for n in nodes] == [
        ("n0", 2, "T4"),
        ("n1", 8, "G2"),
    ]
    pods = read_pods(write(tmp_path, "p.csv", PODS))
    assert [(p.demand.gpus, p.demand.milli, p.gpu_milli) for p in pods] == [
        (1, 500, 500),
        (2, 1000, 2000),
        (0, 0, 0),
    ]
    assert pods[1].demand.models == frozenset({"T4", "G2"})


def test_share_above_1000_counts_as_1000(tmp_path: Path) -> None:
    text = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1,1,1,1200\n"
    [pod] = read_pods(write(tmp_path, "p.csv", text))
    assert pod.gpu_milli == 1000


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        ("name,cpu_milli,memory_mib,num_gpu\np0,1,1,1\n", 1, "gpu_milli", "missing column"),
        (
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1,1,1,500\np1,x,1,1,500\n",
            3,
            "cpu_milli",
            "not an integer",
        ),
        ("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1,1,-1,500\n", 2, "num_gpu", "negative"),
        (
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1,,1,500\n",
            2,
            "memory_mib",
            "not an integer",
        ),
    ],
)
def test_pod_errors_name_file_line_column(tmp_path: Path, text, line, column, words) -> None:
    path = write(tmp_path, "pods.csv", text)
    with pytest.raises(TraceError) as info:
        read_pods(path)
    e = info.value
    assert (e.path, e.line, e.column) == (path, line, column)
    assert str(e).startswith(f"{path}:{line}: column '{column}'") and words in str(e)


def test_node_errors_name_file_line_column(tmp_path: Path) -> None:
    path = write(tmp_path, "nodes.csv", NODES + "n2,1000,1,two,T4\n")
    with pytest.raises(TraceError, match=r"nodes.csv:4: column 'gpu': not an integer"):
        read_nodes(path)
    with pytest.raises(TraceError, match="column 'model': missing column"):
        read_nodes(write(tmp_path, "n2.csv", "sn,cpu_milli,memory_mib,gpu\nn0,1,1,1\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="cannot read"):
        read_pods(tmp_path / "absent.csv")
