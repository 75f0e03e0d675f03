"""Services through the `aiwo` program as a new user meets them: the commands docs/cli.md
shows, run as written against a real controller and agent, and what they print. Real
processes: the module's `plane` and `python -m sdk.cli.main`."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sdk.cli.main import cli
from tests.cli.test_bad_input import AIWO, against, one_line
from tests.cli.test_cli import wait_for_node
from tests.e2e.cluster_helpers import wait_for
from tests.sdk.processes import LocalControlPlane

ROOT = Path(__file__).resolve().parents[2]
LLM_SERVER = ("--", "python", "-m", "sdk.examples.llm_server")


@contextlib.contextmanager
def served(plane: LocalControlPlane, name: str, *flags: str) -> Iterator[None]:
    """`aiwo serve NAME FLAGS -- python -m sdk.examples.llm_server` once a node is up; the
    service is deregistered after the block."""
    wait_for_node(plane)
    created = against(plane, "serve", name, *flags, *LLM_SERVER)
    assert created.returncode == 0, created.stderr
    try:
        yield
    finally:
        against(plane, "deregister", name)


def documented_commands(doc: str, heading: str) -> list[list[str]]:
    """The commands of the first sh example under `heading` in `doc`, comments and line
    continuations resolved, each without its leading `aiwo` (or `.venv/bin/aiwo`); other
    programs (curl) keep their name."""
    text = (ROOT / doc).read_text()
    block = re.search(rf"{re.escape(heading)}\n.*?```sh\n(.*?)```", text, re.S)
    assert block, f"{doc} has no sh example under {heading!r}"
    joined = block.group(1).replace("\\\n", " ")
    commands = [shlex.split(line, comments=True) for line in joined.splitlines()]
    return [c[1:] if c[0] in ("aiwo", ".venv/bin/aiwo") else c for c in commands if c]


def documented_services_commands() -> list[list[str]]:
    """docs/cli.md's "## Services" example."""
    commands = documented_commands("docs/cli.md", "## Services")
    assert all(c[0] != "curl" for c in commands)
    return commands


def documented_demand_keys() -> set[str]:
    """The keys docs/cli.md lists for `demand` in `aiwo describe service -o json`."""
    text = (ROOT / "docs/cli.md").read_text()
    listed = re.search(r"`demand`\s*\(what the gateways measured[^:]*:(.*?)\)", text, re.S)
    assert listed, "docs/cli.md does not list the demand keys"
    return set(re.findall(r"`(\w+)`", listed.group(1)))


def describe(plane: LocalControlPlane, name: str) -> dict[str, object]:
    result = against(plane, "describe", "service", name, "-o", "json")
    assert result.returncode == 0, result.stderr
    value: dict[str, object] = json.loads(result.stdout)
    return value


def test_the_documented_service_commands_work_as_written(plane: LocalControlPlane) -> None:
    wait_for_node(plane)
    commands = documented_services_commands()
    assert [c[0] for c in commands] == [
        "serve", "services", "describe", "scale", "scale", "scale", "deregister",
    ]  # fmt: skip
    name = commands[0][1]
    for command in commands:
        result = against(plane, *command)
        assert result.returncode == 0, (command, result.stderr)
        if command[0] == "serve":
            wait_for(lambda: describe(plane, name)["replicas"] == 1, 60, "no replica ready")
            shown = describe(plane, name)
            for key in ("replicas", "desired", "min", "max", "endpoints", "last_scale"):
                assert key in shown, key
            demand = shown["demand"]
            assert isinstance(demand, dict) and set(demand) == documented_demand_keys()
            endpoints = shown["endpoints"]
            assert (shown["min"], shown["max"]) == (1, 4)
            assert isinstance(endpoints, list) and len(endpoints) == 1
        elif command[0] == "scale" and "--replicas" in command:
            assert describe(plane, name)["pinned"] == int(command[command.index("--replicas") + 1])
        elif command[0] == "scale" and "--min" in command:
            shown = describe(plane, name)
            assert (shown["min"], shown["max"]) == (1, 6)
            assert shown["slo"]["ttft_ms"] == 1500  # type: ignore[index]
            assert result.stdout.startswith(f"service default/{name}: replicas 1-6, desired ")
        elif command[0] == "scale":
            assert describe(plane, name)["pinned"] is None
    wait_for(lambda: against(plane, "describe", "service", name).returncode == 1, 60, "not gone")


