"""Bad input from the issue-11 list, each with the answer a user should get: refused in
one line naming what is wrong, nothing half-done. Real processes: the `aiwo` program, a
real controller (the module's `plane`), real `aiwo up` runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_cli import wait_for_node
from tests.helpers import run_module
from tests.sdk.processes import LocalControlPlane

AIWO = [sys.executable, "-m", "sdk.cli.main"]


def run(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return run_module("sdk.cli.main", *args, timeout_s=timeout_s)


def against(plane: LocalControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    return run("--controller", plane.address, *args)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr.strip()


def test_up_refuses_an_unknown_gpu_model_listing_the_accepted_ones(tmp_path: Path) -> None:
    result = run("up", "--state-dir", str(tmp_path / "s"), "--gpu-model", "NOPE")
    assert result.returncode == 2
    assert "unknown GPU model 'NOPE'; known models: H100, H200, A100-80GB" in result.stderr
    assert not (tmp_path / "s").exists()  # refused before anything was made


def test_up_on_an_unusable_state_dir_is_one_line() -> None:
    result = run("up", "--state-dir", "/proc/nope")
    assert result.returncode == 1
    assert one_line(result) == (
        "aiwo up: cannot use /proc/nope as the state directory: No such file or directory"
    )


def test_up_with_an_unknown_policy_says_so_in_one_line(tmp_path: Path) -> None:
    result = run("up", "--state-dir", str(tmp_path / "s"), "--nodes", "1", "--policy", "nosuch",
                 timeout_s=120)  # fmt: skip
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("aiwo up: controller exited with code 2: ")
    assert "policy: unknown 'nosuch' (known: " in last
    assert "Deprecat" not in result.stderr and "DSA" not in result.stderr
    assert "stopped" not in result.stderr


def test_nothing_imported_by_the_controller_warns_about_dsa() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c",
         "import controlplane.app.main, controlplane.auth.revocation"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_an_impossible_port_is_named_not_reported_as_refused() -> None:
    result = run("--controller", "127.0.0.1:99999", "nodes")
    assert result.returncode == 1
    assert one_line(result) == (
        "aiwo: controller address 127.0.0.1:99999: port 99999 is invalid (must be 1..65535)"
    )


def test_a_negative_deadline_is_refused_before_connecting() -> None:
    result = run("--controller", "127.0.0.1:1", "register", "x", "--deadline-s", "-10")
    assert result.returncode == 2
    assert "--deadline-s" in result.stderr and "-10" in result.stderr


def test_range_errors_print_integers_as_integers(plane: LocalControlPlane) -> None:
    result = against(plane, "register", "huge", "--gpus", "1", "--gpu-memory-mib", "999999999")
    assert result.returncode == 1
    assert one_line(result) == (
        "aiwo: spec.resources.gpu_memory_mib: must be between 0 and 16777216, got 999999999"
    )


def test_a_different_spec_points_at_aiwo_update_which_exists(plane: LocalControlPlane) -> None:
    wait_for_node(plane)
    assert against(plane, "register", "again", "--gpus", "1").returncode == 0
    clash = against(plane, "register", "again", "--gpus", "2")
    assert clash.returncode == 1
    assert "`aiwo update`" in one_line(clash)

    updated = against(plane, "update", "again", "--gpus", "2", "--p99-ms", "50", "-o", "json")
    assert updated.returncode == 0, updated.stderr
    workload = json.loads(updated.stdout)
    assert workload["spec"]["resources"]["gpus"] == 2
    assert workload["spec"]["slo"]["p99_latency_ms"] == 50
    bad = against(plane, "update", "again", "--gpus", "-1")
    assert bad.returncode == 2 and "--gpus" in bad.stderr


@pytest.mark.parametrize("flags", [[], ["--gpus", "0"]])
def test_cpu_only_work_is_allowed_and_shown_as_such(
    plane: LocalControlPlane, flags: list[str]
) -> None:
    wait_for_node(plane)
    name = f"cpu-only-{len(flags)}"
    result = against(plane, "register", name, *flags, "--wait")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"workload default/{name} placed on node-1 (CPU only)"


@pytest.mark.parametrize(
    "command",
    [["run", "job", "--env", "NOEQ"], ["serve", "chat", "--replicas", "1", "--env", "=v"]],
)
def test_a_malformed_env_is_refused_before_any_call(command: list[str]) -> None:
    # Port 1: nothing listens there, so an answer other than the usage error would mean a
    # connection was tried first.
    result = run("--controller", "127.0.0.1:1", *command, "--", "true")
    assert result.returncode == 2
    assert "': expected KEY=VALUE (see `aiwo " in one_line(result)


@pytest.mark.parametrize("listing", ["workloads", "migrations", "services"])
def test_a_listing_takes_a_namespace_or_all_not_both(listing: str) -> None:
    result = run("--controller", "127.0.0.1:1", listing, "-n", "team-a", "-A")
    assert result.returncode == 2
    assert one_line(result) == f"aiwo {listing}: use either -n or -A (see `aiwo {listing} --help`)"


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["top", "--interval", "nan"], "--interval"),
        (["top", "--interval", "0"], "--interval"),
        (["top", "--once", "--duration", "nan"], "--duration"),
        (["serve", "s", "--replicas", "1", "--timeout", "nan", "--", "true"], "--timeout"),
        (["run", "j", "--wait", "--timeout", "inf", "--", "true"], "--timeout"),
        (["migrate", "j", "--timeout", "nan"], "--timeout"),
        (["down", "--timeout", "nan"], "--timeout"),
    ],
)
def test_seconds_that_are_not_finite_are_refused_before_any_call(
    command: list[str], option: str
) -> None:
    # Before: `top --interval nan` (or <= 0) ended in a traceback from time.sleep, and a nan
    # --timeout made a --wait wait forever. Port 1: a usage error must come before any call.
    result = run("--controller", "127.0.0.1:1", *command)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"Invalid value for '{option}'" in result.stderr


def test_up_refuses_a_duration_that_is_not_a_number(tmp_path: Path) -> None:
    # Before: `aiwo up --duration nan` started every process and stopped them at once.
    result = run("up", "--state-dir", str(tmp_path / "s"), "--duration", "nan")
    assert result.returncode == 2
    assert "Invalid value for '--duration'" in result.stderr
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("args", "line"),
    [
        # No change asked for: said before connecting, so a stopped controller cannot hide it.
        (("scale", "chat"),
         "aiwo scale: give --replicas N or --auto, or what to change: --min, --max, --ttft-ms,"
         " --tpot-ms, --p99-ms (see `aiwo scale --help`)"),
        (("scale", "chat", "--replicas", "2", "--max", "3"),
         "aiwo scale: --replicas/--auto and --min/--max/--ttft-ms/--tpot-ms/--p99-ms are"
         " separate changes: run one `aiwo scale` for each (see `aiwo scale --help`)"),
        (("scale", "chat", "--max", "abc"),
         "aiwo scale: Invalid value for '--max': 'abc' is not a valid integer."
         " (see `aiwo scale --help`)"),
        # --help says 1..1000: 0 was taken as "no share" and the replica got no GPU.
        (("serve", "x", "--replicas", "1-3", "--milli-gpu", "0", "--", "python", "s.py"),
         "aiwo serve: Invalid value for '--milli-gpu': 0 is not in the range 1<=x<=1000."
         " (see `aiwo serve --help`)"),
        (("serve", "x", "--replicas", "1-3", "--env", "FOO", "--", "python", "s.py"),
         "aiwo serve: Invalid value for '--env': 'FOO': expected KEY=VALUE"
         " (see `aiwo serve --help`)"),
        (("serve", "x", "--replicas", "1-3"),
         "aiwo serve: Missing argument '-- COMMAND [ARGS]...'. (see `aiwo serve --help`)"),
    ],
)  # fmt: skip
def test_usage_errors_are_one_line_naming_the_option(args: tuple[str, ...], line: str) -> None:
    result = run("--controller", "127.0.0.1:1", *args)
    assert result.returncode == 2
    assert one_line(result) == line


def test_an_empty_listing_says_so_instead_of_a_bare_header(plane: LocalControlPlane) -> None:
    # At 80 columns the header row alone folded into "NAMESPA/CE  PRIORI/TY ...".
    for listing, noun in (("workloads", "workloads"), ("services", "services")):
        result = against(plane, listing, "-n", "nobody-here")
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"no {noun} in namespace nobody-here\n"
        as_json = against(plane, listing, "-n", "nobody-here", "-o", "json")
        assert json.loads(as_json.stdout) == []


@pytest.mark.parametrize("command", ["deregister", "explain"])
def test_a_name_that_is_neither_a_service_nor_a_workload_says_both(
    plane: LocalControlPlane, command: str
) -> None:
    # Both commands take either; "workload default/nosuch not found" read as if services
    # had not been looked at.
    result = against(plane, command, "nosuch")
    assert result.returncode == 1
    assert one_line(result) == "aiwo: service or workload default/nosuch not found"
