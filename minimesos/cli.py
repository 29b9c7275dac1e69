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
                and existing.auth == args.auth)
        if not same:
            raise SystemExit(f"a different cluster runs from {run_dir()} ({len(existing.agents)} agents, master port "
                             f"{existing.master_port}, docker {existing.docker}, auth {existing.auth}); "
                             "run minimesos/down first")
    elif cluster:
        cluster.wipe()
    launcher = install.ensure(docker=not args.no_docker)
    overrides = json.loads(Path(args.config).read_text()).get("agents", []) if args.config else []
    config = Config(run_dir=str(run_dir()), master_port=args.port, zk_port=args.zk_port,
                    agents=default_agents(args.agents, args.port, args.resources, overrides, args.task_ports),
                    docker=not args.no_docker, launcher=str(launcher), auth=args.auth)
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


def _stop_start(action: str, proc, port: int, start) -> int:
    """``stop``, ``start`` or ``restart`` one component on the same data (its port freed in between)."""
    if action in ("stop", "restart"):
        proc.stop(timeout=30)
        wait_port_free("127.0.0.1", port)
    if action in ("start", "restart"):
        start()
    return 0


def cmd_master(args: argparse.Namespace) -> int:
    cluster = loaded()
    return _stop_start(args.action, cluster.master(), cluster.config.master_port, cluster.start_master)


def cmd_zk(args: argparse.Namespace) -> int:
    cluster = loaded()
    return _stop_start(args.action, cluster.zk(), cluster.config.zk_port, cluster.start_zk)


def cmd_registry(args: argparse.Namespace) -> int:
    """Start or stop only the local registry (the rest of a running cluster keeps running)."""
    cluster = loaded()
    if not cluster.config.docker:
        raise SystemExit("this cluster runs without Docker (--no-docker): no registry")
    if args.action == "start":
        if not cluster.dockerd().alive():
            raise SystemExit("dockerd is not running; start the cluster with minimesos/up")
        cluster.start_registry()
        port = cluster.config.registry_port
        registry_proc.add_env_line(run_dir() / "cluster.env", port)
        print(registry_proc.env_line(port))
    elif args.action == "stop":
        cluster.registry().stop(timeout=10)
    else:
        print(registry_proc.status(cluster.config.registry_port))
        return 0 if registry_proc.answering(cluster.config.registry_port) else 1
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
    up.add_argument("--auth", action="store_true",
                    help="HTTP framework authentication (basic; principal 'halyard', secret generated in the run "
                         "dir) and ACLs that let only that principal register, in role '*'")
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop everything up started").set_defaults(func=cmd_down)
    sub.add_parser("status", help="what runs, with URLs").set_defaults(func=cmd_status)
    agent = sub.add_parser("agent", help="stop, start or restart one agent (same work dir)")
    agent.add_argument("action", choices=["stop", "start", "restart"])
    agent.add_argument("k", type=int)
    agent.set_defaults(func=cmd_agent)
    for name, func in (("master", cmd_master), ("zk", cmd_zk)):
        p = sub.add_parser(name, help=f"stop, start or restart the {name}")
        p.add_argument("action", choices=["stop", "start", "restart"])
        p.set_defaults(func=func)
    reg = sub.add_parser("registry", help="start, stop or check only the local Docker registry (127.0.0.1:5000)")
    reg.add_argument("action", choices=["start", "stop", "status"])
    reg.set_defaults(func=cmd_registry)
    args = ap.parse_args(argv)
    if getattr(args, "agents", 1) < 1 or getattr(args, "agents", 1) > 20:
        ap.error("--agents must be between 1 and 20")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