def test_explain_of_a_service_says_why_it_has_its_replicas(plane: LocalControlPlane) -> None:
    with served(plane, "explained", "--replicas", "0-2", "--ttft-ms", "2000"):
        explained = against(plane, "explain", "explained")
        assert explained.returncode == 0, explained.stderr
        assert explained.stdout.startswith("service default/explained has 0 replicas")
        # Not an empty workload's fields: the controller sends none for a service.
        assert "Workload:" not in explained.stdout and "nodes feasible" not in explained.stdout
        assert "service_created" in explained.stdout
        assert "SLO targets: TTFT 2000 ms" in explained.stdout
        # -o json: the same numbers as fields, and no empty workload object.
        as_json = against(plane, "explain", "explained", "-o", "json")
        assert as_json.returncode == 0, as_json.stderr
        data = json.loads(as_json.stdout)
        assert data["workload"] is None
        service = data["service"]
        assert (service["name"], service["namespace"]) == ("explained", "default")
        assert (service["min_replicas"], service["max_replicas"]) == (0, 2)
        assert service["replicas"] == service["ready"] == service["desired"] == 0
        assert service["pinned"] is None and service["deleting"] is False
        assert service["targets"]["ttft_ms"] == 2000 and service["targets"]["tpot_ms"] == 0
        wait_for(
            lambda: json.loads(against(plane, "explain", "explained", "-o", "json").stdout)[
                "service"
            ]["reason"],
            30,
            "the autoscaler never gave a reason",
        )
        assert data["summary"].startswith("service default/explained has 0 replicas")
        pin = against(plane, "scale", "explained", "--replicas", "1")
        assert pin.stdout == "service default/explained pinned at 1 replica\n", pin.stderr
        pinned = json.loads(against(plane, "explain", "explained", "-o", "json").stdout)
        assert pinned["service"]["pinned"] == 1 and pinned["service"]["desired"] == 1


def test_the_serve_help_example_stays_whole_in_80_columns() -> None:
    out = subprocess.run(
        [*AIWO, "serve", "--help"],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "80"}, timeout=60,
    ).stdout  # fmt: skip
    assert all(len(line) <= 80 for line in out.splitlines()), out
    example = re.search(r"\n *(aiwo serve .*?)\n\n", out, re.S)
    assert example, out
    lines = example.group(1).splitlines()
    # A line cut by the help's wrapping (not a `\` continuation) would not paste as one command.
    assert all(line.endswith(" \\") for line in lines[:-1]), lines
    command = shlex.split(example.group(1).replace("\\\n", " "))
    assert tuple(command[-4:]) == LLM_SERVER, command


def test_serving_a_name_again_with_another_spec_says_what_to_do(plane: LocalControlPlane) -> None:
    with served(plane, "respec", "--replicas", "0-2"):
        again = against(plane, "serve", "respec", "--replicas", "0-2", *LLM_SERVER)
        assert again.returncode == 0, again.stderr  # the same spec: a no-op
        # Only the range differs: `aiwo scale` changes it in place, and the message says how.
        ranged = against(plane, "serve", "respec", "--replicas", "0-3", *LLM_SERVER)
        assert ranged.returncode == 1
        assert one_line(ranged) == (
            "aiwo: service default/respec exists with a different spec; change it in place"
            " with `aiwo scale respec -n default --max 3`"
        )
        other = against(plane, "serve", "respec", "--replicas", "0-2", "--", "python", "x.py")
        assert other.returncode == 1
        assert one_line(other) == (
            "aiwo: service default/respec exists with a different spec; to change it, delete it"
            " first (`aiwo deregister respec -n default`) and create it again"
        )


def test_a_replica_is_not_deregistered_behind_its_service(plane: LocalControlPlane) -> None:
    # Before: `aiwo deregister chat-0` said "deregistered", the replica was stopped without a
    # drain (its requests cut), and the service started chat-1 in its place at once.
    with served(plane, "guarded", "--replicas", "1"):
        wait_for(lambda: describe(plane, "guarded")["replica_list"], 30, "no replica created")
        refused = against(plane, "deregister", "guarded-0")
        assert refused.returncode == 1
        assert one_line(refused) == (
            "aiwo: workload default/guarded-0 is a replica of service default/guarded: scale the"
            " service (`aiwo scale guarded --replicas N`) or deregister it instead"
        )
        replicas = describe(plane, "guarded")["replica_list"]
        assert isinstance(replicas, list)
        assert [r["workload"] for r in replicas] == ["guarded-0"]


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, command in group.commands.items():
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths.extend(_command_paths(command, (*prefix, name)))
    return paths


def test_every_help_fits_80_columns_with_its_examples_whole() -> None:
    for path in [(), *_command_paths(cli)]:
        if path[:1] == ("bench",):
            continue  # aiwo-bench's own program (tests/bench)
        result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=80)
        assert result.exit_code == 0, (path, result.output)
        lines = result.output.splitlines()
        assert all(len(line) <= 80 for line in lines), (path, result.output)
        for line, after in zip(lines, [*lines[1:], ""], strict=True):
            # An example must paste as one command: it ends, or says it goes on ("\").
            if line.lstrip().startswith("aiwo ") and after.strip():
                assert line.endswith("\\"), (path, line, after)


