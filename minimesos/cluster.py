"""A real local Mesos cluster: ZooKeeper, a Mesos 1.11 master, N agents and a private dockerd.

Each agent K gets its own loopback address 127.0.0.K (its IP and hostname), port MASTER_PORT+K, a
task port range disjoint from the other agents' (31000+1000*(K-1) .. +999), attributes
``rack_id`` and ``zone`` and a fault domain (region ``local``, zone ``zone-a|b|c``).

The master runs Mesos' ``local::launch``, whose master detection is standalone: it cannot elect
itself through ZooKeeper. So that frameworks can still find it at ``zk://127.0.0.1:2181/mesos``,
an announcer publishes the master's MasterInfo there as a real master does (ephemeral sequential
``json.info_*`` nodes) and follows master restarts. The master's registry is the replicated log in
its work dir, so its state survives ``master restart``.

With ``masters > 1`` or ``zookeepers > 1`` (HA) there is no announcer: a ZooKeeper ensemble
(``zkI``), masters that are real mesos-masters elected through ZooKeeper at ``/mesos`` with a
replicated-log registry of quorum ``masters//2+1`` (``masterK``), and agents that find the leader
through ZooKeeper (see the launcher and ``members.py`` for ports).

Everything lives in the run dir (default ``minimesos/.run``): ``cluster.json`` (configuration),
``cluster.env`` (shell variables), ``pids/``, ``logs/`` and the work dirs.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import auth
import hosts as hostnet
import members
import netplan
from procs import Proc, http_json, listening_ports, port_open, start_time, wait_for, zk_ok
import registry_proc
import reserved_ports
import tls

HERE = Path(__file__).resolve().parent
LIBEXEC = HERE / "libexec"
IMAGE = "local/busybox:1"
ZONES = "abcdefghijklmnopqrstuvwxyz"


@dataclass
class AgentSpec:
    index: int
    ip: str
    port: int
    resources: str
    attributes: dict[str, str]
    zone: str
    region: str = "local"

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"


@dataclass
class Config:
    run_dir: str
    master_port: int = 5050
    zk_port: int = 2181
    agents: list[AgentSpec] = field(default_factory=list)
    docker: bool = True
    launcher: str = ""
    ping_timeout: str = "2secs"
    max_ping_timeouts: int = 3
    auth: bool = False  # HTTP framework authentication and ACLs (auth.py)
    masters: int = 1
    zookeepers: int = 1
    # HA only: the masters' and agents' ZooKeeper session (Mesos' default is 10secs). A leader
    # killed with SIGKILL keeps its znode, and so its leadership, until its session expires.
    zk_session_timeout: str = "5secs"
    # Every master, ZooKeeper server and agent in its own network namespace (netplan.py, hosts.py).
    hosts: bool = False
    tls: bool = False  # up --tls: a local CA, ZooKeeper's TLS port, the registry over HTTPS (tls.py)

    @property
    def ha(self) -> bool:
        """Masters elected through ZooKeeper (mesos-master's way) rather than today's one master."""
        return self.masters > 1 or self.zookeepers > 1

    @property
    def host_plan(self) -> list[netplan.Host]:
        """With ``hosts``: the members' hosts (master1.., zk1.., agent1..), else none."""
        return netplan.plan(self.master_port, self.masters, self.zookeepers, len(self.agents)) if self.hosts else []

    def address(self, host: str) -> str:
        """Where member ``host`` (``master1``, ``zk2``, ``agent3``) listens: its host's address, or
        loopback without ``hosts``."""
        for h in self.host_plan:
            if h.name == host:
                return h.address
        return "127.0.0.1"

    @property
    def master_url(self) -> str:
        return f"http://{self.address('master1')}:{self.master_port}"

    @property
    def master_urls(self) -> list[str]:
        """Master K's URL at index K-1."""
        return [f"http://{self.address(f'master{k}')}:{p}"
                for k, p in enumerate(members.master_ports(self.master_port, self.masters), start=1)]

    @property
    def zk_servers(self) -> list[members.ZkServer]:
        return members.zk_servers(self.zk_port, self.zookeepers,
                                  [self.address(f"zk{i}") for i in range(1, self.zookeepers + 1)])

    @property
    def zk(self) -> str:
        return f"zk://{members.zk_hosts(self.zk_servers)}"

    @property
    def mesos_master(self) -> str:
        """What frameworks are given: the master's URL, or in HA the zk:// URL they detect it with."""
        return f"{self.zk}/mesos" if self.ha else self.master_url

    @property
    def docker_sock(self) -> str:
        return f"/run/minimesos-{self.master_port}/docker.sock"

    def agent_docker_sock(self, k: int) -> str:
        """The socket of the dockerd agent K uses: the cluster's one, or with ``hosts`` agent K's own."""
        return f"/run/minimesos-{self.master_port}/agent{k}/docker.sock" if self.hosts else self.docker_sock

    @property
    def registry_host(self) -> str:
        """The registry's address: loopback, or with ``hosts`` the bridge's (every host reaches it)."""
        return netplan.gateway(self.master_port) if self.hosts else registry_proc.HOST

    @property
    def registry_port(self) -> int:
        """The local registry's port: 5000 beside a master on 5050 (master port - 50)."""
        return self.master_port - 50

    def env_lines(self) -> list[str]:
        lines = [f"MESOS_MASTER={self.mesos_master}", f"ZK={self.zk}",
                 f"MESOS_MASTER_ZK={self.zk}/mesos"]
        if self.ha:
            lines += [f"MASTERS={','.join(self.master_urls)}",
                      f"ZOOKEEPERS={members.zk_hosts(self.zk_servers)}"]
        if self.docker:
            lines.append(f"DOCKER_HOST=unix://{self.agent_docker_sock(1)}")
        lines += [f"MESOS_AGENT{a.index}={a.url}" for a in self.agents]
        if self.docker:
            lines.append(registry_proc.env_line(self.registry_port, self.registry_host))
        if self.auth:
            lines += auth.files(Path(self.run_dir)).env_lines()
        if self.tls:
            lines.append(f"ZK_TLS=zk://{members.zk_secure_hosts(self.zk_servers)}")
            lines += self.tls_files.env_lines()
        return lines

    @property
    def tls_files(self) -> tls.TlsFiles:
        return tls.TlsFiles(Path(self.run_dir) / "tls")

    def save(self) -> None:
        Path(self.run_dir, "cluster.json").write_text(json.dumps(asdict(self), indent=2))
        Path(self.run_dir, "cluster.env").write_text("\n".join(self.env_lines()) + "\n")

    @classmethod
    def load(cls, run_dir: Path) -> Optional["Config"]:
        try:
            data = json.loads((run_dir / "cluster.json").read_text())
        except (OSError, ValueError):
            return None
        data["agents"] = [AgentSpec(**a) for a in data["agents"]]
        return cls(**data)


def default_agents(count: int, master_port: int, resources: str, overrides: list[dict],
                   task_ports: int = 31000, addresses: Optional[list[str]] = None) -> list[AgentSpec]:
    """Agent K: 127.0.0.K (or ``addresses[K-1]``, its host's with ``up --hosts``), port MASTER+K,
    ports TASK_PORTS+1000(K-1).., rack_id rack-ceil(K/2), zone by K.

    A second cluster on the same loopback addresses takes another ``task_ports`` base, so that
    host-networked tasks of the two never ask for the same address and port."""
    agents = []
    for k in range(1, count + 1):
        base = task_ports + 1000 * (k - 1)
        zone = f"zone-{ZONES[(k - 1) % len(ZONES)]}"
        spec = AgentSpec(index=k, ip=addresses[k - 1] if addresses else f"127.0.0.{k}", port=master_port + k,
                         resources=f"{resources};ports:[{base}-{base + 999}]",
                         attributes={"rack_id": f"rack-{(k + 1) // 2}", "zone": zone}, zone=zone)
        extra = overrides[k - 1] if k - 1 < len(overrides) else {}
        for key, value in extra.items():
            if key == "attributes":
                spec.attributes.update({str(a): str(b) for a, b in value.items()})
            elif key in ("resources", "zone", "region"):
                setattr(spec, key, str(value))
            else:
                raise SystemExit(f"agent {k}: unknown setting {key!r} (resources, attributes, zone, region)")
        agents.append(spec)
    return agents


class Cluster:
    """The processes of one local cluster, addressed by name: zk, dockerd, master, agentK, announcer.

    With ``hosts`` each member runs in its host's network namespace (``hosts.Hosts``), and each
    agent has its own dockerd there (``dockerd-agentK``)."""

    def __init__(self, config: Config):
        self.config = config
        self.run = Path(config.run_dir)
        self.logs = self.run / "logs"
        self.pids = self.run / "pids"
        self.hostnet = hostnet.Hosts(self.run, config.master_port) if config.hosts else None

    # --- components ---------------------------------------------------------------------------

    def _proc(self, name: str, argv: list[str], env: dict[str, str], cwd: Optional[Path] = None,
              host: Optional[str] = None) -> Proc:
        """A member's process; with ``hosts``, run inside ``host``'s network namespace."""
        if self.hostnet and host:
            argv = self.hostnet.wrap(host, argv)
        return Proc(name, argv, env, self.logs / f"{name}.log", self.pids / f"{name}.pid", cwd)

    def zk_name(self, i: int) -> str:
        return "zk" if self.config.zookeepers == 1 else f"zk{i}"

    def zk(self, i: int = 1) -> Proc:
        """ZooKeeper server I (the only one is ``zk``, in ``run/zk``; in an ensemble ``zkI``)."""
        name = self.zk_name(i)
        servers = self.config.zk_servers
        data = self.run / name
        cfg = data / "zoo.cfg"
        if not cfg.exists():
            (data / "data").mkdir(parents=True, exist_ok=True)
            if len(servers) > 1:
                (data / "data" / "myid").write_text(f"{i}\n")
            files = self.config.tls_files
            tls_lines = members.zoo_tls_cfg(servers[i - 1], files.zk_keystore, files.ca) if self.config.tls else None
            cfg.write_text(members.zoo_cfg(servers[i - 1], servers, data / "data", tls_lines))
        # Debian's zookeeper.jar names netty-handler but not the codec and resolver it needs (TLS, Netty).
        classpath = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
        if self.config.tls:
            classpath += ":/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar"
        argv = ["java", "-Xmx256m", "-XX:+UseSerialGC", f"-Dzookeeper.log.dir={self.logs}",
                "-Dzookeeper.root.logger=INFO,CONSOLE", "-cp", classpath,
                "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(cfg)]
        return self._proc(name, argv, dict(os.environ), host=f"zk{i}")

    def zks(self) -> list[Proc]:
        return [self.zk(i) for i in range(1, self.config.zookeepers + 1)]

    def dockerd(self, k: int = 1) -> Proc:
        """The cluster's dockerd; with ``hosts``, agent K's own (``dockerd-agentK``: its own data
        root, exec root and socket, in agent K's namespace, so that a HOST-networked container is
        on agent K's host and is cut off with it)."""
        if not self.config.hosts:
            sock_dir = Path(self.config.docker_sock).parent
            data, name, host, ip = self.run / "docker", "dockerd", None, "127.0.0.1"
        else:
            sock_dir = Path(self.config.agent_docker_sock(k)).parent
            data, name, host, ip = self.run / f"agent{k}-docker", f"dockerd-agent{k}", f"agent{k}", self.config.agents[k - 1].ip
        argv = ["dockerd", "--data-root", str(data), "--exec-root", str(sock_dir / "exec"),
                "-H", f"unix://{sock_dir / 'docker.sock'}", "--pidfile", str(sock_dir / "docker.pid"),
                "--iptables=false", "--ip6tables=false", "--bridge=none", f"--ip={ip}",
                f"--storage-driver={os.environ.get('DOCKERD_STORAGE_DRIVER', 'overlay2')}"]
        if self.config.hosts:  # the registry is on the bridge's address, not on loopback
            argv.append(f"--insecure-registry={self.config.registry_host}:{self.config.registry_port}")
        return self._proc(name, argv, dict(os.environ), host=host)

    def dockerds(self) -> list[Proc]:
        if not self.config.docker:
            return []
        return [self.dockerd(a.index) for a in self.config.agents] if self.config.hosts else [self.dockerd()]

    def registry(self) -> Proc:
        return registry_proc.proc(self.run)

    def _ca_env(self) -> dict[str, str]:
        """With ``--tls``, what makes an agent's fetcher and its executors trust the local CA
        (OpenSSL's ``SSL_CERT_FILE``; ``HALYARD_CA`` for Halyard's clients)."""
        if not self.config.tls:
            return {}
        ca = str(self.config.tls_files.ca)
        return {"SSL_CERT_FILE": ca, "HALYARD_CA": ca}

    def _mesos_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "LIBPROCESS_SSL_ENABLED"}
        env.setdefault("GLOG_v", "0")
        return env

    def master_name(self, k: int) -> str:
        return "master" if self.config.masters == 1 else f"master{k}"

    def master(self, k: int = 1) -> Proc:
        """Master K (the only one is ``master``, in ``run/master``; in HA ``masterK``)."""
        name = self.master_name(k)
        port = members.master_ports(self.config.master_port, self.config.masters)[k - 1]
        work = self.run / name
        env = self._mesos_env()
        env.update({
            "MESOS_HOSTNAME": "127.0.0.1",
            "MESOS_DOMAIN": json.dumps({"fault_domain": {"region": {"name": "local"}, "zone": {"name": "zone-a"}}}),
            "MESOS_REGISTRY": env.get("MESOS_REGISTRY", "replicated_log"),
            "MESOS_AGENT_PING_TIMEOUT": env.get("MESOS_AGENT_PING_TIMEOUT", self.config.ping_timeout),
            "MESOS_MAX_AGENT_PING_TIMEOUTS": env.get("MESOS_MAX_AGENT_PING_TIMEOUTS", str(self.config.max_ping_timeouts)),
            "MESOS_WORK_DIR": str(work),
        })
        if self.config.auth:
            env.update(auth.files(self.run).master_env())
        ip = self.config.address(f"master{k}")
        env["MESOS_HOSTNAME"] = ip
        argv = [self.config.launcher, "--mode=master", f"--ip={ip}", f"--port={port}", f"--work_dir={work}"]
        if self.config.ha:
            env["MESOS_REGISTRY"] = "replicated_log"
            env.setdefault("MESOS_ZK_SESSION_TIMEOUT", self.config.zk_session_timeout)
            argv += [f"--zk={self.config.mesos_master}", f"--quorum={members.quorum(self.config.masters)}"]
        return self._proc(name, argv, env, host=f"master{k}")

    def masters(self) -> list[Proc]:
        return [self.master(k) for k in range(1, self.config.masters + 1)]

    def agent(self, k: int) -> Proc:
        spec = self.config.agents[k - 1]
        env = self._mesos_env()
        env.update({
            "MESOS_RESOURCES": spec.resources,
            "MESOS_ATTRIBUTES": ";".join(f"{a}:{b}" for a, b in spec.attributes.items()),
            "MESOS_DOMAIN": json.dumps({"fault_domain": {"region": {"name": spec.region}, "zone": {"name": spec.zone}}}),
            "MESOS_HOSTNAME": spec.ip,
            "MESOS_LAUNCHER": "posix", "MESOS_ISOLATION": "posix/cpu,posix/mem",
            "MESOS_CONTAINERIZERS": "docker,mesos" if self.config.docker else "mesos",
            "MESOS_SYSTEMD_ENABLE_SUPPORT": "false", "MESOS_HTTP_COMMAND_EXECUTOR": "true",
            "MESOS_LAUNCHER_DIR": str(LIBEXEC), "MESOS_SWITCH_USER": "false",
            "MESOS_WORK_DIR": str(self.run / f"agent{k}"),
        })
        env.update(self._ca_env())  # the fetcher downloads https:// URIs verified against the local CA
        if self.config.docker:
            sock = self.config.agent_docker_sock(k)
            env.update({"MESOS_DOCKER": shutil.which("docker", path="/usr/bin") or "docker",
                        "MESOS_DOCKER_SOCKET": sock,
                        "MESOS_DOCKER_REMOVE_DELAY": env.get("MESOS_DOCKER_REMOVE_DELAY", "1mins"),
                        # Executors (and their tasks) get Mesos' default environment plus DOCKER_HOST:
                        # the docker CLI there (Halyard's executor runs job images with it) reaches
                        # this cluster's dockerd, as the default socket does on a real agent.
                        "MESOS_EXECUTOR_ENVIRONMENT_VARIABLES": json.dumps({
                            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                            "DOCKER_HOST": f"unix://{sock}", **self._ca_env()}),
                        # One dockerd serves every agent: an agent must not stop the others' containers.
                        "MESOS_DOCKER_KILL_ORPHANS": "false"})
        master = f"{self.config.address('master1')}:{self.config.master_port}"
        if self.config.ha:  # the leader, as ZooKeeper names it
            master = self.config.mesos_master
            env.setdefault("MESOS_ZK_SESSION_TIMEOUT", self.config.zk_session_timeout)
        argv = [self.config.launcher, "--mode=agent", f"--ip={spec.ip}", f"--port={spec.port}",
                f"--master={master}", f"--work_dir={self.run / f'agent{k}'}"]
        return self._proc(f"agent{k}", argv, env, host=f"agent{k}")

    def announcer(self) -> Proc:
        """Publishes the master in ZooKeeper; with ``hosts`` it runs on the master's host, so that a
        cut between the master and ZooKeeper cuts the announcement too."""
        argv = ["/usr/bin/python3", str(HERE / "announce.py"), "--master", self.config.master_url,
                "--zk", self.config.zk_servers[0].address, "--path", "/mesos"]
        return self._proc("announcer", argv, dict(os.environ), host="master1")

    def all_procs(self) -> list[Proc]:
        procs = [] if self.config.ha else [self.announcer()]
        procs += [self.agent(a.index) for a in reversed(self.config.agents)]
        procs += list(reversed(self.masters()))
        if self.config.docker:
            procs += [self.registry(), *self.dockerds()]
        procs += list(reversed(self.zks()))
        return procs  # in stopping order

    # --- readiness ----------------------------------------------------------------------------

    def registered_agents(self) -> dict[str, dict]:
        """Active agents by hostname, from the (leading) master."""
        url = self.config.master_url
        if self.config.ha:
            leader = self.leading_master()
            if leader is None:
                raise RuntimeError("no leading master")
            url = self.config.master_urls[leader - 1]
        slaves = http_json(f"{url}/master/slaves")["slaves"]  # type: ignore[index]
        return {s["hostname"]: s for s in slaves if s.get("active")}

    # --- who leads ----------------------------------------------------------------------------

    def leading_master(self) -> Optional[int]:
        """The number of the master that leads: the one whose own ``/master/state`` (200, not a
        redirect) names itself as ``leader``. None while there is none."""
        if not self.config.ha:
            return 1 if master_state(self.config.master_url) else None
        for k, url in enumerate(self.config.master_urls, start=1):
            if not self.master(k).alive():
                continue
            state = master_state(url)
            if state and state.get("leader") == state.get("pid") and state.get("elected_time"):
                return k
        return None

    def zk_modes(self) -> dict[int, Optional[str]]:
        return members.zk_modes(self.config.zk_servers)

    def leading_zk(self) -> Optional[int]:
        return members.zk_leader(self.zk_modes())

    def docker(self, *args: str, check: bool = True, k: int = 1, **kw) -> subprocess.CompletedProcess:
        """The docker CLI against the cluster's dockerd (with ``hosts``: agent K's)."""
        cli = shutil.which("docker", path="/usr/bin") or "docker"
        return subprocess.run([cli, "-H", f"unix://{self.config.agent_docker_sock(k)}", *args], check=check,
                              capture_output=True, text=True, **kw)

    def start_zk(self, i: int = 1) -> None:
        """Start ZooKeeper server I; return once it serves (in an ensemble: once it is the
        leader or a follower, which needs a quorum of servers up)."""
        self.start_zks([i])

    def start_zks(self, which: list[int]) -> None:
        for i in which:
            self.zk(i).start()
        if not self.config.ha or self.config.zookeepers == 1:
            server = self.config.zk_servers[0]
            # 120 s: a JVM starting beside a loaded machine's other clusters took over 60 s once
            if not wait_for(lambda: zk_ok(server.host, server.client_port), 120):
                raise SystemExit(f"ZooKeeper did not come up; see {self.logs / (self.zk_name(1) + '.log')}")
            return
        if not wait_for(lambda: all(self.zk_modes()[i] for i in which), 120):
            modes = self.zk_modes()
            raise SystemExit(f"ZooKeeper servers {[i for i in which if not modes[i]]} do not serve (a quorum of "
                             f"{self.config.zookeepers // 2 + 1} must run); see {self.logs}")

    def start_dockerd(self, k: int = 1) -> None:
        """Start the dockerd (with ``hosts``: agent K's) and give it ``local/busybox:1``."""
        proc = self.dockerd(k)
        Path(self.config.agent_docker_sock(k)).parent.mkdir(parents=True, exist_ok=True)
        proc.start()
        if not wait_for(lambda: self.docker("version", check=False, k=k).returncode == 0, 60):
            raise SystemExit(f"dockerd did not come up; see {proc.log}")
        if self.docker("image", "inspect", IMAGE, check=False, k=k).returncode != 0:
            self._import_busybox(k)

    def _import_busybox(self, k: int = 1) -> None:
        """Build ``local/busybox:1`` from the static busybox: a rootfs with every applet linked."""
        busybox = shutil.which("busybox") or "/bin/busybox"
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "root"):
                (root / d).mkdir()
            shutil.copy(busybox, root / "bin" / "busybox")
            applets = subprocess.run([str(root / "bin" / "busybox"), "--list"], capture_output=True, text=True,
                                     check=True).stdout.split()
            for applet in applets:
                if applet != "busybox":
                    (root / "bin" / applet).symlink_to("busybox")
            (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
            (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
            (root / "tmp").chmod(0o1777)
            tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
            self.docker("import", "-c", 'CMD ["/bin/sh"]', "-c", "ENV PATH=/bin", "-", IMAGE, stdin=tar.stdout, k=k)
            tar.wait()

    def start_registry(self) -> None:
        """The local registry on 127.0.0.1:<master port - 50>, with ``local/busybox:1`` pushed as ``busybox:1``."""
        registry_proc.start(self.run, self.docker, self.config.registry_port, self.config.registry_host,
                            self.config.tls_files if self.config.tls else None)

    def start_master(self, k: int = 1) -> None:
        """Start master K; return once it answers (in HA: once its HTTP server answers, whether
        it leads or redirects to the leader)."""
        self.start_masters([k])

    def start_masters(self, which: list[int]) -> None:
        if self.config.auth:
            auth.ensure(self.run)
        for k in which:
            self.master(k).start()
        if not self.config.ha:
            if not wait_for(lambda: http_json(f"{self.config.master_url}/master/state"), 60):
                raise SystemExit(f"the master did not come up; see {self.logs / 'master.log'}")
            return
        for k in which:
            url = self.config.master_urls[k - 1]
            if not wait_for(lambda: master_answers(url) or not self.master(k).alive(), 60) or not self.master(k).alive():
                raise SystemExit(f"master {k} did not come up; see {self.logs / (self.master_name(k) + '.log')}")

    def wait_leader(self, timeout: float = 60) -> int:
        """The leading master's number, once there is one."""
        if not wait_for(lambda: self.leading_master(), timeout):
            raise SystemExit(f"no master was elected within {timeout:.0f}s; see {self.logs}")
        return self.leading_master() or 0

    def start_agent(self, k: int, wait: bool = True) -> None:
        """Start agent ``k``; with ``wait``, return once the master has it registered.

        An agent that recovers Docker containers lists them (``docker ps``) and then inspects each:
        a container removed in between (its executor was just stopped with the agent) makes the
        agent exit with "Failed to perform recovery". That container is gone for good then, so the
        agent is started again (at most 3 times)."""
        proc, ip = self.agent(k), self.config.agents[k - 1].ip
        log = self.logs / f"agent{k}.log"
        for attempt in range(1, 4):
            offset = log.stat().st_size if log.exists() else 0
            proc.start()
            if not wait:
                return
            wait_for(lambda: ip in self.registered_agents() or not proc.alive(), 60)
            if ip in self.registered_agents():
                return
            if proc.alive():
                break
            with open(log, "rb") as f:
                f.seek(offset)
                why = [line for line in f.read().decode(errors="replace").splitlines() if "EXIT with status" in line]
            if not any("Failed to perform recovery" in line for line in why) or attempt == 3:
                raise SystemExit(f"agent {k} exited: {why[-1] if why else 'no reason logged'}; see {log}")
            print(f"agent {k} failed its recovery (attempt {attempt}), starting it again: {why[-1][:300]}",
                  file=sys.stderr)
        raise SystemExit(f"agent {k} did not register; see {log}")

    def start_announcer(self) -> None:
        self.announcer().start()

    def planned_ports(self) -> dict[tuple[str, int], str]:
        """Every (address, port) a member listens on, by member name."""
        c = self.config
        if c.hosts:  # the members listen in their own namespaces: only the registry is on the root side
            return {(c.registry_host, c.registry_port): "registry"} if c.docker else {}
        ports = {("127.0.0.1", port): self.master_name(k)
                 for k, port in enumerate(members.master_ports(c.master_port, c.masters), start=1)}
        ports |= {("127.0.0.1", port): self.zk_name(s.index) for s in c.zk_servers for port in s.ports(c.zookeepers > 1)}
        ports |= {(a.ip, a.port): f"agent{a.index}" for a in c.agents}
        if c.tls:
            ports |= {("127.0.0.1", s.secure_port): self.zk_name(s.index) for s in c.zk_servers}
        if c.docker:
            ports[(registry_proc.HOST, c.registry_port)] = "registry"
        return ports

    def busy_ports(self) -> list[str]:
        """Ports of members that are not running but that something else listens on (another
        cluster on the same ports): starting there would fail, or talk to that other server."""
        listening = listening_ports()
        anywhere = {port for ip, port in listening if ip in ("0.0.0.0", "::")}  # IPv6 sockets show as "::"
        running = {p.name for p in self.all_procs() if p.alive()}
        return [f"{ip}:{port} ({name})" for (ip, port), name in sorted(self.planned_ports().items())
                if name not in running and ((ip, port) in listening or port in anywhere)]

    def up(self) -> None:
        busy = self.busy_ports()
        if busy:
            raise SystemExit(f"ports in use by something else: {', '.join(busy)}; choose others (--port, --zk-port) "
                             "or stop what listens there")
        self.run.mkdir(parents=True, exist_ok=True)
        if self.config.tls:
            tls.ensure(self.run)
        self.config.save()
        if self.hostnet:
            self.hostnet.create(self.config.host_plan)
        # In an ensemble the servers are started together: none serves before a quorum runs.
        stopped_zks = [i for i in range(1, self.config.zookeepers + 1) if not self.zk(i).alive()]
        if stopped_zks:
            self.start_zks(stopped_zks)
        for proc in self.dockerds():
            if not proc.alive():
                self.start_dockerd(int(proc.name[len("dockerd-agent"):] or 1) if self.config.hosts else 1)
        if self.config.docker and not self.registry().alive():
            self.start_registry()
        # So are the masters: the replicated log initializes itself only when every replica is
        # there (Mesos' --log_auto_initialize) and recovers only with a quorum.
        stopped_masters = [k for k in range(1, self.config.masters + 1) if not self.master(k).alive()]
        if stopped_masters:
            self.start_masters(stopped_masters)
        if self.config.ha:
            self.wait_leader()
        task_ports = self.task_ports()
        if self.hostnet:  # the setting is per network namespace: each agent's host reserves its own
            for spec in self.config.agents:
                self.hostnet.reserve_ports(f"agent{spec.index}",
                                           reserved_ports.render(reserved_ports.task_port_ranges([spec.resources])))
            taken: list[int] = []
        else:
            problem = reserved_ports.reserve(task_ports)
            if problem:
                print(f"warning: {problem}", file=sys.stderr)
            taken = reserved_ports.held(task_ports)
        if taken:
            print(f"warning: task ports held by other sockets now (a task given one fails): "
                  f"{reserved_ports.render(set(taken))}", file=sys.stderr)
        for spec in self.config.agents:
            if not self.agent(spec.index).alive():
                self.start_agent(spec.index, wait=False)
        want = {a.ip for a in self.config.agents}
        if not wait_for(lambda: want <= set(self.registered_agents()), 90):
            missing = sorted(want - set(self.registered_agents()))
            raise SystemExit(f"agents {missing} did not register; see {self.logs}")
        if not self.config.ha and not self.announcer().alive():
            self.start_announcer()

    # --- teardown -----------------------------------------------------------------------------

    def down(self) -> list[str]:
        """Stop everything; return what could not be cleaned (empty when all is gone)."""
        for proc in self.all_procs():
            if proc.name.startswith("dockerd"):
                self._remove_containers(proc)
            proc.stop(timeout=30)
        for pid in self.strays():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_for(lambda: not self.strays(), 10)
        if self.config.docker:
            sock_dir = Path(self.config.docker_sock).parent
            _unmount_under(sock_dir)
            for data in [self.run / "docker", *(self.run / f"agent{a.index}-docker" for a in self.config.agents)]:
                _unmount_under(data)
            shutil.rmtree(sock_dir, ignore_errors=True)
        left = self.leftovers()
        if self.hostnet and not left:  # the namespaces once nothing runs in them any more
            # Processes started with `host exec` are not ours to stop: name them, keep the hosts.
            left = self.hostnet.processes() or self.hostnet.destroy()
        return left

    def task_ports(self) -> set[int]:
        """Every port the agents offer to tasks."""
        return reserved_ports.task_port_ranges(a.resources for a in self.config.agents)

    def _remove_containers(self, dockerd: Proc) -> None:
        if not dockerd.alive():
            return
        k = int(dockerd.name[len("dockerd-agent"):] or 1) if self.config.hosts else 1
        ids = self.docker("ps", "-aq", check=False, k=k).stdout.split()
        if ids:
            self.docker("rm", "-f", *ids, check=False, k=k)

    def strays(self) -> list[int]:
        """Live processes working in this run dir that no agent owns any more: executors (and
        their tasks) an agent recovered after ``agent restart`` are re-parented to init, so
        stopping the agents does not reach them."""
        run, found = str(self.run.resolve()), []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                cwd = os.readlink(entry / "cwd")
            except OSError:
                continue
            if (run + "/" in cmdline or cwd.startswith(run + "/")) and start_time(int(entry.name)) is not None:
                found.append(int(entry.name))
        return found

    def leftovers(self) -> list[str]:
        left = [f"process {p.name} (pid {p.pid})" for p in self.all_procs() if p.alive()]
        left += [f"process {pid} working in {self.run}" for pid in self.strays()]
        ports = set(self.planned_ports())
        listening = listening_ports()
        left += [f"port {ip}:{port} still listening" for ip, port in sorted(ports & listening)]
        return left

    def hosts_status(self) -> list[str]:
        """With ``hosts``: one line per host (address, namespace) and the cuts in force."""
        if not self.hostnet:
            return []
        lines = [f"host {h.name:<12} {h.address:<15} netns {netplan.netns(self.config.master_port, h.name)}"
                 for h in self.hostnet.list()]
        cuts = self.hostnet.cuts()
        lines.append("cuts: " + ("; ".join(f"{c['a']} | {c['b']} ({len(c['pairs'])} pairs)" for c in cuts)
                                 if cuts else "none"))
        return lines

    def wipe(self) -> None:
        """Remove the run dir's state but keep the logs of the last run."""
        if not self.run.exists():
            return
        recorded = hostnet.recorded_port(self.run)
        if recorded is not None:  # hosts a failed run left: remove them before forgetting them
            left = hostnet.Hosts(self.run, recorded).destroy()
            if left:
                raise SystemExit(f"cannot remove the last run's {', '.join(left)}; see {self.run / 'hosts.json'}")
        last = self.run / "last-logs"
        shutil.rmtree(last, ignore_errors=True)
        if self.logs.exists():
            self.logs.rename(last)
        _unmount_under(self.run)
        for entry in self.run.iterdir():
            if entry.name != "last-logs":
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink()

    # --- status -------------------------------------------------------------------------------

    def status(self) -> list[str]:
        if self.config.ha:
            return self._ha_status() + self.hosts_status()
        lines = []
        for proc in reversed(self.all_procs()):
            state = f"running (pid {proc.pid})" if proc.alive() else "stopped"
            lines.append(f"{proc.name:<10} {state:<22} {self._where(proc.name)}")
        try:
            registered = self.registered_agents()
            lines.append(f"registered agents: {', '.join(sorted(registered)) or 'none'}")
        except Exception:  # noqa: BLE001 - master down: say so
            lines.append("registered agents: unknown (master not answering)")
        return lines + self.hosts_status()

    def _ha_status(self) -> list[str]:
        """Every member, ZooKeeper's mode of each server and its quorum, which master leads."""
        lines = []
        modes = self.zk_modes()
        leader = self.leading_master()
        for proc in reversed(self.all_procs()):
            state = f"running (pid {proc.pid})" if proc.alive() else "stopped"
            role = ""
            if proc.name.startswith("zk"):
                i = int(proc.name[2:] or 1)
                role = modes.get(i) or ("not serving" if proc.alive() else "")
            elif proc.name.startswith("master"):
                k = int(proc.name[6:] or 1)
                role = "LEADING" if k == leader else ("standby" if proc.alive() else "")
            lines.append(f"{proc.name:<10} {state:<22} {self._where(proc.name)}{'  ' + role if role else ''}")
            if proc.name == self.zk_name(self.config.zookeepers):
                lines.append(f"zookeeper  {members.quorum_state(modes)}")
        lines.append("leading master: " + (f"master{leader} {self.config.master_urls[leader - 1]} "
                                           f"(elected through {self.config.mesos_master})" if leader else "NONE"))
        try:
            registered = self.registered_agents()
            lines.append(f"registered agents: {', '.join(sorted(registered)) or 'none'}")
        except Exception:  # noqa: BLE001 - no leader: say so
            lines.append("registered agents: unknown (no leading master answering)")
        return lines

    def _where(self, name: str) -> str:
        c = self.config
        if name.startswith("master"):
            auth_note = f"; frameworks authenticate as {auth.PRINCIPAL}, ACLs on" if c.auth else ""
            url = c.master_urls[int(name[6:] or 1) - 1]
            return f"{url} (state: {url}/master/state{auth_note})"
        if name.startswith("zk"):
            server = c.zk_servers[int(name[2:] or 1) - 1]
            secure = f" (TLS clients: zk://{server.secure_address})" if c.tls else ""
            return f"{c.zk if name == 'zk' and not c.ha else 'zk://' + server.address}{secure}"
        if name == "dockerd":
            return f"DOCKER_HOST=unix://{c.docker_sock}"
        if name.startswith("dockerd-agent"):
            return f"DOCKER_HOST=unix://{c.agent_docker_sock(int(name[len('dockerd-agent'):]))}"
        if name == "registry":
            return registry_proc.env_line(c.registry_port, c.registry_host) + (" (HTTPS)" if c.tls else "")
        if name == "announcer":
            return f"{c.zk}/mesos"
        spec = c.agents[int(name[5:]) - 1]
        return f"{spec.url} {spec.resources} {spec.attributes}"


def _unmount_under(path: Path) -> None:
    """Lazily unmount everything mounted below ``path`` (dockerd leaves netns and overlay mounts)."""
    if not path.exists():
        return
    prefix = str(path.resolve()).rstrip("/") + "/"
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if (m + "/").startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True)


def wait_port_free(ip: str, port: int, timeout: float = 30) -> bool:
    return wait_for(lambda: not port_open(ip, port), timeout)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003 - urllib's signature
        return None


_NO_REDIRECT = urllib.request.build_opener(_NoRedirect)


def master_state(url: str) -> Optional[dict]:
    """This master's own ``/master/state`` (None when it redirects to another, i.e. does not lead,
    or does not answer)."""
    try:
        with _NO_REDIRECT.open(f"{url}/master/state", timeout=2) as resp:
            return json.load(resp) if resp.status == 200 else None
    except (OSError, ValueError):
        return None


def master_answers(url: str) -> bool:
    """Whether a master's HTTP server answers at all (a standby answers 307, the leader 200, a
    master that knows no leader yet 503)."""
    try:
        with _NO_REDIRECT.open(f"{url}/master/redirect", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
