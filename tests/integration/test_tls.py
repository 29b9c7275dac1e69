"""TLS on every connection (issue 29), against real servers: a ``minimesos/up --tls`` cluster
(ZooKeeper's TLS port with client certificates, the local CA), schedulers serving HTTPS (and
requiring client certificates), ZooKeeper over TLS, marathon-python and the load balancer's
reader as clients, refused handshakes, a capture of the wire, and failover.

The cluster: the worktree's own when it runs with ``--tls`` (ZK_TLS in its cluster.env), else a
private one (1 agent, no Docker) on ports of its own.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import signal
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from marathon import MarathonClient
from marathon.models import MarathonApp

from .conftest import MINIMESOS, minimesos, private_cluster, read_env
from .harness import HALYARD, free_port, unique
from .v1client import until

UP, _RUN = private_cluster(("up", "--tls", "--no-docker", "--agents", "1", "--port", "15650", "--zk-port", "13181",
                            "--task-ports", "46000"), "/tmp/halyard-tls-run")
RUN = Path(_RUN)
ENV = {"MINIMESOS_RUN_DIR": str(RUN)}
TOKEN = "tls-token-8c1f0e2a9b7d4c66"
SECRET_VALUE = "env-value-5e2b90d7c4"


def _own_tls_cluster() -> dict[str, str] | None:
    env_file = MINIMESOS / ".run" / "cluster.env"
    if not env_file.exists() or "ZK_TLS=" not in env_file.read_text():
        return None
    if subprocess.run([str(MINIMESOS / "status")], capture_output=True).returncode != 0:
        return None
    return read_env(env_file)


@pytest.fixture(scope="module")
def tls_cluster() -> Iterator[dict[str, str]]:
    own = _own_tls_cluster()
    if own is not None:
        yield own
        return
    try:
        minimesos(*UP, env=ENV, timeout=600)
    except AssertionError:
        subprocess.run([str(MINIMESOS / "down")], env={**os.environ, **ENV}, capture_output=True, timeout=300)
        raise
    try:
        yield read_env(RUN / "cluster.env")
    finally:
        minimesos("down", env=ENV, timeout=300)


class Scheduler:
    """One ``halyard scheduler`` on the TLS cluster; HTTPS unless ``https`` is False."""

    def __init__(self, cluster: dict[str, str], chroot: str, log_dir: Path, *extra: str, https: bool = True,
                 zk_tls: bool = True, master: str | None = None):
        self.cluster, self.port, self.https = cluster, free_port(), https
        self.url = f"{'https' if https else 'http'}://127.0.0.1:{self.port}"
        self.log = log_dir / f"scheduler-{self.port}.log"
        zk = (["--zk", f"{cluster['ZK_TLS']}/{chroot}", "--zk-tls-ca", cluster["TLS_CA"],
               "--zk-tls-cert", cluster["TLS_CERT"], "--zk-tls-key", cluster["TLS_KEY"]]
              if zk_tls else ["--zk", f"{cluster['ZK']}/{chroot}"])
        tls = (["--tls-cert", cluster["TLS_SERVER_CERT"], "--tls-key", cluster["TLS_SERVER_KEY"],
                "--tls-ca", cluster["TLS_CA"]] if https else [])
        self.argv = [HALYARD, "scheduler", "--master", master or cluster["MESOS_MASTER"], *zk, *tls,
                     "--listen", f"127.0.0.1:{self.port}", "--name", chroot, "--zk-session-timeout", "4s", *extra]
        self.client_cert = (cluster["TLS_CERT"], cluster["TLS_KEY"]) if "--tls-client-ca" in extra else None
        self.proc: subprocess.Popen | None = None

    def get(self, path: str, **kw) -> requests.Response:
        kw.setdefault("verify", self.cluster["TLS_CA"])
        kw.setdefault("cert", self.client_cert)
        return requests.get(self.url + path, timeout=5, **kw)

    def start(self) -> Scheduler:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        until(lambda: self.get("/ping").ok, 30, what=f"scheduler {self.port}'s API")
        return self

    def leading(self) -> bool:
        try:
            return bool(self.get("/v1/stats").json()["leader"])
        except (requests.RequestException, ValueError):
            return False

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def schedulers(tmp_path) -> Iterator[list[Scheduler]]:
    """The schedulers a test starts, stopped (and their apps' tasks killed) after it."""
    started: list[Scheduler] = []
    yield started
    for s in started:
        if s.proc is not None and s.proc.poll() is None and s.leading():
            for app in s.get("/v2/apps").json().get("apps", []):
                requests.delete(f"{s.url}/v2/apps{app['id']}", params={"force": "true"}, timeout=10,
                                verify=s.cluster["TLS_CA"], cert=s.client_cert,
                                headers={"Authorization": f"Bearer {TOKEN}"})
            until(lambda s=s: not s.get("/v2/apps").json()["apps"], 30, what="apps removed")
    for s in started:
        s.stop()


def run(started: list[Scheduler], *args, **kw) -> Scheduler:
    s = Scheduler(*args, **kw)
    started.append(s)
    return s.start()


def sleeper(app_id: str, instances: int = 1) -> MarathonApp:
    return MarathonApp(id=app_id, cmd="sleep 600", cpus=0.05, mem=16, instances=instances,
                       env={"PASSWORD": SECRET_VALUE})


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def client_cert(cluster: dict[str, str], tmp: Path, name: str, days: int = 1, ca: tuple[str, str] | None = None
                ) -> tuple[str, str]:
    """A client certificate signed by the local CA (or by ``ca``), valid ``days`` (-1: expired)."""
    key, csr, cert = tmp / f"{name}.key", tmp / f"{name}.csr", tmp / f"{name}.pem"
    ca_cert, ca_key = ca or (cluster["TLS_CA"], str(Path(cluster["TLS_CA"]).with_name("ca.key")))
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={name}",
            "-keyout", str(key), "-out", str(csr))
    openssl("x509", "-req", "-in", str(csr), "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
            "-CAserial", str(tmp / "serial"), "-days", str(days), "-out", str(cert))
    return str(cert), str(key)