def test_scale_changes_a_live_services_range_and_targets(plane: LocalControlPlane) -> None:
    with served(plane, "ranged", "--replicas", "0-2", "--ttft-ms", "2000"):
        changed = against(plane, "scale", "ranged", "--max", "3", "--tpot-ms", "80")
        assert changed.returncode == 0, changed.stderr
        assert changed.stdout == (
            "service default/ranged: replicas 0-3, desired 0; SLO targets TTFT 2000 ms,"
            " TPOT 80 ms\n"
        )
        # Refused in one line naming the field, and nothing changed.
        for args, message in (
            (["--min", "5"], "aiwo: min_replicas: must be at most max_replicas (3), got 5"),
            (["--max", "65"], "aiwo: max_replicas: must be between 1 and 64, got 65"),
            (["--ttft-ms", "-1"], "aiwo: ttft_ms: must be between 0 and 3600000, got -1"),
            (["--tpot-ms", "nan"], "aiwo: tpot_ms: must be a finite number, got nan"),
        ):
            refused = against(plane, "scale", "ranged", *args)
            assert refused.returncode == 1, args
            assert one_line(refused) == message
        shown = describe(plane, "ranged")
        assert (shown["min"], shown["max"]) == (0, 3)
        assert shown["slo"] == {"ttft_ms": 2000, "tpot_ms": 80, "p99_latency_ms": 0}
        mixed = against(plane, "scale", "ranged", "--replicas", "1", "--max", "2")
        assert mixed.returncode == 2 and "separate changes" in mixed.stderr
        neither = against(plane, "scale", "ranged")
        assert neither.returncode == 2 and "--min" in neither.stderr
        missing = against(plane, "scale", "nosuch", "--max", "2")
        assert missing.returncode == 1
        assert one_line(missing).startswith("aiwo: service default/nosuch")


def test_describe_of_a_service_created_again_shows_only_its_own_events(
    plane: LocalControlPlane,
) -> None:
    # Before: the old service's events (deleted, drained) and those of "reborn-2", whose name
    # begins with this one's, were listed as this service's.
    wait_for_node(plane)
    assert against(plane, "serve", "reborn", "--replicas", "0-1", *LLM_SERVER).returncode == 0
    assert against(plane, "serve", "reborn-2", "--replicas", "0-1", *LLM_SERVER).returncode == 0
    try:
        assert against(plane, "deregister", "reborn").returncode == 0
        wait_for(lambda: against(plane, "describe", "service", "reborn").returncode == 1, 60,
                 "not gone")  # fmt: skip
        assert against(plane, "serve", "reborn", "--replicas", "0-2", *LLM_SERVER).returncode == 0
        shown = against(plane, "describe", "service", "reborn")
        assert shown.returncode == 0, shown.stderr
        assert "replicas 0-2" in shown.stdout  # its service_created event
        for other in ("replicas 0-1", "service_deleted", "service_deleting", "reborn-2"):
            assert other not in shown.stdout, other
    finally:
        against(plane, "deregister", "reborn")
        against(plane, "deregister", "reborn-2")


@pytest.mark.parametrize(
    ("doc", "heading"),
    [("README.md", "## Services with replicas"), ("docs/serving.md", "## From the command line")],
)
def test_the_serving_examples_of_the_readme_and_serving_md_run_as_written(
    plane: LocalControlPlane, doc: str, heading: str
) -> None:
    # Each shows `aiwo scale --min/--max`; every aiwo line must succeed in order. The
    # module's plane has no gateway: the README's curl is left out here (e2e/test_serving
    # sends requests through a real one).
    wait_for_node(plane)
    commands = [c for c in documented_commands(doc, heading) if c[0] != "curl"]
    assert any(c[0] == "scale" and "--min" in c and "--max" in c for c in commands)
    assert commands[0][0] == "serve" and commands[-1][0] == "deregister"
    name = commands[0][1]
    try:
        for command in commands:
            result = against(plane, *command)
            assert result.returncode == 0, (command, result.stderr)
            if command[0] == "scale" and "--min" in command:
                shown = describe(plane, name)
                low, high = (int(command[command.index(f) + 1]) for f in ("--min", "--max"))
                assert (shown["min"], shown["max"]) == (low, high)
    finally:
        against(plane, "deregister", name)
    wait_for(lambda: against(plane, "describe", "service", name).returncode == 1, 60, "not gone")
