"""TLS settings and their errors (issue 29): the scheduler's certificate files, ZooKeeper's TLS
flags, the clients' explanation of a refused handshake. The handshakes themselves are tested
against real servers in tests/integration/test_tls.py."""
from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from halyard.cli.client_tls import ClientTls, explain_dropped, explain_tls
from halyard.errors import ValidationError
from halyard.runtime.tls_server import ServerTls, TlsFileError, refusal_reason, reload_chain, server_context
from halyard.store.zk_tls import ZkTls


def self_signed(tmp_path: Path, name: str) -> tuple[str, str]:
    """A self-signed certificate and its key (openssl, as minimesos/up --tls makes them)."""
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", f"/CN={name}", "-days", "1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return str(cert), str(key)


def test_a_server_context_with_a_client_ca_requires_client_certificates(tmp_path):
    cert, key = self_signed(tmp_path, "server")
    assert server_context(ServerTls(cert, key)).verify_mode == ssl.CERT_NONE
    mtls = server_context(ServerTls(cert, key, client_ca=cert))
    assert mtls.verify_mode == ssl.CERT_REQUIRED and mtls.minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize("which, expected", [
    ("cert", "--tls-cert {missing}: No such file or directory"),
    ("key", "--tls-key {missing}: No such file or directory"),
    ("client_ca", "--tls-client-ca {missing}: No such file or directory"),
    ("mismatch", "the key does not belong to the certificate"),
    ("garbage", "not a PEM certificate and its key"),
])
def test_certificate_files_that_cannot_be_used_are_named(tmp_path, which, expected):
    cert, key = self_signed(tmp_path, "server")
    _, other_key = self_signed(tmp_path, "other")
    missing = str(tmp_path / "missing.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    settings = {"cert": ServerTls(missing, key), "key": ServerTls(cert, missing),
                "client_ca": ServerTls(cert, key, missing), "mismatch": ServerTls(cert, other_key),
                "garbage": ServerTls(str(garbage), key)}[which]
    with pytest.raises(TlsFileError) as err:
        server_context(settings)
    assert expected.format(missing=missing) in str(err.value)


def test_a_reload_with_a_bad_pair_keeps_the_certificate_in_force(tmp_path, caplog):
    cert, key = self_signed(tmp_path, "server")
    context = server_context(ServerTls(cert, key))
    assert reload_chain(context, ServerTls(cert, key))
    Path(key).write_text("gone\n")
    assert not reload_chain(context, ServerTls(cert, key))
    assert "not reloaded, the previous one stays in force" in caplog.text


@pytest.mark.parametrize("exc, expected", [
    (ssl.SSLError(1, "[SSL: HTTP_REQUEST] http request"), "plain HTTP sent to the HTTPS port"),
    (TimeoutError(), "no handshake within 10 s"),
    (ConnectionResetError("reset by peer"), "reset by peer"),
])
def test_refusal_reasons_are_words(exc, expected):
    if isinstance(exc, ssl.SSLError):
        exc.reason = "HTTP_REQUEST"
    assert refusal_reason(exc) == expected


def test_a_certificate_verification_failure_says_what_was_wrong():
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_message = "certificate has expired"
    assert refusal_reason(exc) == "client certificate refused: certificate has expired"


@pytest.mark.parametrize("ca, cert, key, problem", [
    (None, "c.pem", "c.key", "--zk-tls-ca: needed with --zk-tls-cert/--zk-tls-key"),
    ("{ca}", "{ca}", None, "--zk-tls-key: --zk-tls-cert and --zk-tls-key go together"),
    ("{ca}", None, "{ca}", "--zk-tls-cert: --zk-tls-cert and --zk-tls-key go together"),
    ("{missing}", None, None, "--zk-tls-ca: {missing}: No such file or directory"),
])
def test_zookeeper_tls_flags_are_checked(tmp_path, ca, cert, key, problem):
    path, missing = tmp_path / "ca.pem", str(tmp_path / "missing.pem")
    path.write_text("x")
    fill = {"ca": str(path), "missing": missing}
    with pytest.raises(ValidationError) as err:
        ZkTls.of(*[v.format(**fill) if v else None for v in (ca, cert, key)])
    assert str(err.value.problems[0]).startswith(problem.format(missing=missing))


def test_zookeeper_tls_gives_kazoo_a_verified_connection(tmp_path):
    path = tmp_path / "ca.pem"
    path.write_text("x")
    assert ZkTls.of(None, None, None) is None
    assert ZkTls.of(str(path), str(path), str(path)).kazoo_options() == {  # type: ignore[union-attr]
        "use_ssl": True, "verify_certs": True, "ca": str(path), "certfile": str(path), "keyfile": str(path)}


def test_a_client_names_the_certificate_that_failed():
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify.verify_message = "Hostname mismatch, certificate is not valid for 'example.org'."
    wrapped = requests.exceptions.SSLError(verify)
    said = explain_tls(wrapped, "https://example.org:8443", ClientTls(ca="/ca.pem"))
    assert "the server's certificate was refused: Hostname mismatch" in said and "/ca.pem" in said
    alert = ssl.SSLError(1, "alert")
    alert.reason = "TLSV1_ALERT_UNKNOWN_CA"
    said = explain_tls(requests.exceptions.SSLError(alert), "https://h:1", ClientTls(cert="/me.pem", key="/me.key"))
    assert "the server refused this client's certificate /me.pem" in said
    assert "requires a client certificate and none was given" in explain_dropped("https://h:1", ClientTls())
    assert explain_dropped("http://h:1", ClientTls()) is None


def test_a_scheduler_serves_plain_http_only_when_asked(tmp_path):
    from halyard.cli.main import cli, main

    result = CliRunner().invoke(cli, ["scheduler", "--master", "http://m:5050", "--zk", "zk://z:2181/h"])
    assert result.exit_code == 2 and "or --listen HOST:PORT to serve plain HTTP" in result.output
    result = CliRunner().invoke(cli, ["scheduler", "--master", "http://m:5050", "--zk", "zk://z:2181/h",
                                      "--tls-cert", "c.pem"])
    assert result.exit_code == 2 and "--tls-cert and --tls-key go together" in result.output
    missing = str(tmp_path / "missing.pem")
    assert main(["scheduler", "--master", "http://m:5050", "--zk", "zk://z:2181/h",
                 "--tls-cert", missing, "--tls-key", missing]) == 1
