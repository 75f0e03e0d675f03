"""Reading the Alibaba GPU trace (nodes and pods CSV), with errors that name file, line, column."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from controlplane.optimizer.demand import Demand
from controlplane.optimizer.types import GpuView, NodeView, Request

NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
POD_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")


class TraceError(ValueError):
    def __init__(self, path: Path, line: int, column: str, message: str) -> None:
        super().__init__(f"{path}:{line}: column {column!r}: {message}")
        self.path, self.line, self.column = path, line, column


@dataclass(frozen=True, slots=True)
class Pod:
    name: str
    demand: Demand

    @property
    def gpu_milli(self) -> int:
        return self.demand.gpu_milli_total


def read_rows(path: Path, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """The rows of a CSV trace with their line numbers, once its header has every column in
    `required`; what cannot be read is a TraceError naming the file."""
    try:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            for column in required:
                if column not in header:
                    raise TraceError(path, 1, column, "missing column")
            # Line numbers as an editor shows them: the header is line 1.
            return [(reader.line_num, row) for row in reader]
    except OSError as e:
        raise TraceError(path, 0, "-", f"cannot read: {e.strerror}") from e
    except csv.Error as e:
        raise TraceError(path, 0, "-", f"not CSV: {e}") from e


def _int(path: Path, line: int, row: dict[str, str], column: str) -> int:
    text = (row.get(column) or "").strip()
    try:
        value = int(text)
    except ValueError:
        raise TraceError(path, line, column, f"not an integer: {text!r}") from None
    if value < 0:
        raise TraceError(path, line, column, f"negative value: {value}")
    return value


def read_nodes(path: Path) -> list[NodeView]:
    nodes = []
    for line, row in read_rows(path, NODE_COLUMNS):
        n_gpu = _int(path, line, row, "gpu")
        model = (row.get("model") or "").strip()
        gpus = tuple(GpuView(j, model, 0) for j in range(n_gpu))  # the trace has no GPU memory
        nodes.append(
            NodeView(
                row["sn"],
                _int(path, line, row, "cpu_milli"),
                _int(path, line, row, "memory_mib"),
                gpus,
            )
        )
    return nodes


def read_pods(path: Path) -> list[Pod]:
    pods = []
    for line, row in read_rows(path, POD_COLUMNS):
        spec = (row.get("gpu_spec") or "").strip()
        request = Request(
            gpus=_int(path, line, row, "num_gpu"),
            milli_gpu=_int(path, line, row, "gpu_milli"),
            cpu_milli=_int(path, line, row, "cpu_milli"),
            memory_mib=_int(path, line, row, "memory_mib"),
            gpu_models=frozenset(m for m in spec.split("|") if m),
        )
        pods.append(Pod(row["name"], Demand.of(request)))
    return pods
