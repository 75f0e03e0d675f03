from pathlib import Path

import pytest

from controlplane.app.config import ConfigError, ControllerConfig, load_config


def test_layers_flags_over_env_over_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[controller]\nlisten = "0.0.0.0:1"\nnode_grace_s = 5\npolicy = "bestfit"\n')
    env = {"AIWO_CONTROLLER_NODE_GRACE_S": "7", "AIWO_CONTROLLER_ETCD_ENDPOINTS": "a:1, b:2"}
    config = load_config(path, environ=env, overrides={"listen": "127.0.0.1:9", "policy": None})
    assert config.listen == "127.0.0.1:9"
    assert config.node_grace_s == 7.0
    assert config.etcd_endpoints == ("a:1", "b:2")
    assert config.policy == "bestfit"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"listen": "nowhere"}, "listen"),
        ({"node_grace_s": "0"}, "node_grace_s"),
        ({"etcd_prefix": "aiwo"}, "etcd_prefix"),
        ({"log_format": "xml"}, "log_format"),
        ({"node_grace_s": "soon"}, "node_grace_s"),
    ],
)
def test_bad_values_name_the_setting(changes: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        load_config(environ={}, overrides=changes)


def test_unknown_keys_in_the_file_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[controller]\nlisten_adress = '1.2.3.4:5'\n")
    with pytest.raises(ConfigError, match="listen_adress"):
        load_config(path, environ={})


def test_defaults_are_valid() -> None:
    assert ControllerConfig().validate() == ControllerConfig()
