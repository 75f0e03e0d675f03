"""The `aiwo-bench slo` command (registered on bench.main's group)."""

from __future__ import annotations

from pathlib import Path

import click

REPO = Path(__file__).resolve().parents[2]
DEFAULT_TRACE = (REPO.parent / "shared" / "data" / "azure-llm-2023"
                 / "AzureLLMInferenceTrace_conv.csv")


@click.command("slo")
@click.option("--trace", "trace_csv", type=click.Path(path_type=Path), default=DEFAULT_TRACE,
              show_default=True,
              help="Azure LLM trace CSV: TIMESTAMP,ContextTokens,GeneratedTokens")
@click.option("--duration", "duration_s", type=click.FloatRange(min=1.0), default=3600.0,
              show_default=True, help="simulated seconds")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")
def slo(trace_csv: Path, duration_s: float, seed: int, output: str) -> None:
    """SLO attainment, batch throughput and energy: no control, priority-only, aiwo."""
    raise click.ClickException("not implemented yet")
