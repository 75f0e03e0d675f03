"""Security settings of the controller and the agent are validated up front."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.app.config import ConfigError, load_config
from controlplane.app.server import Controller
from controlplane.etcd.store import StoreUnavailable
from nodeagent.config import ConfigError as AgentConfigError
from nodeagent.config import load_config as load_agent_config


def test_tls_settings_come_together() -> None:
    with pytest.raises(ConfigError, match=r"^tls_ca: TLS needs"):
        load_config(environ={}, overrides={"tls_cert": "c.pem", "tls_key": "k.pem"})
    with pytest.raises(ConfigError, match=r"^tls_key, tls_ca:"):
        load_config(environ={}, overrides={"tls_cert": "c.pem"})


def test_etcd_tls_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^etcd_cert, etcd_key: a client certificate needs"):
        load_config(environ={}, overrides={"etcd_ca": "ca.pem", "etcd_cert": "c.pem"})
    with pytest.raises(ConfigError, match=r"^etcd_ca: a client certificate for etcd needs TLS"):
        load_config(environ={}, overrides={"etcd_cert": "c.pem", "etcd_key": "k.pem"})
    config = load_config(environ={"AIWO_CONTROLLER_ETCD_CA": str(tmp_path / "missing.pem")})
    with pytest.raises(StoreUnavailable, match=r"etcd TLS file .*missing\.pem"):
        Controller(config)  # named before anything starts


def test_auth_mode_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"^auth: must be 'none' or 'token'"):
        load_config(environ={}, overrides={"auth": "basic"})


def test_the_defaults_are_plaintext_without_tokens() -> None:
    config = load_config(environ={})
    assert (config.tls_cert, config.auth) == ("", "none")


def test_security_settings_from_a_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "controller.toml"
    path.write_text(
        '[controller]\ntls_cert = "/etc/aiwo/tls/controller.pem"\n'
        'tls_key = "/etc/aiwo/tls/controller-key.pem"\ntls_ca = "/etc/aiwo/tls/ca.pem"\n'
        'auth = "token"\n'
    )
    config = load_config(path, environ={"AIWO_CONTROLLER_TOKENS_FILE": "/etc/aiwo/tokens.json"})
    assert config.tls_ca == "/etc/aiwo/tls/ca.pem" and config.auth == "token"
    assert config.tokens_file == "/etc/aiwo/tokens.json"


def test_an_agent_certificate_needs_its_key() -> None:
    with pytest.raises(AgentConfigError, match="tls_cert, tls_key"):
        load_agent_config(environ={}, overrides={"node": "n1", "tls_cert": "n1.pem"})


def test_the_shipped_configs_use_tls() -> None:
    root = Path(__file__).resolve().parents[2] / "deploy" / "config"
    controller = load_config(root / "controller.toml", environ={})
    assert controller.tls_cert and controller.tls_ca and controller.auth == "token"
    agent = load_agent_config(str(root / "agent.toml"), environ={})
    assert agent.tls_cert and agent.tls_key and agent.tls_ca


def test_the_units_hand_the_controller_key_over_privately() -> None:
    units = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
    controller = (units / "aiwo-controller.service").read_text()
    assert "LoadCredential=controller-key.pem:/etc/aiwo/tls/controller-key.pem" in controller
    assert "--tls-key %d/controller-key.pem" in controller
    assert "agent.toml" in (units / "aiwo-agent.service").read_text()
