"""vagrant/provision.sh on a fresh Debian 12: it installs Mesos, and a master and an agent from it register.

The VMs' provisioning (the Vagrantfile runs vagrant/provision.sh, which runs minimesos/provision.py)
runs here in a Debian 12 root filesystem made by debootstrap (tests/provision/debian_root.py),
once as the master (198.18.0.10) and once as an agent (198.18.0.11). Then the services it wrote
run from that root, each "machine" in its own network namespace, the two joined by a veth pair:
ZooKeeper, the Mesos master and the announcer in one, dockerd and the Mesos agent in the other.
The agent must register with the master, with the attributes and fault domain it was given, and
the master must be announced at zk://198.18.0.10:2181/mesos.

Systemd does not run in the root: the provisioning says so and names the start scripts, which the
test runs as the units would (dockerd with flags for a namespace without a bridge, in place of
Debian's docker.service). Warm reruns reuse the rootfs tarball, the downloaded .debs and the built
libmesos and launcher (``$XDG_CACHE_HOME/halyard/provision/``). Needs root, debootstrap, ip and the
Debian mirror; `make test-provision` runs it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .debian_root import DebianRoot, Network, cache_dir, rootfs_tarball, wait_until

ROOT = Path(__file__).resolve().parents[2]
MASTER_IP, AGENT_IP = "198.18.0.10", "198.18.0.11"
PREFIX = "/opt/halyard-mesos"



def require_root_and_tools() -> None:
    """Skipped without root, debootstrap or ip on a developer's machine; a failure in CI."""
    missing = [what for what, ok in (("root", os.geteuid() == 0), ("debootstrap", shutil.which("debootstrap")),
                                     ("ip (iproute2)", shutil.which("ip"))) if not ok]
    if missing:
        why = f"needs {', '.join(missing)} (`make test-provision` installs the tools; run it as root)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def mesos_artifact() -> Path:
    """minimesos' cached mesos.scheduler tarball (fetched now if missing), handed to the root."""
    sys.path.insert(0, str(ROOT / "minimesos"))
    try:
        import install
    finally:
        sys.path.pop(0)
    cache = install.cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    return install.artifact(cache)


@pytest.fixture
def machines(tmp_path):
    """A fresh Debian 12 root and a network of two namespaces (master, agent) joined by a veth pair."""
    require_root_and_tools()
    t0 = time.monotonic()
    tarball = rootfs_tarball(log)
    log(f"rootfs tarball ready ({time.monotonic() - t0:.0f}s)")
    root = DebianRoot(tarball, tmp_path)
    net = Network()
    try:
        master_ns, agent_ns = net.add("master"), net.add("agent")
        net.link(master_ns, f"{MASTER_IP}/24", agent_ns, f"{AGENT_IP}/24")
        yield root, net, master_ns, agent_ns
    finally:
        left = root.close(net)
        assert not left, f"left behind: {left}"


def provision(root: DebianRoot, *args: str) -> subprocess.CompletedProcess:
    cache = cache_dir()
    archives, built = cache / "apt-archives", cache / "minimesos"
    (archives / "partial").mkdir(parents=True, exist_ok=True)
    built.mkdir(parents=True, exist_ok=True)
    binds = [(ROOT, "/halyard", False),                          # the repository, as the Vagrantfile syncs it
             (archives, "/var/cache/apt/archives", True),        # .debs downloaded once
             (built, "/root/.cache/halyard/minimesos", True)]    # libmesos and the launcher, built once
    t0 = time.monotonic()
    done = root.run(["/halyard/vagrant/provision.sh", *args], binds=binds, timeout=1200,
                    env={"MESOS_SCHEDULER_TGZ": "/root/mesos.scheduler.tgz"})
    log(f"provision.sh {args[0]}: exit {done.returncode} in {time.monotonic() - t0:.0f}s")
    assert done.returncode == 0, f"provision.sh {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


def http_json(root: DebianRoot, netns: str, url: str) -> Any:
    """GET ``url`` from inside a namespace (the root's curl), parsed; None when it does not answer."""
    done = root.run(["curl", "-sf", "--max-time", "3", url], netns=netns, timeout=30)
    return json.loads(done.stdout) if done.returncode == 0 and done.stdout else None


