"""The Mesos master over TLS (``--master https://...``, ``--mesos-tls-*``): the flags are checked
and name the one at fault; the master's URL says https. The connections themselves are tested
against a real master behind a TLS proxy (tests/integration/test_tls.py)."""
from __future__ import annotations

import subprocess

import pytest

from halyard.errors import ValidationError
from halyard.mesos.master import MesosMaster
from halyard.mesos.tls import MasterTls, master_url


def _ca(tmp_path) -> str:
    cert = tmp_path / "ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=test CA", "-days", "1", "-keyout", str(tmp_path / "ca.key"), "-out", str(cert)],
                   check=True, capture_output=True)
    return str(cert)


@pytest.mark.parametrize("master, ca, cert, key, problem", [
    ("http://m:5050", "{ca}", None, None, "--master: http://m:5050 is plain HTTP"),
    ("https://m:5050", "{ca}", "{ca}", None, "--mesos-tls-key: --mesos-tls-cert and --mesos-tls-key go together"),
    ("https://m:5050", "{ca}", None, "{ca}", "--mesos-tls-cert: --mesos-tls-cert and --mesos-tls-key go together"),
    ("m:5050", "{missing}", None, None, "--mesos-tls-ca: {missing}: No such file or directory"),
    ("m:5050", "{junk}", None, None, "--mesos-tls-ca: cannot be used"),
])
def test_master_tls_flags_are_checked(tmp_path, master, ca, cert, key, problem):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    fill = {"ca": _ca(tmp_path), "missing": str(tmp_path / "missing.pem"), "junk": str(junk)}
    with pytest.raises(ValidationError) as err:
        MasterTls.of(master, *[v.format(**fill) if v else None for v in (ca, cert, key)])
    assert str(err.value.problems[0]).startswith(problem.format(**fill))


def test_tls_is_on_for_an_https_master_or_a_ca(tmp_path):
    ca = _ca(tmp_path)
    assert MasterTls.of("m:5050", None, None, None) is None
    assert MasterTls.of("http://m:5050", None, None, None) is None
    assert MasterTls.of("https://m:5050", None, None, None) == MasterTls()
    tls = MasterTls.of("zk://z:2181/mesos", ca, None, None)
    assert tls == MasterTls(ca) and tls.requests_options() == {"verify": ca, "cert": None}
    assert MasterTls().requests_options()["verify"] is True  # the system's CAs
    context = tls.context()
    assert context.check_hostname and context.verify_mode.name == "CERT_REQUIRED"


def test_the_master_s_url_says_https_with_tls():
    assert master_url("m:5050", MasterTls()) == "https://m:5050"
    assert MesosMaster("m:5050", tls=MasterTls()).url() == "https://m:5050"
    assert MesosMaster("https://m:5050/", tls=MasterTls()).url() == "https://m:5050"
    assert MesosMaster("m:5050").url() == "http://m:5050"
    follow = MesosMaster("zk://z:2181/mesos", tls=MasterTls(), zookeeper_leader=lambda m, t: "http://10.0.0.1:5050")
    assert follow.url() == "https://10.0.0.1:5050"