def other_ca(tmp: Path) -> tuple[str, str]:
    cert, key = tmp / "other-ca.pem", tmp / "other-ca.key"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=other CA",
            "-days", "1", "-keyout", str(key), "-out", str(cert))
    return str(cert), str(key)


def test_up_tls_makes_the_ca_and_certificates_and_zookeeper_requires_a_client_certificate(tls_cluster):
    from kazoo.client import KazooClient
    from kazoo.handlers.threading import KazooTimeoutError

    tls_dir = Path(tls_cluster["TLS_CA"]).parent
    for key in ("ca.key", "server.key", "client.key", "zk-server.pem"):
        assert (tls_dir / key).stat().st_mode & 0o777 == 0o600, key
    names = subprocess.run(["openssl", "x509", "-in", tls_cluster["TLS_SERVER_CERT"], "-noout", "-ext",
                            "subjectAltName"], capture_output=True, text=True, check=True).stdout
    assert "DNS:localhost" in names and "IP Address:127.0.0.1" in names and "IP Address:127.0.0.3" in names
    hosts = tls_cluster["ZK_TLS"].removeprefix("zk://")
    with_cert = KazooClient(hosts=hosts, use_ssl=True, verify_certs=True, ca=tls_cluster["TLS_CA"],
                            certfile=tls_cluster["TLS_CERT"], keyfile=tls_cluster["TLS_KEY"])
    with_cert.start(timeout=10)
    try:
        assert with_cert.exists("/") is not None
    finally:
        with_cert.stop()
        with_cert.close()
    without = KazooClient(hosts=hosts, use_ssl=True, verify_certs=True, ca=tls_cluster["TLS_CA"],
                          connection_retry={"max_tries": 1})
    with pytest.raises(KazooTimeoutError):
        without.start(timeout=4)
    without.stop()
    without.close()


