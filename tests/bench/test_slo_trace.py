"""Reading the Azure LLM trace: good rows, and bad ones named by file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.slo.trace import read_llm_trace, reshape
from bench.trace import TraceError

HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "trace.csv"
    path.write_text(header + body)
    return path


def test_reads_and_sorts_from_zero(tmp_path: Path) -> None:
    path = write(
        tmp_path, "2023-11-16 18:15:50.5000000,396,109\n2023-11-16 18:15:46.0000000,374,44\n"
    )
    trace = read_llm_trace(path)
    assert trace.arrival_s.tolist() == pytest.approx([0.0, 4.5])
    assert trace.prompt_tokens.tolist() == [374, 396]
    assert trace.output_tokens.tolist() == [44, 109]


@pytest.mark.parametrize(
    ("body", "line", "column"),
    [
        ("2023-11-16 18:15:46.1,10,5\nyesterday,10,5\n", 3, "TIMESTAMP"),
        ("2023-11-16 18:15:46.1,ten,5\n", 2, "ContextTokens"),
        ("2023-11-16 18:15:46.1,-3,5\n", 2, "ContextTokens"),
        ("2023-11-16 18:15:46.1,10,0\n", 2, "GeneratedTokens"),
        ("2023-11-16 18:15:46.1,10,\n", 2, "GeneratedTokens"),
        ("2023-11-16 18:15:46.x1,10,5\n", 2, "TIMESTAMP"),
        ("", 2, "TIMESTAMP"),
    ],
)
def test_bad_rows_name_file_line_column(tmp_path: Path, body: str, line: int, column: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(TraceError) as info:
        read_llm_trace(path)
    assert (info.value.line, info.value.column) == (line, column)
    assert str(info.value).startswith(f"{path}:{line}: column {column!r}")


def test_missing_column_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TraceError) as info:
        read_llm_trace(write(tmp_path, "x,1\n", header="TIMESTAMP,ContextTokens\n"))
    assert (info.value.line, info.value.column) == (1, "GeneratedTokens")
    with pytest.raises(TraceError, match="cannot read"):
        read_llm_trace(tmp_path / "nope.csv")


def test_reshape_scales_the_rate_and_moves_busy_periods(tmp_path: Path) -> None:
    rows = "".join(f"2023-11-16 18:15:{s:02d}.0000000,{100 + s},{s + 2}\n" for s in (0, 2, 4, 6))
    trace = read_llm_trace(write(tmp_path, rows))
    fast = reshape(trace, rate_scale=2.0)
    assert fast.arrival_s.tolist() == pytest.approx([0.0, 1.0, 2.0, 3.0])
    assert fast.prompt_tokens.tolist() == trace.prompt_tokens.tolist()
    # start 4 s in: the last two requests come first; the wrap keeps the 2 s gap
    shifted = reshape(trace, shift_s=4.0)
    assert shifted.arrival_s.tolist() == pytest.approx([0.0, 2.0, 4.0, 6.0])
    assert shifted.prompt_tokens.tolist() == [104, 106, 100, 102]
    with pytest.raises(ValueError):
        reshape(trace, rate_scale=0.0)