def test_provisioned_master_and_agent_start_and_register(machines):
    root, net, master_ns, agent_ns = machines
    shutil.copyfile(mesos_artifact(), root.path / "root" / "mesos.scheduler.tgz")

    master = provision(root, "master", "--ip", MASTER_IP, "--region", "test", "--zone", "zone-a")
    assert "systemd is not running here" in master.stdout
    for name in ("zookeeper", "mesos-master", "mesos-announcer"):
        assert f"{PREFIX}/bin/halyard-{name}" in master.stdout
        unit = (root.path / "etc/systemd/system" / f"halyard-{name}.service").read_text()
        assert f"ExecStart={PREFIX}/bin/halyard-{name}" in unit
    provision(root, "agent", "--ip", AGENT_IP, "--master", f"{MASTER_IP}:5050", "--region", "test", "--zone", "zone-b",
              "--attributes", "rack_id:rack-1;zone:zone-b", "--resources", "cpus:1;mem:512;disk:1024;ports:[31000-31099]")
    assert "ExecStart=" in (root.path / "etc/systemd/system/halyard-mesos-agent.service").read_text()

    # The master's machine: what its units start, in their order.
    zk = root.start("zookeeper", [f"{PREFIX}/bin/halyard-zookeeper"], netns=master_ns)
    mesos_master = root.start("master", [f"{PREFIX}/bin/halyard-mesos-master"], netns=master_ns)
    root.start("announcer", [f"{PREFIX}/bin/halyard-mesos-announcer"], netns=master_ns)

    def master_state():
        assert mesos_master.poll() is None, f"the master exited ({mesos_master.returncode}):\n{root.log('master')}"
        return http_json(root, master_ns, f"http://{MASTER_IP}:5050/master/state")

    state = wait_until(master_state, 120, "the master to answer")
    assert state["version"] == "1.11.0" and state["pid"] == f"master@{MASTER_IP}:5050"

    # The agent's machine: dockerd (docker.service's stand-in), then the agent.
    dockerd = root.start("dockerd", ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none"], netns=agent_ns)

    def docker_answers():
        assert dockerd.poll() is None, f"dockerd exited ({dockerd.returncode}):\n{root.log('dockerd')}"
        return root.run(["docker", "version"], netns=agent_ns, timeout=30).returncode == 0

    wait_until(docker_answers, 120, "dockerd to answer")
    agent = root.start("agent", [f"{PREFIX}/bin/halyard-mesos-agent"], netns=agent_ns)

    def registered():
        assert agent.poll() is None, f"the agent exited ({agent.returncode}):\n{root.log('agent')}"
        slaves = http_json(root, master_ns, f"http://{MASTER_IP}:5050/master/slaves") or {"slaves": []}
        return next((s for s in slaves["slaves"] if s.get("active") and s["hostname"] == AGENT_IP), None)

    slave = wait_until(registered, 120, "the agent to register with the master")
    assert slave["attributes"] == {"rack_id": "rack-1", "zone": "zone-b"}
    assert slave["domain"]["fault_domain"]["zone"]["name"] == "zone-b"
    assert slave["resources"]["cpus"] == 1 and slave["resources"]["ports"] == "[31000-31099]"
    assert slave["pid"].endswith(f"@{AGENT_IP}:5051")

    # Frameworks find the master through ZooKeeper, as the Vagrantfile's README says.
    assert zk.poll() is None, root.log("zookeeper")
    read_announcement = (
        "import json, sys\nfrom kazoo.client import KazooClient\n"
        f"zk = KazooClient(hosts='{MASTER_IP}:2181', timeout=5); zk.start(timeout=10)\n"
        "nodes = sorted(n for n in zk.get_children('/mesos') if n.startswith('json.info_')) if zk.exists('/mesos') else []\n"
        "print(zk.get('/mesos/' + nodes[0])[0].decode() if nodes else '')\nzk.stop()\n")

    def announced():
        done = root.run(["python3", "-c", read_announcement], netns=master_ns, timeout=60)
        return json.loads(done.stdout) if done.returncode == 0 and done.stdout.strip() else None

    info = wait_until(announced, 90, f"the master's announcement at zk://{MASTER_IP}:2181/mesos", interval=1)
    assert info["address"] == {"hostname": MASTER_IP, "ip": MASTER_IP, "port": 5050}