def test_marathon_python_over_https_refusals_and_the_wire(tls_cluster, schedulers, tmp_path):
    tokens, audit = tmp_path / "tokens", tmp_path / "audit.log"
    tokens.write_text(f"{TOKEN} rw name=ci\n")
    chroot = unique("tls")
    s = run(schedulers, tls_cluster, chroot, tmp_path, "--tokens-file", str(tokens), "--audit-log", str(audit))
    until(s.leading, 30, what="leading")
    ca = tls_cluster["TLS_CA"]
    client = MarathonClient(s.url, auth_token=TOKEN, verify=ca)
    app_id = "/tls/" + unique("web")

    # Secrets on the wire: a capture of the API port during the POST holds neither the token nor the env value.
    capture = tmp_path / "api.pcap"
    dump = subprocess.Popen([shutil.which("tcpdump") or "tcpdump", "-i", "lo", "--immediate-mode", "-U", "-w",
                             str(capture), "tcp", "port", str(s.port)], stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([dump.stderr], [], [], 10)
        assert ready and "listening on lo" in dump.stderr.readline()  # type: ignore[union-attr]
        client.create_app(app_id, sleeper(app_id))
        # The exchange is in the file (-U: each packet written as it comes): the answer's bytes too.
        until(lambda: capture.stat().st_size > 2000, 10, what="the POST captured")
    finally:
        dump.send_signal(signal.SIGINT)
        dump.wait(10)
    wire = capture.read_bytes()
    assert len(wire) > 2000 and TOKEN.encode() not in wire and SECRET_VALUE.encode() not in wire

    until(lambda: client.get_app(app_id).tasks_running == 1, 60, what="1 task running")
    client.scale_app(app_id, instances=2)
    until(lambda: client.get_app(app_id).tasks_running == 2, 60, what="2 tasks running")

    # halyard lb's ServerSet reader, over ZooKeeper's TLS port with the client certificate.
    from halyard.store.election import ZkSession
    from halyard.store.serverset_watch import ServerSetWatcher
    from halyard.store.serversets import discovery_root
    from halyard.store.zk_tls import ZkTls
    session = ZkSession(f"{tls_cluster['ZK_TLS']}/{chroot}", credentials=None,
                        tls=ZkTls(ca, tls_cluster["TLS_CERT"], tls_cluster["TLS_KEY"]))
    assert session.start()
    members: dict[str, tuple] = {}
    try:
        ServerSetWatcher(session.client, discovery_root(session.root, "discovery"),
                         lambda app, found: members.__setitem__(app, found)).watch({app_id})
        until(lambda: len(members.get(app_id, ())) == 2, 30, what="2 members read over ZooKeeper's TLS port")
    finally:
        session.close()

    # Refused at the handshake: plain HTTP to the HTTPS port, a client that trusts another CA.
    lines_before = audit.read_text().count("\n")
    with pytest.raises(requests.ConnectionError):
        requests.post(f"http://127.0.0.1:{s.port}/v2/apps", json={"id": "/plain"}, timeout=5,
                      headers={"Authorization": f"Bearer {TOKEN}"})
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.post(s.url + "/v2/apps", json={"id": "/wrong-ca"}, timeout=5, verify=other_ca(tmp_path)[0],
                      headers={"Authorization": f"Bearer {TOKEN}"})
    cli = subprocess.run([HALYARD, "apps", "list", "--api", s.url, "--ca", other_ca(tmp_path)[0]],
                         capture_output=True, text=True, timeout=30)
    assert cli.returncode == 1 and "the server's certificate was refused: unable to get local issuer" in cli.stderr
    until(lambda: "refused: plain HTTP sent to the HTTPS port" in s.text(), 5, what="the plain client logged")
    until(lambda: "refused: the client does not trust this server's CA" in s.text(), 5, what="the wrong CA logged")
    assert "Traceback" not in s.text()
    assert audit.read_text().count("\n") == lines_before
    assert [a.id for a in client.list_apps()] == [app_id]

    # The dashboard over HTTPS: its page and scripts (whose requests are relative to it).
    page = s.get("/ui/")
    assert page.ok and "<html" in page.text.lower() and s.get("/ui/app.js").ok

    # halyard lb's reader of /v2/apps, over HTTPS.
    from halyard.cli.client_tls import ClientTls
    from halyard.lb.apps_feed import AppsFeed
    seen: list[list[dict]] = []
    AppsFeed(s.url, seen.append, tls=ClientTls(ca=ca).requests_options()).refresh()
    assert [a["id"] for a in seen[0]] == [app_id]

    client.delete_app(app_id, force=True)
    until(lambda: not client.list_apps(), 30, what="app deleted")
    assert [json.loads(line)["status"] for line in audit.read_text().splitlines()] == [201, 200, 200]


def test_mtls_with_and_without_a_client_certificate(tls_cluster, schedulers, tmp_path):
    audit = tmp_path / "audit.log"
    ca = tls_cluster["TLS_CA"]
    chroot = unique("mtls")
    s = run(schedulers, tls_cluster, chroot, tmp_path, "--tls-client-ca", ca, "--audit-log", str(audit))
    until(s.leading, 30, what="leading")
    session = requests.Session()
    session.cert = (tls_cluster["TLS_CERT"], tls_cluster["TLS_KEY"])
    client = MarathonClient(s.url, verify=ca, session=session)
    app_id = "/mtls/" + unique("web")
    client.create_app(app_id, sleeper(app_id))
    until(lambda: client.get_app(app_id).tasks_running == 1, 60, what="1 task running")
    client.scale_app(app_id, instances=2)
    until(lambda: client.get_app(app_id).tasks_running == 2, 60, what="2 tasks running")
    lines = audit.read_text().count("\n")

    expired = client_cert(tls_cluster, tmp_path, "expired", days=-1)
    foreign = client_cert(tls_cluster, tmp_path, "foreign", ca=other_ca(tmp_path))
    for cert, said in ((None, "no client certificate (one is required)"),
                       (expired, "client certificate refused: certificate has expired"),
                       (foreign, "client certificate refused: unable to get local issuer certificate")):
        with pytest.raises(requests.ConnectionError):
            requests.post(s.url + "/v2/apps", json={"id": "/refused", "cmd": "sleep 1"}, timeout=5, verify=ca,
                          cert=cert)
        until(lambda said=said: said in s.text(), 5, what=f"the scheduler logging {said!r}")
    bare = subprocess.run([HALYARD, "apps", "list", "--api", s.url, "--ca", ca], capture_output=True, text=True,
                          timeout=30, env={k: v for k, v in os.environ.items() if not k.startswith("HALYARD_")})
    assert bare.returncode == 1 and "requires a client certificate and none was given" in bare.stderr
    assert audit.read_text().count("\n") == lines and "Traceback" not in s.text()
    assert [a.id for a in client.list_apps()] == [app_id]
    # A standby forwards to a leader that requires client certificates: it presents its own.
    standby = run(schedulers, tls_cluster, chroot, tmp_path, "--tls-client-ca", ca)
    until(lambda: standby.get("/v2/leader").ok, 30, what="the standby knows the leader")
    scaled = requests.put(f"{standby.url}/v2/apps{app_id}", json={"instances": 1}, params={"force": "true"},
                          timeout=30, verify=ca, cert=(tls_cluster["TLS_CERT"], tls_cluster["TLS_KEY"]))
    assert scaled.status_code == 200, scaled.text
    until(lambda: client.get_app(app_id).instances == 1, 30, what="scaled down through the standby")
    client.delete_app(app_id, force=True)
    until(lambda: not client.list_apps(), 30, what="app deleted")


def _failover_seconds(cluster: dict[str, str], schedulers: list[Scheduler], tmp_path: Path, zk_tls: bool) -> float:
    """Two schedulers on one chroot, one app; the leader is killed (SIGKILL): the seconds until the
    standby leads with the app's task adopted. A write through the standby reaches the leader."""
    chroot = unique("failover-tls" if zk_tls else "failover-plain")
    first = run(schedulers, cluster, chroot, tmp_path, zk_tls=zk_tls)
    until(first.leading, 30, what="first leads")
    second = run(schedulers, cluster, chroot, tmp_path, zk_tls=zk_tls)
    until(lambda: second.get("/v2/leader").ok, 30, what="the standby knows the leader")
    app_id = "/failover/" + unique("app")
    # Written through the standby: forwarded to the leader over HTTPS, verified against the CA.
    resp = requests.post(second.url + "/v2/apps", json={"id": app_id, "cmd": "sleep 600", "cpus": 0.05, "mem": 16},
                         timeout=30, verify=cluster["TLS_CA"])
    assert resp.status_code == 201, resp.text
    until(lambda: first.get(f"/v2/apps{app_id}").json()["app"]["tasksRunning"] == 1, 60, what="task running")
    task = first.get(f"/v2/apps{app_id}/tasks").json()["tasks"][0]["id"]
    t0 = time.monotonic()
    first.stop(signal.SIGKILL)
    until(lambda: second.leading() and [t["id"] for t in second.get(f"/v2/apps{app_id}/tasks").json()["tasks"]]
          == [task], 60, interval=0.1, what="the standby leads with the task adopted")
    return time.monotonic() - t0


def test_failover_with_zookeeper_over_tls_vs_plain(tls_cluster, schedulers, tmp_path):
    over_tls = _failover_seconds(tls_cluster, schedulers, tmp_path, zk_tls=True)
    plain = _failover_seconds(tls_cluster, schedulers, tmp_path, zk_tls=False)
    print(f"failover (SIGKILL to leading with the task adopted): ZooKeeper over TLS {over_tls:.2f} s, "
          f"plain {plain:.2f} s")
    assert over_tls < 30 and plain < 30


def test_api_latency_over_https_vs_http(tls_cluster, schedulers, tmp_path):
    """GET /v2/apps over HTTPS (a kept-alive connection, and one per request) vs plain HTTP, same run."""
    https = run(schedulers, tls_cluster, unique("lat-tls"), tmp_path)
    plain = run(schedulers, tls_cluster, unique("lat-plain"), tmp_path, https=False)
    until(lambda: https.leading() and plain.leading(), 30, what="both lead")

    def timed(s: Scheduler, keep_alive: bool, n: int = 50) -> float:
        session = requests.Session()
        t0 = time.monotonic()
        for _ in range(n):
            if keep_alive:
                assert session.get(s.url + "/v2/apps", timeout=5, verify=tls_cluster["TLS_CA"]).ok
            else:
                assert requests.get(s.url + "/v2/apps", timeout=5, verify=tls_cluster["TLS_CA"]).ok
        return (time.monotonic() - t0) / n * 1000

    figures = {f"{name} {'keep-alive' if keep else 'new connection'}": timed(s, keep)
               for name, s in (("https", https), ("http", plain)) for keep in (True, False)}
    print("GET /v2/apps, ms per request: " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()))
    assert figures["https keep-alive"] < 100


