"""The soak's faults: one function per kind, each returning when its fault is over (what it
stopped is running again). Picked at random (seeded) by the runner."""
from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import requests

from halyard.api.errors import PROXIED  # a scheduler given this header answers itself (never forwards)
from tests.integration.v1client import until

from .observe import Api, Responses
from .procs import UNREACHABLE_GRACE, ZK_SESSION_TIMEOUT, Cluster, SchedulerProc
from .workload import BIG_APP

log = logging.getLogger("soak")
MASTER_UNREACHABLE_AFTER = 3 * 2.0  # minimesos' master: 3 missed pings 2 s apart
BIG_SCALE = 16


@dataclass
class Context:
    cluster: Cluster
    schedulers: list[SchedulerProc]
    api: Api
    responses: Responses
    rng: random.Random
    agents: int
    zk_epoch: Callable[[], Optional[int]]
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def violation(self, text: str) -> None:
        with self.lock:
            self.violations.append(text)
        log.error("VIOLATION %s", text)

    def leader(self, timeout: float = 60) -> SchedulerProc:
        """The scheduler that leads with the newest epoch (waits for one)."""
        def find() -> Optional[SchedulerProc]:
            claims = []
            for s in self.schedulers:
                if s.alive and not s.frozen:
                    stats = s.stats()
                    if stats and stats.get("leader"):
                        claims.append((stats.get("epoch") or 0, s))
            return max(claims, key=lambda c: c[0])[1] if claims else None
        return until(find, timeout, interval=0.3, what="a leader")

    def restart(self, s: SchedulerProc, after: float) -> None:
        time.sleep(after)
        if not s.alive:
            s.start()


def leader_kill9(ctx: Context) -> str:
    s = ctx.leader()
    s.kill9()
    ctx.restart(s, ctx.rng.uniform(2, 5))
    return f"scheduler {s.index}"


def leader_freeze(ctx: Context) -> str:
    """SIGSTOP past the ZooKeeper session timeout, SIGCONT: the deposed leader wakes up. A write
    is waiting for it in its socket backlog when it wakes (sent with the proxied-by header, so it
    answers itself instead of forwarding): a 2xx answer while it still holds its old epoch is a
    write accepted by a deposed leader."""
    s = ctx.leader()
    old_epoch = (s.stats() or {}).get("epoch")
    s.freeze()
    time.sleep(ZK_SESSION_TIMEOUT + ctx.rng.uniform(3, 6))
    answer: dict[str, Any] = {}

    def probe() -> None:
        try:
            answer["resp"] = requests.put(s.url + "/v2/apps" + BIG_APP, params={"force": "true"},
                                          json={"labels": {"fence-probe": str(time.time())}},
                                          headers={PROXIED: "soak-fence-probe"}, timeout=30)
        except requests.RequestException as exc:
            answer["error"] = repr(exc)

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    time.sleep(0.3)   # connected (the kernel accepts into the backlog) before the process wakes
    s.thaw()
    worker.join(40)
    resp = answer.get("resp")
    if resp is None:
        return f"scheduler {s.index} (epoch {old_epoch}), probe: {answer.get('error')}"
    log.info("fence probe via deposed scheduler %d (epoch %s): %d %s", s.index, old_epoch, resp.status_code,
             resp.text[:200])
    if resp.status_code != 503:   # 503: refused as it should be (fenced, or no longer leading)
        ctx.responses.add(resp.status_code, f"fence probe via scheduler {s.index}")
    if resp.status_code < 300:
        now_epoch = (s.stats() or {}).get("epoch")
        if now_epoch is None or old_epoch is None or now_epoch <= old_epoch:
            ctx.violation(f"deposed leader (scheduler {s.index}, epoch {old_epoch}) accepted a write "
                          f"({resp.status_code}) after waking; ZooKeeper's epoch is {ctx.zk_epoch()}")
    return f"scheduler {s.index} (epoch {old_epoch}), probe answered {resp.status_code}"


def zk_restart(ctx: Context) -> str:
    ctx.cluster.run("zk", "restart")
    return "zookeeper"


def master_restart(ctx: Context) -> str:
    ctx.cluster.run("master", "restart")
    return "master"


def _agent_tasks(ctx: Context, k: int) -> dict[str, str]:
    """Task id -> state of every task the master knows on agent ``k`` (127.0.0.K), ended ones too."""
    state = requests.get(ctx.cluster.master + "/master/state", timeout=10).json()
    agent = next((a["id"] for a in state["slaves"] if a["hostname"] == f"127.0.0.{k}"), None)
    return {t["id"]: t["state"] for fw in state["frameworks"] for t in fw["tasks"] + fw["completed_tasks"]
            if t["slave_id"] == agent}


