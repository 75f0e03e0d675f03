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


def _cluster_with_gateway_cert(state: Path) -> Path:
    """A cluster.json as `aiwo up --secure` writes it, with a real gateway certificate."""
    import json

    from sdk._pki import init_pki

    pki = init_pki(state / "certs", gateways=["gateway"])
    cert, key = pki.gateway_certs["gateway"]
    credentials = {
        "ca": str(pki.ca_cert), "cert": str(pki.client_cert), "key": str(pki.client_key),
        "server_name": "localhost", "token_file": str(state / "admin.token"),
        "gateway_cert": str(cert), "gateway_key": str(key),
    }  # fmt: skip
    cluster = {"controller": "127.0.0.1:7171", "credentials": credentials}
    (state / "cluster.json").write_text(json.dumps(cluster))
    return cert


def test_the_gateway_certificate_names_the_gateway(tmp_path: Path) -> None:
    cert = _cluster_with_gateway_cert(tmp_path)
    config = load_config(environ={}, overrides={"tls_cert": str(cert), "tls_key": str(cert)})
    assert config.name == "gateway"  # from aiwo://gateway/gateway, not the host name
    named = load_config(
        environ={}, overrides={"tls_cert": str(cert), "tls_key": str(cert), "name": "gw-9"}
    )
    assert named.name == "gw-9"  # an explicit name stays (the controller then refuses it)


def test_next_to_a_secured_local_cluster_it_takes_the_gateway_certificate(
    tmp_path: Path,
) -> None:
    cert = _cluster_with_gateway_cert(tmp_path)
    env = {"AIWO_STATE_DIR": str(tmp_path)}
    config = load_config(environ=env, overrides={"controller": "127.0.0.1:7171"})
    # Its own certificate and the cluster's CA: never the CLI's certificate (nor its token).
    assert (config.tls_cert, config.tls_ca) == (str(cert), str(tmp_path / "certs" / "ca.pem"))
    assert config.tls_key.endswith("gateways/gateway-key.pem") and config.name == "gateway"
    assert load_config(environ=env).tls_cert == str(cert)  # the recorded controller
    # Another controller, or credentials the operator set in the environment: left alone.
    assert load_config(environ=env, overrides={"controller": "10.0.0.1:7070"}).tls_cert == ""
    explicit = {**env, "AIWO_TLS_CERT": "/etc/aiwo/mine.pem"}
    assert load_config(environ=explicit).tls_cert == ""