def test_a_job_runs_on_halyard_s_executor_fetched_over_https(tls_cluster, schedulers, tmp_path):
    """The agent fetches Halyard's executor from the scheduler's HTTPS-only API (its URI is
    https://, and nothing there answers plain HTTP), verifying it against the CA minimesos gives
    the agents (SSL_CERT_FILE); the run's output comes back through it."""
    s = run(schedulers, tls_cluster, unique("tls-job"), tmp_path)
    until(s.leading, 30, what="the scheduler leads")
    post = lambda path, body=None: requests.post(s.url + path, json=body, timeout=30,  # noqa: E731
                                                 verify=tls_cluster["TLS_CA"])
    assert post("/v1/jobs", {"id": "tls.report", "cmd": "echo fetched-over-tls", "cpus": 0.05,
                             "mem": 16}).status_code in (200, 201)
    started = post("/v1/jobs/tls.report/runs")
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]

    def halyard_run() -> dict:
        return s.get(f"/v1/jobs/tls.report/runs/{run_id}", params={"embed": "halyard"}).json()["halyard"]
    ended = until(lambda: (r := halyard_run())["status"] in ("FINISHED", "FAILED", "KILLED") and r, 120,
                  what="the run ended")
    assert ended["status"] == "FINISHED" and ended["exitCode"] == 0, ended
    fetched = [line for line in fetcher_lines(tls_cluster, "job.tls.report.") if line.startswith("mesos-fetcher: fetching ")]
    assert fetched and all(f" https://127.0.0.1:{s.port}/v1/executor/" in line for line in fetched), fetched
    output = s.get(f"/v1/jobs/tls.report/runs/{run_id}/stdout")
    assert output.status_code == 200 and "fetched-over-tls" in output.text, output.text


