"""Scheduler figures on the local cluster (minimesos/up first). Not a test: prints numbers.

    .venv/bin/python bench/scheduler.py [deploy] [offers] [failover] [memory]

deploy    100 instances (command tasks) and 50 Docker instances through a real scheduler: seconds
          from POST to all TASK_RUNNING, and offer cycles used
offers    offer -> ACCEPT latency with 1,000 tasks pending: the engine and planner handle a batch
          of offers and the launches are persisted in the real ZooKeeper before the ACCEPT
failover  two schedulers; the leader is killed (-9): seconds until the standby is subscribed and
          reconciled, for ZooKeeper session timeouts of 4 s and 10 s
memory    RSS of a process holding 10,000 tasks (loaded from ZooKeeper), and the largest znode
constrained  offer -> ACCEPT with constraints counted over the whole cluster: 1,000 agents known
          (10 racks, 5 zones), 10,000 tasks running on them, an app with [rack_id, MAX_PER, 150]
          and [@zone, GROUP_BY] missing 30 instances, a batch of offers from 3 agents (the engine's
          part, decoding and rendering included; the ZooKeeper write is in "offers")
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.integration.conftest import MINIMESOS, read_env  # noqa: E402
from tests.integration.harness import SchedulerProc, sleep_app, teardown, unique  # noqa: E402
from tests.integration.v1client import until  # noqa: E402

CLUSTER = read_env(MINIMESOS / ".run" / "cluster.env")
LOGS = Path("/tmp/halyard-bench")
LOGS.mkdir(exist_ok=True)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def deploy() -> None:
    name = unique("halyard-bench")
    s = SchedulerProc(CLUSTER, unique("halyard-bench"), name, LOGS).start()
    try:
        until(s.leading, 30)
        until(lambda: s.stats()["offerCycles"] is not None, 30)
        for app, n, docker in (("/bench/hundred", 100, False), ("/bench/docker", 50, True)):
            cycles = s.stats()["offerCycles"]
            t0 = time.monotonic()
            assert s.post_app(sleep_app(app, n, docker=docker)).status_code == 201
            until(lambda: len(s.running(app)) == n, 180, interval=0.05)
            took = time.monotonic() - t0
            print(f"deploy {n} {'Docker' if docker else 'command'} instances: {took:.2f}s to all TASK_RUNNING, "
                  f"{s.stats()['offerCycles'] - cycles} offer cycle(s) with launches")
        print(f"scheduler RSS with 150 tasks: {rss_mb(s.proc.pid):.0f} MB")
        print(f"offer -> ACCEPT (live, includes the ZooKeeper write): {s.stats()['offerToAcceptMs']}")
        for app in ("/bench/hundred", "/bench/docker"):
            requests.delete(s.url + "/v2/apps" + app, timeout=10)
        gone = [s.url + "/v2/apps" + app for app in ("/bench/hundred", "/bench/docker")]
        # 50 Docker tasks take minutes to stop on the local cluster (one dockerd, sequential kills)
        until(lambda: all(requests.get(u, timeout=5).status_code == 404 for u in gone), 400, interval=0.5)
    finally:
        s.stop()
        teardown(CLUSTER, name)


def _offer(n: int, cpus: float, mem: float) -> dict:
    agent = f"S{n}"
    return {"id": {"value": f"O-{uuid.uuid4().hex[:8]}"}, "agent_id": {"value": agent}, "hostname": f"10.0.0.{n}",
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}, "role": "*"},
                          {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}, "role": "*"},
                          {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 32999}]},
                           "role": "*"}],
            "attributes": []}


def offers() -> None:
    from kazoo.client import KazooClient

    from halyard.engine.engine import Engine
    from halyard.engine.messages import Launch, Offers, Persist, PutApp, Subscribed
    from halyard.mesos.codec import decode_offer, task_infos
    from halyard.placement import StrategyRegistry
    from halyard.spec.validation import parse_app
    from halyard.store.zk import ZkStore

    zk = KazooClient(hosts=CLUSTER["ZK"].removeprefix("zk://"), timeout=10)
    zk.start()
    registry = StrategyRegistry()
    try:
        for label, agents, per_agent_cpus in (("3 agents with room for 30 tasks", 3, 1.0),
                                              ("100 agents with room for all 1,000", 100, 2.0)):
            samples, planning, writing = [], [], []
            for _ in range(15):
                root = f"/bench-{uuid.uuid4().hex[:8]}"
                store = ZkStore(zk, root)
                store.ensure_layout()
                store.become_leader()
                engine = Engine(registry)
                engine.handle(PutApp(parse_app({"id": "/bench/pending", "cmd": "x", "cpus": 0.1, "mem": 16,
                                                "instances": 1000})))
                engine.handle(Subscribed("F"))
                raw = [_offer(i, per_agent_cpus, 4096) for i in range(agents)]
                t0 = time.perf_counter()  # decoding the offers and rendering the TaskInfos count too
                instructions = engine.handle(Offers(tuple(decode_offer(o) for o in raw)))
                for ins in instructions:
                    if isinstance(ins, Launch):
                        task_infos(ins)
                t1 = time.perf_counter()
                for ins in instructions:
                    if isinstance(ins, Persist):
                        store.commit(ins)
                t2 = time.perf_counter()
                samples.append((t2 - t0) * 1000)
                planning.append((t1 - t0) * 1000)
                writing.append((t2 - t1) * 1000)
                launched = sum(len(i.tasks) for i in instructions if hasattr(i, "tasks") and hasattr(i, "offer_ids"))
                zk.delete(root, recursive=True)
                time.sleep(0.5)  # let ZooKeeper settle after the recursive delete
            samples.sort()
            print(f"offer -> ACCEPT with 1,000 pending, {label} ({launched} launched): "
                  f"p50 {statistics.median(samples):.1f} ms, p99 {samples[int(0.99 * (len(samples) - 1))]:.1f} ms, "
                  f"max {samples[-1]:.1f} ms (n={len(samples)}; of which planning p50 "
                  f"{statistics.median(planning):.1f} ms, ZooKeeper write p50 {statistics.median(writing):.1f} ms)")
    finally:
        zk.stop()


def failover() -> None:
    for timeout in ("4s", "10s"):
        name, chroot = unique("halyard-bench"), unique("halyard-bench")
        a = SchedulerProc(CLUSTER, chroot, name, LOGS, "--zk-session-timeout", timeout).start()
        b = SchedulerProc(CLUSTER, chroot, name, LOGS, "--zk-session-timeout", timeout).start()
        try:
            until(lambda: a.leading() or b.leading(), 30)
            leader, standby = (a, b) if a.leading() else (b, a)
            leader.post_app(sleep_app("/bench/ha", 3))
            until(lambda: len(leader.running("/bench/ha")) == 3, 60)
            t0 = time.monotonic()
            leader.kill9()
            until(lambda: standby.leading() and standby.stats()["reconciling"] == 0, 60, interval=0.05)
            print(f"failover (session timeout {timeout}): leader killed -> standby subscribed and reconciled "
                  f"in {time.monotonic() - t0:.2f}s")
        finally:
            a.stop()
            b.stop()
            teardown(CLUSTER, name)


MEMORY_PROBE = r'''
import sys, time, json
from kazoo.client import KazooClient
import halyard.runtime.wiring  # everything a scheduler imports: pymesos, kazoo, FastAPI, uvicorn
from halyard.engine.engine import Engine
from halyard.placement import StrategyRegistry
from halyard.store.zk import ZkStore
def rss():
    return int([l for l in open("/proc/self/status") if l.startswith("VmRSS")][0].split()[1]) / 1024
zk = KazooClient(hosts=sys.argv[1], timeout=10); zk.start()
store = ZkStore(zk, sys.argv[2])
before = rss()
t0 = time.monotonic(); snap = store.load(); took = time.monotonic() - t0
engine = Engine(StrategyRegistry()); engine.load(snap)
sizes = store.sizes()
print(json.dumps({"before": before, "after": rss(), "tasks": len(snap.tasks), "apps": len(snap.apps),
                  "load_s": took, "largest": max(sizes.values()), "largest_path": max(sizes, key=sizes.get)}))
'''


def memory() -> None:
    from kazoo.client import KazooClient

    from halyard.engine.app_records import AppRecord, TaskRecord
    from halyard.engine.messages import Persist
    from halyard.spec.validation import parse_app
    from halyard.store.zk import ZkStore

    hosts = CLUSTER["ZK"].removeprefix("zk://")
    root = f"/bench-{uuid.uuid4().hex[:8]}"
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start()
    try:
        store = ZkStore(zk, root)
        store.ensure_layout()
        store.become_leader()
        apps = [AppRecord(parse_app({"id": f"/bench/app-{i}", "cmd": "serve", "instances": 100,
                                     "env": {"A": "1"}, "labels": {"team": "bench"},
                                     "constraints": [["hostname", "UNIQUE"]]}), 1.0, 1.0) for i in range(100)]
        tasks = [TaskRecord(f"bench_app-{i}.{uuid.uuid4().hex}", f"/bench/app-{i}", 1.0, f"agent-{j % 1000}",
                            f"10.0.{j % 250}.{j % 200}", (31000 + j % 1000,), state="TASK_RUNNING", staged_at=1.0,
                            started_at=2.0, resources=(0.1, 64.0, 0.0, 0.0))
                 for i in range(100) for j in range(100)]
        t0 = time.monotonic()
        store.commit(Persist(apps=apps, tasks=tasks))
        wrote = time.monotonic() - t0
        out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, hosts, root], capture_output=True, text=True,
                             check=True).stdout
        import json

        data = json.loads(out)
        print(f"10,000 tasks + 100 apps written to ZooKeeper in {wrote:.2f}s; loaded in {data['load_s']:.2f}s")
        print(f"scheduler process RSS: {data['before']:.0f} MB with its libraries, {data['after']:.0f} MB with "
              f"{data['tasks']} tasks and {data['apps']} apps in state")
        print(f"largest znode: {data['largest']} bytes ({data['largest_path'].removeprefix(root)})")
    finally:
        zk.delete(root, recursive=True)
        zk.stop()


def constrained() -> None:
    from halyard.cluster.mesos_types import AgentSeen
    from halyard.engine.app_records import AppRecord, Snapshot, TaskRecord
    from halyard.engine.engine import Engine
    from halyard.engine.messages import AgentsListed, Launch, Offers, Subscribed
    from halyard.mesos.codec import decode_offer, task_infos
    from halyard.placement import StrategyRegistry
    from halyard.spec.validation import parse_app

    agents = [AgentSeen(f"S{i}", f"10.0.{i // 250}.{i % 250}", {"rack_id": f"rack-{i % 10}"}, "local", f"zone-{i % 5}")
              for i in range(1000)]
    filler = parse_app({"id": "/bench/filler", "cmd": "x", "cpus": 0.1, "mem": 16, "instances": 9_000})
    web = parse_app({"id": "/bench/web", "cmd": "x", "cpus": 0.1, "mem": 16, "instances": 1030,
                     "constraints": [["rack_id", "MAX_PER", "150"], ["@zone", "GROUP_BY"]]})
    tasks = {}
    for i in range(10_000):
        app_id = "/bench/web" if i < 1000 else "/bench/filler"
        task = TaskRecord(f"t{i}", app_id, 1.0, f"S{i % 1000}", agents[i % 1000].hostname, (), state="TASK_RUNNING",
                          started_at=1.0, resources=(0.1, 16.0, 0.0, 0.0))
        tasks[task.task_id] = task
    apps = {a.id: AppRecord(a, 1.0, 1.0) for a in (filler, web)}
    samples = []
    for _ in range(15):
        engine = Engine(StrategyRegistry())
        engine.load(Snapshot(apps=dict(apps), tasks=dict(tasks)))
        engine.handle(Subscribed("F"))
        engine.handle(AgentsListed(tuple(agents)))
        raw = [_offer(n, 4.0, 4096) for n in range(3)]
        for n, offer in enumerate(raw):  # the offered agents are three of the listed ones
            offer["hostname"] = agents[n].hostname
            offer["attributes"] = [{"name": "rack_id", "type": "TEXT", "text": {"value": f"rack-{n % 10}"}}]
            offer["domain"] = {"fault_domain": {"region": {"name": "local"}, "zone": {"name": f"zone-{n % 5}"}}}
        t0 = time.perf_counter()
        out = engine.handle(Offers(tuple(decode_offer(o) for o in raw)))
        for ins in out:
            if isinstance(ins, Launch):
                task_infos(ins)
        samples.append((time.perf_counter() - t0) * 1000)
    launched = sum(len(i.tasks) for i in out if isinstance(i, Launch))
    samples.sort()
    print(f"offer -> ACCEPT, constraints over 1,000 agents and 10,000 tasks ({launched} launched from 3 offers): "
          f"p50 {statistics.median(samples):.1f} ms, p99 {samples[int(0.99 * (len(samples) - 1))]:.1f} ms, "
          f"max {samples[-1]:.1f} ms (n={len(samples)})")


def main(argv: list[str]) -> int:
    chosen = argv or ["deploy", "offers", "failover", "memory"]
    for name in chosen:
        {"deploy": deploy, "offers": offers, "failover": failover, "memory": memory,
         "constrained": constrained}[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
