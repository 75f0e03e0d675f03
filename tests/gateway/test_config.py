"""Gateway settings: file < environment < flags, and one-line errors naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config


def test_layers(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[gateway]\nlisten = "0.0.0.0:9000"\nqueue_size = 5\nqueue_timeout_s = 2\n')
    config = load_config(
        path,
        environ={"AIWO_GATEWAY_QUEUE_SIZE": "7"},
        overrides={"queue_timeout_s": 4.5, "name": None},
    )
    assert config.listen == "0.0.0.0:9000"
    assert config.queue_size == 7 and config.queue_timeout_s == 4.5
    assert config.name  # the host name by default


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"listen": "8080"}, "listen: expected HOST:PORT"),
        ({"controller": "a:1,b"}, "controller: expected HOST:PORT"),
        ({"queue_size": -1}, "queue_size: must be"),
        ({"queue_timeout_s": 0}, "queue_timeout_s: must be a positive number"),
        ({"eject_s": float("nan")}, "eject_s: must be a positive number"),
        ({"max_body_bytes": 0}, "max_body_bytes: must be > 0"),
        ({"tls_cert": "/x.pem"}, "tls_cert, tls_key"),
        ({"queue_size": "many"}, "queue_size: cannot use 'many'"),
    ],
)
def test_bad_settings(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(environ={}, overrides=settings)


def test_unknown_key_in_file(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text("[gateway]\nlisten_port = 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'listen_port'"):
        load_config(path, environ={})