def fetcher_lines(cluster: dict[str, str], executor_part: str) -> list[str]:
    """The Mesos fetcher's lines in the sandbox ``stderr`` of agent 1's executors whose id holds
    ``executor_part`` (what it fetched, and from where)."""
    agent = cluster["MESOS_AGENT1"]
    state = requests.get(agent + "/state", timeout=10).json()
    lines: list[str] = []
    for framework in state.get("frameworks", []) + state.get("completed_frameworks", []):
        for executor in framework.get("executors", []) + framework.get("completed_executors", []):
            if executor_part not in executor["id"]:
                continue
            got = requests.get(agent + "/files/download", params={"path": executor["directory"] + "/stderr"},
                               timeout=10)
            lines += got.text.splitlines() if got.ok else []
    return lines


def server_cert(cluster: dict[str, str], tmp: Path, name: str, san: str) -> tuple[str, str]:
    """A server certificate from the local CA whose only name is ``san``."""
    key, csr, cert, ext = tmp / f"{name}.key", tmp / f"{name}.csr", tmp / f"{name}.pem", tmp / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\nextendedKeyUsage=serverAuth,clientAuth\n")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={name}",
            "-keyout", str(key), "-out", str(csr))
    openssl("x509", "-req", "-in", str(csr), "-CA", cluster["TLS_CA"], "-CAkey",
            str(Path(cluster["TLS_CA"]).with_name("ca.key")), "-CAcreateserial", "-CAserial", str(tmp / "serial"),
            "-days", "1", "-extfile", str(ext), "-out", str(cert))
    return str(cert), str(key)


