"""``minimesos/up --tls`` without starting anything: the certificates (real openssl), ZooKeeper's
TLS configuration, the registry's, and what cluster.env says."""
from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

MINIMESOS = Path(__file__).resolve().parents[2] / "minimesos"
sys.path.insert(0, str(MINIMESOS))

import members  # noqa: E402
import registry_proc  # noqa: E402
import tls  # noqa: E402
from cluster import Cluster, Config, default_agents  # noqa: E402


def test_the_ca_signs_a_server_certificate_for_every_listener_and_a_client_certificate(tmp_path):
    files = tls.ensure(tmp_path)
    for key in (files.ca_key, files.server_key, files.client_key, files.zk_keystore):
        assert key.stat().st_mode & 0o777 == 0o600, key
    text = subprocess.run(["openssl", "x509", "-in", str(files.server_cert), "-noout", "-ext",
                           "subjectAltName,extendedKeyUsage"], capture_output=True, text=True, check=True).stdout
    assert "DNS:localhost" in text and "IP Address:127.0.0.1" in text and "IP Address:127.0.0.20" in text
    assert "TLS Web Server Authentication" in text and "TLS Web Client Authentication" in text
    context = ssl.create_default_context(cafile=str(files.ca))  # the chain loads and verifies
    context.load_cert_chain(str(files.client_cert), str(files.client_key))
    assert tls.ensure(tmp_path).ca.read_bytes() == files.ca.read_bytes()  # made once


def test_zookeeper_serves_tls_clients_with_certificates_beside_its_plain_port(tmp_path):
    server = members.zk_servers(2181, 1)[0]
    cfg = members.zoo_cfg(server, [server], tmp_path, members.zoo_tls_cfg(server, tmp_path / "ks.pem", tmp_path / "ca.pem"))
    lines = cfg.splitlines()
    assert "clientPort=2181" in lines and "secureClientPort=5181" in lines and "ssl.clientAuth=need" in lines
    assert "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory" in lines
    assert "ssl.keyStore.type=PEM" in lines and f"ssl.trustStore.location={tmp_path / 'ca.pem'}" in lines


def test_cluster_env_names_the_tls_port_the_ca_and_the_certificates(tmp_path):
    config = Config(run_dir=str(tmp_path), agents=default_agents(1, 5050, "cpus:1", []), tls=True)
    env = dict(line.split("=", 1) for line in config.env_lines())
    assert env["ZK_TLS"] == "zk://127.0.0.1:5181" and env["TLS_CA"] == str(tmp_path / "tls" / "ca.pem")
    assert env["TLS_CERT"].endswith("client.pem") and env["TLS_SERVER_KEY"].endswith("server.key")
    assert "ZK_TLS" not in "".join(Config(run_dir=str(tmp_path)).env_lines())
    assert ("127.0.0.1", 5181) in Cluster(config).planned_ports()
    agent_env = Cluster(config).agent(1).env
    assert agent_env["SSL_CERT_FILE"] == env["TLS_CA"] and "LIBPROCESS_SSL_ENABLED" not in agent_env


def test_the_registry_serves_https_with_the_server_certificate(tmp_path):
    text = registry_proc.config(tmp_path, "127.0.0.1:5000", tls.TlsFiles(tmp_path / "tls"))
    assert f"tls: {{certificate: {tmp_path / 'tls' / 'server.pem'}, key: {tmp_path / 'tls' / 'server.key'}}}" in text
