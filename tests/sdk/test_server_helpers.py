"""What the three server processes share from the SDK: layered settings (sdk._settings) and
stopping background tasks (sdk._tasks). The processes' own settings tests (tests/controlplane,
tests/nodeagent, tests/gateway test_config.py) check each one's fields and checks on top."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest

from sdk._settings import layered_settings
from sdk._tasks import cancel_and_wait


class Bad(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    name: str = "x"
    count: int = 1
    ratio: float = 0.5
    on: bool = False
    endpoints: tuple[str, ...] = ("a:1",)


def load(
    toml: str | None = None,
    tmp_path: Path | None = None,
    env: dict[str, str] | None = None,
    flags: dict[str, object] | None = None,
) -> Settings:
    path = None
    if toml is not None:
        assert tmp_path is not None
        path = tmp_path / "s.toml"
        path.write_text(toml)
    return layered_settings(Settings(), "svc", "APP_", path, env or {}, flags, Bad)


def test_flags_over_env_over_the_file_table(tmp_path: Path) -> None:
    toml = '[svc]\nname = "file"\ncount = 3\nratio = 2\nendpoints = ["b:2", " c:3 "]\n'
    env = {"APP_COUNT": "4", "APP_ON": "yes", "OTHER_NAME": "ignored"}
    settings = load(toml, tmp_path, env, {"name": "flag", "ratio": None})
    assert settings == Settings(name="flag", count=4, ratio=2.0, on=True, endpoints=("b:2", "c:3"))


def test_a_file_without_the_table_is_read_at_its_top_level(tmp_path: Path) -> None:
    assert load('name = "top"\n', tmp_path).name == "top"


def test_comma_separated_tuples_from_the_environment() -> None:
    assert load(env={"APP_ENDPOINTS": "a:1, b:2,,"}).endpoints == ("a:1", "b:2")


@pytest.mark.parametrize(
    ("env", "flags", "message"),
    [
        ({"APP_ON": "maybe"}, None, "on: cannot use 'maybe' (true or false)"),
        ({"APP_COUNT": "many"}, None, "count: cannot use 'many'"),
        (None, {"count": 2.5}, "count: expected an integer, got 2.5"),
        (None, {"colour": "red"}, "unknown setting 'colour'"),
    ],
)
def test_a_bad_setting_is_the_callers_error_naming_it(
    env: dict[str, str] | None, flags: dict[str, object] | None, message: str
) -> None:
    with pytest.raises(Bad) as raised:
        load(env=env, flags=flags)
    assert str(raised.value) == message


def test_the_file_unreadable_or_with_an_unknown_key(tmp_path: Path) -> None:
    with pytest.raises(Bad, match="unknown setting 'colour'"):
        load("[svc]\ncolour = 1\n", tmp_path)
    with pytest.raises(Bad, match=r"config file .*s\.toml"):
        load("[svc\n", tmp_path)


async def test_cancel_and_wait_ends_every_task_and_keeps_what_they_raised_out() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    async def failed() -> None:
        raise RuntimeError("ended badly")

    tasks = [asyncio.create_task(forever()), asyncio.create_task(failed())]
    await started.wait()
    await cancel_and_wait(tasks)
    assert all(task.done() for task in tasks)
    assert tasks[0].cancelled()
    assert isinstance(tasks[1].exception(), RuntimeError)