def test_sighup_rereads_the_certificate_and_a_certificate_for_another_name_is_refused(tls_cluster, schedulers,
                                                                                        tmp_path):
    cert, key = tmp_path / "api.pem", tmp_path / "api.key"
    first = server_cert(tls_cluster, tmp_path, "first", "IP:127.0.0.1")
    other = server_cert(tls_cluster, tmp_path, "other", "DNS:other.example")
    shutil.copy(first[0], cert)
    shutil.copy(first[1], key)
    s = Scheduler(tls_cluster, unique("hup"), tmp_path)
    s.argv[s.argv.index("--tls-cert") + 1], s.argv[s.argv.index("--tls-key") + 1] = str(cert), str(key)
    schedulers.append(s.start())

    def served_subject() -> str:
        pem = ssl.get_server_certificate(("127.0.0.1", s.port))
        return subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem, capture_output=True, text=True,
                              check=True).stdout
    assert "CN = first" in served_subject()
    shutil.copy(other[0], cert)
    shutil.copy(other[1], key)
    os.kill(s.proc.pid, signal.SIGHUP)  # type: ignore[union-attr]
    until(lambda: "CN = other" in served_subject(), 10, what="the new certificate served")
    # The new certificate names another host: a client that verifies it refuses the connection.
    cli = subprocess.run([HALYARD, "apps", "list", "--api", s.url, "--ca", tls_cluster["TLS_CA"]],
                         capture_output=True, text=True, timeout=30)
    assert cli.returncode == 1 and "the server's certificate was refused: IP address mismatch" in cli.stderr, cli.stderr
    # A pair that cannot be used keeps the one in force.
    key.write_text("not a key\n")
    os.kill(s.proc.pid, signal.SIGHUP)  # type: ignore[union-attr]
    until(lambda: "TLS certificate not reloaded, the previous one stays in force" in s.text(), 10, what="logged")
    assert "CN = other" in served_subject() and s.proc.poll() is None  # type: ignore[union-attr]


