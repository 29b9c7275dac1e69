"""minimesos: a real local Mesos cluster in one command (see README.md). Standard library only."""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import install  # noqa: E402
from cluster import Cluster, Config, default_agents, wait_port_free  # noqa: E402
import hosts as hostnet  # noqa: E402
import members  # noqa: E402
import netplan  # noqa: E402
import registry_proc  # noqa: E402

HERE = Path(__file__).resolve().parent


def run_dir() -> Path:
    return Path(os.environ.get("MINIMESOS_RUN_DIR", HERE / ".run")).resolve()


def loaded() -> Cluster:
    config = Config.load(run_dir())
    if config is None:
        raise SystemExit(f"no cluster in {run_dir()}; start one with minimesos/up")
    return Cluster(config)


def cmd_up(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    existing = Config.load(run_dir())
    cluster = Cluster(existing) if existing else None
    if cluster and any(p.alive() for p in cluster.all_procs()):
        same = (len(existing.agents) == args.agents and existing.master_port == args.port
                and existing.docker == (not args.no_docker) and existing.zk_port == args.zk_port
                and existing.auth == args.auth and existing.masters == args.masters
                and existing.zookeepers == args.zookeepers and existing.hosts == args.hosts
                and existing.tls == args.tls)
        if not same:
            raise SystemExit(f"a different cluster runs from {run_dir()} ({len(existing.agents)} agents, "
                             f"{existing.masters} master(s) from port {existing.master_port}, {existing.zookeepers} "
                             f"ZooKeeper(s), docker {existing.docker}, auth {existing.auth}, hosts {existing.hosts}, "
                             f"tls {existing.tls}); run minimesos/down first")
    elif cluster:
        cluster.wipe()
    launcher = install.ensure(docker=not args.no_docker, hosts=args.hosts)
    overrides = json.loads(Path(args.config).read_text()).get("agents", []) if args.config else []
    addresses = ([h.address for h in netplan.plan(args.port, args.masters, args.zookeepers, args.agents)
                   if h.role == "agent"] if args.hosts else None)
    config = Config(run_dir=str(run_dir()), master_port=args.port, zk_port=args.zk_port,
                    agents=default_agents(args.agents, args.port, args.resources, overrides, args.task_ports,
                                          addresses),
                    docker=not args.no_docker, launcher=str(launcher), auth=args.auth,
                    masters=args.masters, zookeepers=args.zookeepers, hosts=args.hosts, tls=args.tls)
    Cluster(config).up()
    env = "\n".join(config.env_lines())
    print(env)
    print(f"# written to {run_dir() / 'cluster.env'}; up in {time.monotonic() - t0:.1f}s", file=sys.stderr)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    config = Config.load(run_dir())
    if config is None:
        print("nothing to stop")
        return 0
    cluster = Cluster(config)
    left = cluster.down()
    if left:
        print("still running after down:\n  " + "\n  ".join(left), file=sys.stderr)
        return 1
    cluster.wipe()
    print("stopped; logs of this run in", run_dir() / "last-logs")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    config = Config.load(run_dir())
    if config is None:
        print("no cluster")
        return 1
    cluster = Cluster(config)
    print("\n".join(cluster.status()))
    return 0 if all(p.alive() for p in cluster.all_procs()) else 1


def cmd_agent(args: argparse.Namespace) -> int:
    cluster = loaded()
    k = args.k
    if not 1 <= k <= len(cluster.config.agents):
        raise SystemExit(f"no agent {k} (agents 1..{len(cluster.config.agents)})")
    proc, spec = cluster.agent(k), cluster.config.agents[k - 1]
    if args.action == "stop":
        # A node going down: the agent stops and takes its executors and tasks with it.
        proc.stop(timeout=30, sig=signal.SIGTERM)
    elif args.action == "start":
        wait_port_free(spec.ip, spec.port)
        cluster.start_agent(k)
    else:
        # An agent process that crashes and is restarted by its supervisor: executors keep
        # running and the new agent recovers them from its work dir.
        proc.stop(timeout=5, sig=signal.SIGKILL)
        wait_port_free(spec.ip, spec.port)
        cluster.start_agent(k)
    return 0


def _members(action: str, given: str | None, count: int, what: str, alive, leader) -> list[int]:
    """The members a command acts on: K if given; else the only one; else, for ``start``, every
    stopped one, and for the other actions the leading one."""
    try:
        k = members.parse_member(given, count, what)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    if k is not None:
        return [k]
    if count == 1:
        return [1]
    if action == "start":
        return [i for i in range(1, count + 1) if not alive(i)]
    lead = leader()
    if lead is None:
        raise SystemExit(f"no leading {what} now; name one: minimesos/{what if what == 'master' else 'zk'} "
                         f"{action} K (1..{count})")
    return [lead]


def _act(action: str, which: list[int], proc, port, start, address=lambda k: "127.0.0.1") -> int:
    """``stop``, ``kill``, ``start`` or ``restart`` members on their same data (ports freed in between).
    ``kill`` is SIGKILL: a crash, with nothing closed (ZooKeeper keeps a master's session, and so its
    leadership, until the session times out)."""
    if action in ("stop", "restart", "kill"):
        for k in which:
            proc(k).stop(timeout=5, sig=signal.SIGKILL) if action == "kill" else proc(k).stop(timeout=30)
        for k in which:
            for p in port(k):
                wait_port_free(address(k), p)
    if action in ("start", "restart") and which:
        start(which)
    return 0


def _leader(number: int | None, what: str) -> int:
    if number is None:
        print(f"no leading {what}", file=sys.stderr)
        return 1
    print(number)
    return 0


def cmd_master(args: argparse.Namespace) -> int:
    cluster = loaded()
    c = cluster.config
    if args.action == "leader":
        return _leader(cluster.leading_master(), "master")
    which = _members(args.action, args.k, c.masters, "master", lambda k: cluster.master(k).alive(),
                     cluster.leading_master)
    ports = members.master_ports(c.master_port, c.masters)
    return _act(args.action, which, cluster.master, lambda k: [ports[k - 1]], cluster.start_masters,
                lambda k: c.address(f"master{k}"))


def cmd_zk(args: argparse.Namespace) -> int:
    cluster = loaded()
    c = cluster.config
    if args.action == "leader":
        return _leader(cluster.leading_zk(), "ZooKeeper server")
    which = _members(args.action, args.k, c.zookeepers, "zookeeper", lambda i: cluster.zk(i).alive(),
                     cluster.leading_zk)
    servers = c.zk_servers
    return _act(args.action, which, cluster.zk, lambda i: sorted(servers[i - 1].ports(c.zookeepers > 1)),
                cluster.start_zks, lambda i: servers[i - 1].host)


def cmd_registry(args: argparse.Namespace) -> int:
    """Start or stop only the local registry (the rest of a running cluster keeps running)."""
    cluster = loaded()
    if not cluster.config.docker:
        raise SystemExit("this cluster runs without Docker (--no-docker): no registry")
    if args.action == "start":
        if not all(d.alive() for d in cluster.dockerds()):
            raise SystemExit("dockerd is not running; start the cluster with minimesos/up")
        cluster.start_registry()
        port = cluster.config.registry_port
        host = cluster.config.registry_host
        registry_proc.add_env_line(run_dir() / "cluster.env", port, host)
        print(registry_proc.env_line(port, host))
    elif args.action == "stop":
        cluster.registry().stop(timeout=10)
    else:
        c = cluster.config
        tls_files = c.tls_files if c.tls else None
        print(registry_proc.status(c.registry_port, c.registry_host, tls_files))
        return 0 if registry_proc.answering(c.registry_port, c.registry_host, tls_files) else 1
    return 0


def _hosts(cluster: Cluster) -> hostnet.Hosts:
    if cluster.hostnet is None:
        raise SystemExit("this cluster has no hosts: start it with minimesos/up --hosts")
    return cluster.hostnet


def cmd_host(args: argparse.Namespace) -> int:
    """``host add NAME``, ``host exec NAME -- CMD...``, ``host list``."""
    if args.action == "list" and args.rest:
        raise SystemExit("host list takes no arguments")
    if args.action != "list" and not args.rest:
        raise SystemExit(f"host {args.action} needs a host name")
    if args.action == "add" and len(args.rest) > 1:
        raise SystemExit("host add takes one name")
    hosts = _hosts(loaded())
    if args.action == "list":
        for h in hosts.list():
            print(f"{h.name} {h.address}")
        return 0
    name, rest = args.rest[0], args.rest[1:]
    if args.action == "add":
        host = hosts.add(name)
        print(f"{host.name} {host.address}")
        return 0
    hosts.get(name)
    if rest[:1] == ["--"]:
        rest = rest[1:]
    if not rest:
        raise SystemExit("host exec NAME -- CMD...: no command given")
    argv = hosts.wrap(name, rest)
    os.execvp(argv[0], argv)
    return 127  # not reached


def cmd_net(args: argparse.Namespace) -> int:
    """``net cut A B [--for SECONDS]``, ``net heal [A B]``, ``net show``. The arguments are checked
    before the cluster is looked at."""
    if args.action == "cut" and len(args.targets) != 2:
        raise SystemExit("net cut needs two hosts or roles: net cut A B [--for SECONDS]")
    if args.action != "cut" and args.seconds is not None:
        raise SystemExit(f"--for is for net cut, not net {args.action}")
    if args.action == "heal" and len(args.targets) not in (0, 2):
        raise SystemExit("net heal takes no argument (heal everything) or two: net heal A B")
    if args.action == "show" and args.targets:
        raise SystemExit("net show takes no arguments")
    try:
        seconds = netplan.parse_seconds(args.seconds)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    hosts = _hosts(loaded())
    if args.action == "cut":
        found = hosts.cut(args.targets[0], args.targets[1], seconds)
        when = f" for {seconds:g}s" if seconds else ""
        print(f"cut{when}: " + ", ".join(f"{a}-{b}" for a, b in found))
        return 0
    if args.action == "heal":
        if args.cut is not None:  # a --for cut's own timer
            time.sleep(max(0.0, float(args.after or 0)))
            hosts.heal(cut_id=args.cut)
            return 0
        healed = hosts.heal(*args.targets) if args.targets else hosts.heal()
        print("healed: " + (", ".join(f"{a}-{b}" for a, b in healed) or "nothing was cut"))
        return 0
    cuts = hosts.cuts()
    for c in cuts:
        until = f" (heals in {max(0.0, c['until'] - time.time()):.0f}s)" if c.get("until") else ""
        print(f"{c['a']} | {c['b']}{until}: " + ", ".join(f"{a}-{b}" for a, b in c["pairs"]))
    if not cuts:
        print("no cuts")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="minimesos", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="install what is missing, start the cluster, wait for every agent")
    up.add_argument("--agents", type=int, default=3)
    up.add_argument("--no-docker", action="store_true", help="no dockerd; agents use the mesos containerizer only")
    up.add_argument("--port", type=int, default=5050, help="master port (agent K listens on PORT+K)")
    up.add_argument("--zk-port", type=int, default=2181)
    up.add_argument("--task-ports", type=int, default=31000,
                    help="first port of agent 1's task range (agent K: +1000(K-1), 1000 ports each)")
    up.add_argument("--resources", default="cpus:2;mem:2048;disk:4096",
                    help="each agent's scalar resources (its port range is added)")
    up.add_argument("--config", help="JSON {agents: [{resources, attributes, zone, region}, ...]} per agent")
    up.add_argument("--masters", type=int, default=1,
                    help="masters elected through ZooKeeper, with a replicated-log registry (quorum: a majority); "
                         "master K listens on PORT+100(K-1)")
    up.add_argument("--zookeepers", type=int, default=1,
                    help="ZooKeeper servers (an ensemble when > 1); server I serves clients on ZK_PORT+I-1")
    up.add_argument("--auth", action="store_true",
                    help="HTTP framework authentication (basic; principal 'halyard', secret generated in the run "
                         "dir) and ACLs that let only that principal register, in role '*'")
    up.add_argument("--hosts", action="store_true",
                    help="every master, ZooKeeper server and agent in its own network namespace (a host) with its "
                         "own address from 198.18.0.0/15 on a bridge; see minimesos/host and minimesos/net")
    up.add_argument("--tls", action="store_true",
                    help="a local CA and certificates in the run dir's tls/; ZooKeeper also serves TLS clients "
                         "(client certificates required) on ZK_PORT+3000, the registry serves HTTPS; the masters and "
                         "agents stay plain (libmesos' OpenSSL 1.0 is stubbed); cluster.env gets ZK_TLS and TLS_*")
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop everything up started").set_defaults(func=cmd_down)
    sub.add_parser("status", help="what runs, with URLs").set_defaults(func=cmd_status)
    agent = sub.add_parser("agent", help="stop, start or restart one agent (same work dir)")
    agent.add_argument("action", choices=["stop", "start", "restart"])
    agent.add_argument("k", type=int)
    agent.set_defaults(func=cmd_agent)
    for name, func, what in (("master", cmd_master, "master"), ("zk", cmd_zk, "ZooKeeper server")):
        p = sub.add_parser(name, help=f"stop, start, restart or kill (SIGKILL) a {what}, or print the leader's number")
        p.add_argument("action", choices=["stop", "start", "restart", "kill", "leader"])
        p.add_argument("k", nargs="?", help=f"the {what}'s number (default: the only one, or the leading one; "
                                            "start: every stopped one)")
        p.set_defaults(func=func)
    reg = sub.add_parser("registry", help="start, stop or check only the local Docker registry (127.0.0.1:5000)")
    reg.add_argument("action", choices=["start", "stop", "status"])
    reg.set_defaults(func=cmd_registry)
    host = sub.add_parser("host", help="hosts of an up --hosts cluster: add NAME, exec NAME -- CMD..., list")
    host.add_argument("action", choices=["add", "exec", "list"])
    host.add_argument("rest", nargs=argparse.REMAINDER, help="NAME, and for exec: -- CMD...")
    host.set_defaults(func=cmd_host)
    net = sub.add_parser("net", help="cut A B [--for SECONDS], heal [A B], show: partitions between hosts")
    net.add_argument("action", choices=["cut", "heal", "show"])
    net.add_argument("targets", nargs="*", help="a host, a role (masters, zks, agents) or all")
    net.add_argument("--for", dest="seconds", help="cut only: heal by itself after SECONDS")
    net.add_argument("--cut", help=argparse.SUPPRESS)  # a --for timer: the cut it heals
    net.add_argument("--after", help=argparse.SUPPRESS)
    net.set_defaults(func=cmd_net)
    args = ap.parse_args(argv)
    if getattr(args, "agents", 1) < 1 or getattr(args, "agents", 1) > 20:
        ap.error("--agents must be between 1 and 20")
    for flag in ("masters", "zookeepers"):
        if not 1 <= getattr(args, flag, 1) <= 7:
            ap.error(f"--{flag} must be between 1 and 7")
    if getattr(args, "action", None) == "leader" and getattr(args, "k", None) is not None:
        ap.error("leader takes no number")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
