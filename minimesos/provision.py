#!/usr/bin/env python3
"""Provision a Debian 12 machine as a node of a multi-node Mesos cluster, as minimesos installs Mesos.

    python3 minimesos/provision.py master --ip 192.168.56.10
    python3 minimesos/provision.py agent --ip 192.168.56.11 --master 192.168.56.10:5050 \\
        --attributes 'rack_id:rack-1;zone:zone-a' --zone zone-a --region vagrant

vagrant/provision.sh, the Vagrantfile's provisioner, installs python3 and pip and runs this. It
reuses minimesos/install.py (minimesos/up's installer):

* Debian packages (``install.apt_install``): a Mesos node's (``install.MESOS_PACKAGES``), plus
  ZooKeeper and kazoo on the master, Docker (docker.io) on an agent.
* The real Mesos 1.11: libmesos from the PyPI package ``mesos.scheduler`` 1.11.0, patched, and
  the native launcher built from ``native/`` (``install.artifact``, ``libmesos``, ``launcher``,
  cached in ``~/.cache/halyard/minimesos`` as for minimesos/up), copied to PREFIX
  (``/opt/halyard-mesos``: ``bin/``, ``lib/``) with the agents' helper programs (``libexec/``)
  and the ZooKeeper announcer (``lib/announce.py``).
* ``/etc/halyard-mesos/NAME.env`` (the ``MESOS_*`` flags), one start script per service,
  ``PREFIX/bin/halyard-NAME``, and a systemd unit ``halyard-NAME.service`` that runs it: on the
  master ``zookeeper`` (port 2181 on every address), ``mesos-master`` (IP:5050) and
  ``mesos-announcer``, which publishes the master at ``zk://IP:2181/mesos`` (this master cannot
  elect itself through ZooKeeper: see minimesos/README.md); on an agent ``mesos-agent`` (IP:5051),
  registered with ``--master``, Docker and Mesos containerizers on Debian's docker.service.
* With systemd running it enables and restarts the units; without (a container, a chroot) it
  prints the start scripts, which run in the foreground.

Running it again changes nothing that is in place (the services are restarted). Standard library only.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import install  # noqa: E402

ETC = Path("/etc/halyard-mesos")
VAR = Path("/var/lib/halyard-mesos")
UNITS = Path("/etc/systemd/system")
LAUNCHER = "mesos-local-launcher"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def log(msg: str) -> None:
    print(f"[provision] {msg}", flush=True)


def packages(role: str, docker: bool = True) -> list[str]:
    if role == "master":
        return install.MESOS_PACKAGES + install.ZK_PACKAGES
    return install.MESOS_PACKAGES + (["docker.io"] if docker else [])


def install_mesos(prefix: Path) -> Path:
    """libmesos and the launcher (built or taken from minimesos' cache) in PREFIX; the launcher's path."""
    cache = install.cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    lib = install.libmesos(cache, install.artifact(cache))
    built = install.launcher(cache)
    for sub in ("bin", "lib", "libexec"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    for path in sorted(lib.parent.glob("lib*.so*")):
        _copy(path, prefix / "lib" / path.name)
    launcher = prefix / "bin" / LAUNCHER
    _copy(built, launcher)
    for helper in sorted((HERE / "libexec").iterdir()):
        _copy(helper, prefix / "libexec" / helper.name)
    _copy(HERE / "announce.py", prefix / "lib" / "announce.py")
    subprocess.run([str(launcher), "--mode=check"], check=True, stdout=subprocess.DEVNULL)
    return launcher


def _copy(src: Path, dst: Path) -> None:
    """Copy when different (size or time), keeping the mode; atomic, so a running binary is not overwritten in place."""
    if dst.exists() and dst.stat().st_size == src.stat().st_size and dst.stat().st_mtime >= src.stat().st_mtime:
        return
    tmp = dst.with_name(dst.name + ".new")
    shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def env_file(values: dict[str, str]) -> str:
    """``NAME=value`` lines a shell can source (values quoted)."""
    return "".join(f"{k}={shlex.quote(v)}\n" for k, v in values.items())


def domain(region: str, zone: str) -> str:
    return json.dumps({"fault_domain": {"region": {"name": region}, "zone": {"name": zone}}})


class Service:
    """One service: its environment file, start script and systemd unit."""

    def __init__(self, name: str, description: str, argv: list[str], env: dict[str, str] | None = None,
                 after: tuple[str, ...] = (), requires: tuple[str, ...] = ()):
        self.name, self.description, self.argv, self.env = name, description, argv, env
        self.after, self.requires = after, requires

    def script(self, prefix: Path) -> Path:
        return prefix / "bin" / f"halyard-{self.name}"

    def script_text(self) -> str:
        lines = ["#!/bin/sh", f"# {self.description}: written by minimesos/provision.py", "set -e"]
        if self.env is not None:
            lines += [f"set -a; . {ETC / (self.name + '.env')}; set +a"]
        lines += ["exec " + " ".join(shlex.quote(a) for a in self.argv), ""]
        return "\n".join(lines)

    def unit_text(self, prefix: Path) -> str:
        after = " ".join(("network-online.target", *self.after))
        lines = ["[Unit]", f"Description={self.description} (Halyard)", f"After={after}",
                 "Wants=network-online.target"]
        lines += [f"Requires={' '.join(self.requires)}"] if self.requires else []
        lines += ["", "[Service]", f"ExecStart={self.script(prefix)}", "Restart=always", "RestartSec=2",
                  # The launcher stops its executors on SIGTERM; their tasks end with them.
                  "KillMode=mixed", "TimeoutStopSec=60", "LimitNOFILE=65536",
                  "", "[Install]", "WantedBy=multi-user.target", ""]
        return "\n".join(lines)

    def write(self, prefix: Path) -> None:
        ETC.mkdir(parents=True, exist_ok=True)
        if self.env is not None:
            (ETC / f"{self.name}.env").write_text(env_file(self.env))
        script = self.script(prefix)
        script.write_text(self.script_text())
        script.chmod(0o755)
        UNITS.mkdir(parents=True, exist_ok=True)
        (UNITS / f"halyard-{self.name}.service").write_text(self.unit_text(prefix))


def master_services(args: argparse.Namespace, prefix: Path) -> list[Service]:
    zk_dir = VAR / "zookeeper"
    zoo_cfg = ETC / "zoo.cfg"
    (zk_dir / "data").mkdir(parents=True, exist_ok=True)
    ETC.mkdir(parents=True, exist_ok=True)
    zoo_cfg.write_text("\n".join([
        "tickTime=2000", "initLimit=10", "syncLimit=5", f"dataDir={zk_dir / 'data'}",
        f"clientPort={args.zk_port}", "admin.enableServer=false", "4lw.commands.whitelist=ruok,stat,srvr,mntr",
        "maxClientCnxns=0", ""]))
    zookeeper = Service("zookeeper", "ZooKeeper", [
        "java", "-Xmx256m", "-XX:+UseSerialGC", f"-Dzookeeper.log.dir={zk_dir}", "-Dzookeeper.root.logger=INFO,CONSOLE",
        "-cp", "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar",
        "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(zoo_cfg)])
    work = VAR / "master"
    master = Service("mesos-master", "Mesos master", [
        str(prefix / "bin" / LAUNCHER), "--mode=master", f"--ip={args.ip}", f"--port={args.port}", f"--work_dir={work}"], {
        "MESOS_HOSTNAME": args.hostname or args.ip,
        "MESOS_DOMAIN": domain(args.region, args.zone),
        "MESOS_REGISTRY": "replicated_log",
        "MESOS_WORK_DIR": str(work),
        "GLOG_v": "0"})
    announcer = Service("mesos-announcer", "Mesos master announcer", [
        "/usr/bin/python3", str(prefix / "lib" / "announce.py"), "--master", f"http://{args.ip}:{args.port}",
        "--zk", f"{args.ip}:{args.zk_port}", "--path", "/mesos"],
        after=("halyard-zookeeper.service", "halyard-mesos-master.service"))
    return [zookeeper, master, announcer]


def agent_services(args: argparse.Namespace, prefix: Path) -> list[Service]:
    work = VAR / "agent"
    env = {
        "MESOS_HOSTNAME": args.hostname or args.ip,
        "MESOS_ATTRIBUTES": args.attributes,
        "MESOS_DOMAIN": domain(args.region, args.zone),
        "MESOS_LAUNCHER": "posix", "MESOS_ISOLATION": "posix/cpu,posix/mem",
        "MESOS_CONTAINERIZERS": "docker,mesos" if args.docker else "mesos",
        "MESOS_SYSTEMD_ENABLE_SUPPORT": "false", "MESOS_HTTP_COMMAND_EXECUTOR": "true",
        "MESOS_LAUNCHER_DIR": str(prefix / "libexec"), "MESOS_SWITCH_USER": "false",
        "MESOS_WORK_DIR": str(work),
        "MESOS_EXECUTOR_ENVIRONMENT_VARIABLES": json.dumps({"PATH": PATH}),
        "MESOS_EXECUTOR_REGISTRATION_TIMEOUT": "5mins",
        "GLOG_v": "0"}
    if args.resources:
        env["MESOS_RESOURCES"] = args.resources
    if args.docker:
        env.update({"MESOS_DOCKER": "/usr/bin/docker", "MESOS_DOCKER_SOCKET": "/var/run/docker.sock"})
    if not args.attributes:
        del env["MESOS_ATTRIBUTES"]
    docker = ("docker.service",) if args.docker else ()
    agent = Service("mesos-agent", "Mesos agent", [
        str(prefix / "bin" / LAUNCHER), "--mode=agent", f"--ip={args.ip}", f"--port={args.port}",
        f"--master={args.master}", f"--work_dir={work}"], env, after=docker, requires=docker)
    return [agent]


def systemd_running() -> bool:
    return Path("/run/systemd/system").is_dir()


def start(services: list[Service], prefix: Path) -> None:
    names = [f"halyard-{s.name}.service" for s in services]
    if not systemd_running():
        log("systemd is not running here: start the services yourself, in this order (each stays in the foreground):")
        for s in services:
            print(f"  {s.script(prefix)}")
        return
    subprocess.run(["systemctl", "daemon-reload"], check=True)
    subprocess.run(["systemctl", "enable", "--quiet", *names], check=True)
    subprocess.run(["systemctl", "restart", *names], check=True)
    log(f"started {' '.join(names)}")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="provision.py", description=__doc__.splitlines()[0])
    ap.add_argument("role", choices=["master", "agent"])
    ap.add_argument("--ip", required=True, help="this machine's address, which the other nodes reach")
    ap.add_argument("--port", type=int, help="the master's (default 5050) or the agent's (default 5051) port")
    ap.add_argument("--hostname", help="the name it gives the master and the frameworks (default: --ip)")
    ap.add_argument("--zk-port", type=int, default=2181, help="master: ZooKeeper's port")
    ap.add_argument("--master", help="agent: the master's IP:PORT")
    ap.add_argument("--attributes", default="", help="agent: e.g. 'rack_id:rack-1;zone:zone-a'")
    ap.add_argument("--resources", default="", help="agent: e.g. 'cpus:2;mem:2048;ports:[31000-32000]' "
                                                    "(default: what Mesos detects)")
    ap.add_argument("--region", default="local", help="the fault domain's region")
    ap.add_argument("--zone", default="zone-a", help="the fault domain's zone")
    ap.add_argument("--no-docker", dest="docker", action="store_false", help="agent: the Mesos containerizer only")
    ap.add_argument("--prefix", default="/opt/halyard-mesos", type=Path)
    return ap


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = parser()
    args = ap.parse_args(argv)
    if args.role == "agent" and not args.master:
        ap.error("an agent needs --master IP:PORT")
    if args.port is None:
        args.port = 5050 if args.role == "master" else 5051
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log(f"{args.role} {args.ip}:{args.port}")
    install.apt_install(packages(args.role, args.docker))
    launcher = install_mesos(args.prefix)
    log(f"Mesos 1.11 in {args.prefix} ({launcher})")
    services = master_services(args, args.prefix) if args.role == "master" else agent_services(args, args.prefix)
    for service in services:
        service.write(args.prefix)
    log(f"configuration in {ETC}, units in {UNITS}: {', '.join(f'halyard-{s.name}' for s in services)}")
    start(services, args.prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