def test_halyard_lb_reads_apps_over_https_and_serversets_over_zookeeper_tls(tls_cluster, schedulers, tmp_path):
    """``halyard lb --ca/--cert/--key --zk-tls-*`` against a scheduler that requires client
    certificates and keeps its state and ServerSets on ZooKeeper's TLS port: a real HAProxy routes
    to the app (marathon-lb's labels), its backend exactly the app's healthy tasks. An LB that
    trusts another CA says which certificate failed and why, and serves nothing."""
    from .lb_harness import LbProc, wait_served
    from .test_lb import CHECK, healthy_endpoints

    ca, cert, key = tls_cluster["TLS_CA"], tls_cluster["TLS_CERT"], tls_cluster["TLS_KEY"]
    chroot = unique("tls-lb")
    s = run(schedulers, tls_cluster, chroot, tmp_path, "--tls-client-ca", ca)
    until(s.leading, 30, what="leading")
    app_id, front = "/" + unique("tlsweb"), free_port()
    backend = f"{app_id.strip('/')}_{front}"
    created = requests.post(s.url + "/v2/apps", timeout=30, verify=ca, cert=s.client_cert, json={
        "id": app_id, "cmd": "exec python3 -m http.server $PORT0", "cpus": 0.05, "mem": 32, "instances": 2,
        "healthChecks": [CHECK], "labels": {"HAPROXY_GROUP": "external", "HAPROXY_0_PORT": str(front)}})
    assert created.status_code == 201, created.text

    def tasks() -> dict[str, str]:
        return healthy_endpoints(s.url, app_id, verify=ca, cert=s.client_cert)

    endpoints = until(lambda: (lambda e: e if len(e) == 2 else None)(tasks()), 90, what="2 healthy tasks")
    zk = ["--zk", f"{tls_cluster['ZK_TLS']}/{chroot}", "--zk-tls-ca", ca, "--zk-tls-cert", cert, "--zk-tls-key", key]
    # No HALYARD_CA/CERT/KEY from the environment: the flags alone say what is trusted.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALYARD_")}
    lb = LbProc(s.url, zk[1], tmp_path / "lb", *zk[2:], "--ca", ca, "--cert", cert, "--key", key)
    wrong = LbProc(s.url, zk[1], tmp_path / "lb-wrong-ca", *zk[2:], "--ca", other_ca(tmp_path)[0], "--cert", cert,
                   "--key", key)
    try:
        lb.start(env=env)
        wait_served(lb, backend, set(endpoints), timeout=60)
        config = (tmp_path / "lb" / "haproxy.cfg").read_text()
        assert f"frontend {backend}" in config and f"bind 127.0.0.1:{front}" in config
        served = {requests.get(f"http://127.0.0.1:{front}/", timeout=5).status_code for _ in range(10)}
        assert served == {200}

        # Scaled to 3: the API's event over HTTPS, the new member over ZooKeeper's TLS port.
        scaled = requests.put(f"{s.url}/v2/apps{app_id}", json={"instances": 3}, timeout=30, verify=ca,
                              cert=s.client_cert)
        assert scaled.status_code == 200, scaled.text
        three = until(lambda: (lambda e: e if len(e) == 3 else None)(tasks()), 90, what="3 healthy tasks")
        wait_served(lb, backend, set(three), timeout=60)

        wrong.start(env=env)
        until(lambda: "the server's certificate was refused: self-signed certificate in certificate chain "
                      f"(verified against the CA in {wrong.argv[wrong.argv.index('--ca') + 1]}" in wrong.log.read_text(),
              30, what="the LB that trusts another CA saying which certificate failed and why")
        assert not (tmp_path / "lb-wrong-ca" / "haproxy.cfg").exists()
        assert "Traceback" not in wrong.log.read_text() + lb.log.read_text()
        until(lambda: "refused: the client does not trust this server's CA" in s.text(), 10,
              what="the scheduler naming the refused handshake")
    finally:
        wrong.stop()
        lb.stop()
    assert lb.proc is not None and lb.proc.returncode == 0, lb.log.read_text()[-2000:]


#: where the TLS-terminating HAProxy in front of the master listens
MASTER_PROXY_PORT = int(os.environ.get("HALYARD_TEST_MASTER_PROXY_PORT", "26280"))


def _tls_accepts(port: int, ca: str) -> bool:
    import socket
    context = ssl.create_default_context(cafile=ca)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1"):
                return True
    except OSError:
        return False