def agent_restart(ctx: Context) -> str:
    """The agent's process crashes and restarts: its running tasks are recovered (killed only
    when Halyard asks: the workload may have)."""
    k = ctx.rng.randint(1, ctx.agents)
    before = [t for t, st in _agent_tasks(ctx, k).items() if st == "TASK_RUNNING"]
    ctx.cluster.run("agent", "restart", str(k))

    def reregistered() -> bool:
        slaves = requests.get(ctx.cluster.master + "/master/slaves", timeout=5).json()["slaves"]
        return any(a["hostname"] == f"127.0.0.{k}" and a["active"] for a in slaves)
    until(reregistered, 60, interval=0.5, what=f"agent {k} registered again")
    time.sleep(3)
    after = _agent_tasks(ctx, k)
    lost = {t: after.get(t, "gone") for t in before
            if after.get(t, "gone") not in ("TASK_RUNNING", "TASK_KILLING", "TASK_KILLED", "TASK_FINISHED")}
    if lost:
        ctx.violation(f"agent {k} restart did not recover {len(lost)} of {len(before)} tasks: "
                      + ", ".join(f"{t} {st}" for t, st in sorted(lost.items())[:5]))
    return f"agent {k}, {len(before)} tasks"


def agent_stop(ctx: Context) -> str:
    """Down past the master's unreachable timeout and Halyard's grace: its tasks are replaced."""
    k = ctx.rng.randint(1, ctx.agents)
    ctx.cluster.run("agent", "stop", str(k))
    time.sleep(MASTER_UNREACHABLE_AFTER + UNREACHABLE_GRACE + ctx.rng.uniform(6, 10))
    ctx.cluster.run("agent", "start", str(k))
    return f"agent {k}"


def docker_kill(ctx: Context) -> str:
    names = ctx.cluster.docker("ps", "--format", "{{.ID}} {{.Names}}").stdout.split("\n")
    ids = [line.split()[0] for line in names if line.strip() and "mesos-" in line]
    if not ids:
        return "no task container"
    cid = ctx.rng.choice(sorted(ids))
    ctx.cluster.docker("kill", cid)
    return f"container {cid[:12]}"


def api_hammer(ctx: Context, threads: int = 6, requests_each: int = 150, seconds: float = 8.0) -> str:
    """Bounded load on one scheduler's API, over loopback."""
    s = ctx.rng.choice([p for p in ctx.schedulers if p.alive and not p.frozen])
    stop = time.monotonic() + seconds
    counts = {"sent": 0}

    def hammer() -> None:
        session = requests.Session()
        for n in range(requests_each):
            if time.monotonic() > stop:
                return
            path = ("/v2/apps", "/v2/tasks", "/v2/deployments", "/v1/jobs")[n % 4]
            try:
                resp = session.get(s.url + path, timeout=10)
            except requests.RequestException:
                continue
            counts["sent"] += 1
            ctx.responses.add(resp.status_code, f"hammer GET {path} via scheduler {s.index}"
                              + (f": {resp.text[:160]!r}" if resp.status_code >= 500 else ""))

    workers = [threading.Thread(target=hammer, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(seconds + 15)
    return f"scheduler {s.index}, {counts['sent']} requests"


def kill_in_transaction(ctx: Context) -> str:
    """A large scale (up, or down again) of the big app, and the leader killed while it is written."""
    s = ctx.leader()
    app = s.url + "/v2/apps" + BIG_APP
    try:
        current = requests.get(app, timeout=10).json()["app"]["instances"]
    except (requests.RequestException, ValueError, KeyError):
        current = 0
    target = 0 if current else BIG_SCALE

    def scale() -> None:
        try:
            resp = requests.put(app, params={"force": "true"}, json={"instances": target}, timeout=20)
            ctx.responses.add(resp.status_code, f"big scale via scheduler {s.index}")
        except requests.RequestException:
            pass

    worker = threading.Thread(target=scale, daemon=True)
    worker.start()
    time.sleep(ctx.rng.uniform(0.05, 1.5))
    s.kill9()
    worker.join(25)
    ctx.restart(s, ctx.rng.uniform(2, 4))
    return f"scheduler {s.index}, {BIG_APP} {current} -> {target}"


KINDS: dict[str, Callable[[Context], str]] = {
    "leader-kill9": leader_kill9,
    "leader-freeze": leader_freeze,
    "zk-restart": zk_restart,
    "master-restart": master_restart,
    "agent-restart": agent_restart,
    "agent-stop": agent_stop,
    "docker-kill": docker_kill,
    "api-hammer": api_hammer,
    "kill-in-txn": kill_in_transaction,
}