@pytest.fixture
def master_over_tls(tls_cluster, tmp_path) -> Iterator[str]:
    """A real HAProxy terminating TLS (the cluster's server certificate) on 127.0.0.1 in front of
    the real, plain master (the PyPI libmesos cannot serve SSL here: docs/security.md); stopped by
    PID. Yields ``https://127.0.0.1:PORT``."""
    master = tls_cluster["MESOS_MASTER"].removeprefix("http://").rstrip("/")
    pem = tmp_path / "proxy.pem"
    pem.write_text(Path(tls_cluster["TLS_SERVER_CERT"]).read_text() + Path(tls_cluster["TLS_SERVER_KEY"]).read_text())
    pem.chmod(0o600)
    config = tmp_path / "haproxy.cfg"
    config.write_text(f"""global
    maxconn 256
defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s
frontend mesos_tls
    bind 127.0.0.1:{MASTER_PROXY_PORT} ssl crt {pem}
    default_backend mesos_master
backend mesos_master
    server master {master}
""")
    with open(tmp_path / "haproxy.log", "ab") as out:
        proxy = subprocess.Popen(["/usr/sbin/haproxy", "-db", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    try:
        until(lambda: proxy.poll() is None and _tls_accepts(MASTER_PROXY_PORT, tls_cluster["TLS_CA"]), 15,
              what="HAProxy serving TLS in front of the master")
        yield f"https://127.0.0.1:{MASTER_PROXY_PORT}"
    finally:
        proxy.terminate()
        try:
            proxy.wait(10)
        except subprocess.TimeoutExpired:
            proxy.kill()
            proxy.wait(10)


def test_the_master_over_tls_through_the_adapter(tls_cluster, master_over_tls, schedulers, tmp_path):
    """Every connection the scheduler makes to the master is TLS, verified against the CA: the
    proxy answers nothing else. It subscribes (pymesos' stream, wrapped by the adapter), launches
    and kills a task (calls), and names the https:// master in /v2/info; one given another CA
    never subscribes, and its log names the certificate problem at each retry, with no traceback."""
    ca = tls_cluster["TLS_CA"]
    with pytest.raises(requests.ConnectionError):  # plain HTTP on the proxy's TLS port never reaches the master
        requests.get(master_over_tls.replace("https://", "http://") + "/version", timeout=5)
    s = run(schedulers, tls_cluster, unique("tls-master"), tmp_path, "--mesos-tls-ca", ca, master=master_over_tls)
    until(s.leading, 30, what="leading")
    info = until(lambda: (i := s.get("/v2/info").json()["marathon_config"])["mesos_leader_ui_url"] and i, 60,
                 what="subscribed to the master through TLS")
    assert info["master"] == master_over_tls
    assert info["mesos_leader_ui_url"].startswith("https://"), info
    app_id = "/tls/" + unique("behind-tls")
    post = requests.post(s.url + "/v2/apps", json={"id": app_id, "cmd": "sleep 600", "cpus": 0.05, "mem": 16,
                                                   "instances": 1}, timeout=10, verify=ca)
    assert post.status_code == 201, post.text
    until(lambda: s.get(f"/v2/apps{app_id}").json()["app"]["tasksRunning"] == 1, 60, what="1 task running")
    framework_id = s.get("/v2/info").json()["frameworkId"]

    def tasks_at_master() -> int:
        state = requests.get(f"{tls_cluster['MESOS_MASTER']}/master/frameworks", timeout=5).json()
        return sum(len(f["tasks"]) for f in state["frameworks"] if f["id"] == framework_id)
    assert tasks_at_master() == 1
    deleted = requests.delete(f"{s.url}/v2/apps{app_id}", params={"force": "true"}, timeout=10, verify=ca)
    assert deleted.status_code == 200, deleted.text
    until(lambda: tasks_at_master() == 0, 60, what="the task killed (a call through the TLS proxy)")
    assert "Traceback" not in s.text()

    wrong_ca, _ = other_ca(tmp_path)
    w = run(schedulers, tls_cluster, unique("tls-wrong-ca"), tmp_path, "--mesos-tls-ca", wrong_ca,
            master=master_over_tls)
    until(w.leading, 30, what="leading")

    def refused() -> list[str]:
        return [line for line in w.text().splitlines()
                if "ERROR halyard.mesos.driver: TLS handshake with master" in line]
    lines = until(lambda: len(refused()) >= 2 and refused(), 60, what="two refused handshakes in the log (a retry)")
    assert f"127.0.0.1:{MASTER_PROXY_PORT}" in lines[0] and "certificate was refused" in lines[0], lines[0]
    assert "unable to get local issuer certificate" in lines[0], lines[0]
    assert w.get("/v2/info").json()["marathon_config"]["mesos_leader_ui_url"] is None
    assert "Traceback" not in w.text(), w.text()[-3000:]
