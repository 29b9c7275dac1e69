"""The soak's faults: one function per kind, each returning when its fault is over (what it
stopped is running again). Picked at random (seeded) by the runner."""
from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import requests

from halyard.api.errors import PROXIED  # a scheduler given this header answers itself (never forwards)
from tests.integration.v1client import until

from .observe import Api, Responses
from .invariants import restarted_by_failover, task_prefix
from .procs import UNREACHABLE_GRACE, ZK_SESSION_TIMEOUT, Cluster, SchedulerProc
from .workload import BIG_APP, STEADY_APP

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
    name: str = ""                       # the framework's name (the master's frameworks are read by it)
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    quorum_lost: list[tuple[float, float]] = field(default_factory=list)   # ZooKeeper without quorum: 503s expected
    figures: dict[str, float] = field(default_factory=dict)   # what the running fault measured (--hosts partitions)

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
    """Task id -> state of every task the master knows on agent ``k`` (127.0.0.K, or its host's address), ended ones too
    (with ``--ha``, from whichever master leads: an overlapping master failover may take a while)."""
    state = until(lambda: requests.get(ctx.cluster.master + "/master/state", timeout=10).json(), 60, interval=1,
                  what="the leading master's state")
    agent = next((a["id"] for a in state["slaves"] if a["hostname"] == ctx.cluster.agent_host(k)), None)
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
        return any(a["hostname"] == ctx.cluster.agent_host(k) and a["active"] for a in slaves)
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
    # --hosts: a dockerd per agent (the agents in a random order, the first one with a task container)
    order = ctx.rng.sample(range(1, ctx.agents + 1), ctx.agents) if ctx.cluster.hosts else [1]
    ids: list[str] = []
    for k in order:
        names = ctx.cluster.docker("ps", "--format", "{{.ID}} {{.Names}}", agent=k).stdout.split("\n")
        ids = [line.split()[0] for line in names if line.strip() and "mesos-" in line]
        if ids:
            break
    if not ids:
        return "no task container"
    cid = ctx.rng.choice(sorted(ids))
    ctx.cluster.docker("kill", cid, agent=k)
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


# --- the production control plane (--ha): 3 masters, 3 ZooKeeper servers ----------------------------

MASTER_SESSION_TIMEOUT = 5.0   # minimesos' HA masters' --zk_session_timeout: a SIGKILLed leader leads until then
FailoverOutcome = tuple[str, Optional[float]]   # (detail, re-subscription seconds or None)


def _master_framework(master: str, name: str) -> Optional[dict[str, Any]]:
    try:
        data = requests.get(master + "/master/frameworks", timeout=5, allow_redirects=False).json()
    except (requests.RequestException, ValueError):
        return None
    return next((f for f in data.get("frameworks", []) if f.get("name") == name), None)


def steady_ids(ctx: Context) -> Optional[set[str]]:
    """The running task ids of the app nothing but faults touches (STEADY_APP), from the leading
    master; None when no master answers."""
    master = ctx.cluster.leading_master()
    fw = _master_framework(master, ctx.name) if master else None
    if fw is None:
        return None
    prefix = task_prefix(STEADY_APP) + "."
    return {t["id"] for t in fw.get("tasks", []) if t["id"].startswith(prefix) and t["state"] == "TASK_RUNNING"}


def follow_failover(ctx: Context, old: Optional[str], t0: float, bound: float = 90) -> tuple[str, Optional[float]]:
    """Waits for a master other than ``old`` to lead and for Halyard to be subscribed to it (the
    leader is looked up again each time: the first one elected may fail over again, as after a
    quorum loss): (the leading master's URL, seconds from its election to the subscription, None
    when the master leading then was elected before ``t0``); a violation and None when Halyard is
    not subscribed to a leader within ``bound``."""
    elected: dict[str, float] = {}   # master URL -> its elected_time
    new: Optional[str] = None
    deadline = time.time() + bound
    while time.time() < deadline:
        new = ctx.cluster.leading_master(timeout=1)
        if new and new != old:
            if new not in elected:
                try:
                    resp = requests.get(new + "/master/state", timeout=5, allow_redirects=False)
                    if resp.status_code == 200 and resp.json().get("elected_time"):
                        elected[new] = resp.json()["elected_time"]
                except (requests.RequestException, ValueError):
                    pass
            fw = _master_framework(new, ctx.name)
            if new in elected and fw and fw.get("active") and fw.get("connected"):
                if elected[new] < t0:   # no master failover happened (a quorum loss it outlived)
                    return new, None
                subscribed = fw.get("reregistered_time") or fw.get("registered_time") or elected[new]
                return new, max(0.0, subscribed - elected[new])
        time.sleep(0.2)
    ctx.violation(f"Halyard not subscribed to a newly elected master (last leader seen: {new}) within "
                  f"{bound:.0f}s of the fault")
    return new or "none", None


def check_same_ids(ctx: Context, before: Optional[set[str]], what: str) -> None:
    """After a master failover settled (agents re-registered): the steady app's tasks are the same."""
    if before is None:
        return
    def settled() -> Optional[set[str]]:
        ids = steady_ids(ctx)
        return ids if ids is not None and len(ids) >= len(before) else None
    try:
        after = until(settled, 60, interval=1, what=f"{STEADY_APP}'s tasks back at the master")
    except TimeoutError:   # what is missing is the finding
        after = steady_ids(ctx) or set()
    time.sleep(3)   # a replacement Halyard launches on reconciliation shows as a new id
    after = steady_ids(ctx) or after
    for problem in restarted_by_failover(before, after, f"{what}: {STEADY_APP}"):
        ctx.violation(problem)


def revive_masters(ctx: Context) -> None:
    """Starts every master that exited (a master whose ZooKeeper session expired aborts by
    design; a supervisor restarts it)."""
    ctx.cluster.run("master", "start")


def master_kill9(ctx: Context) -> FailoverOutcome:
    """The leading master crashes (SIGKILL): a standby leads once its session expires; Halyard
    follows it with the same task ids."""
    before = steady_ids(ctx)
    k = ctx.cluster.output("master", "leader")
    old = ctx.cluster.leading_master()
    t0 = time.time()
    ctx.cluster.run("master", "kill")
    new, resubscribe = follow_failover(ctx, old, t0)
    ctx.cluster.run("master", "start", str(k))
    check_same_ids(ctx, before, "master kill -9")
    return f"master{k} -> {new}", resubscribe


def master_freeze(ctx: Context) -> FailoverOutcome:
    """The leading master stops (SIGSTOP) past its ZooKeeper session: a standby leads, Halyard
    follows; then the old one wakes (SIGCONT), finds itself deposed and aborts (started again) --
    or, alive but still not a standby after 20 s, is killed and started again."""
    before = steady_ids(ctx)
    k = ctx.cluster.output("master", "leader")
    old = ctx.cluster.leading_master()
    pid = ctx.cluster.pid(f"master{k}")
    t0 = time.time()
    os.kill(pid, signal.SIGSTOP)  # type: ignore[arg-type]
    try:
        new, resubscribe = follow_failover(ctx, old, t0)
        time.sleep(ctx.rng.uniform(2, 8))
    finally:
        os.kill(pid, signal.SIGCONT)  # type: ignore[arg-type]
    deadline = time.time() + 20
    while _alive(pid) and time.time() < deadline:
        time.sleep(0.5)
    woke = "still alive" if _alive(pid) else "exited"
    if woke == "still alive":
        ctx.cluster.run("master", "kill", str(k))
    ctx.cluster.run("master", "start", str(k))
    check_same_ids(ctx, before, "master SIGSTOP")
    return f"master{k} frozen -> {new}; on SIGCONT it {woke}", resubscribe


def _zk_kill_for(ctx: Context, which: str) -> str:
    leader = ctx.cluster.output("zk", "leader")
    if leader is None:
        return "no ZooKeeper leader"
    k = leader if which == "leader" else str(ctx.rng.choice([i for i in (1, 2, 3) if str(i) != leader]))
    ctx.cluster.run("zk", "kill", k)
    time.sleep(ctx.rng.uniform(5, 12))
    ctx.cluster.run("zk", "start")
    revive_masters(ctx)
    return f"zk{k} ({which})"


def zk_follower_kill(ctx: Context) -> str:
    """A ZooKeeper follower crashes; sessions on it move to the others; it starts again."""
    return _zk_kill_for(ctx, "follower")


def zk_leader_kill(ctx: Context) -> str:
    """ZooKeeper's leader crashes: the two left elect another (a couple of seconds without a
    leader); it starts again."""
    return _zk_kill_for(ctx, "leader")


def quorum_loss(ctx: Context) -> FailoverOutcome:
    """Two of the three ZooKeeper servers crash for 20-40 s: no quorum. Halyard's writes are
    refused (503, expected then); a write it accepts more than 3 s into the loss is a violation.
    Then the servers start again, and the masters that exited meanwhile (a master whose session
    expired aborts) are started again; Halyard follows whichever master leads then."""
    before = steady_ids(ctx)
    old = ctx.cluster.leading_master()
    victims = ctx.rng.sample([1, 2, 3], 2)
    hold = ctx.rng.uniform(20, 40)
    t0 = time.time()
    for k in victims:
        ctx.cluster.run("zk", "kill", str(k))
    codes: dict[str, int] = {}
    while time.time() < t0 + hold:
        s = ctx.rng.choice([p for p in ctx.schedulers if p.alive and not p.frozen] or ctx.schedulers)
        sent = time.time()
        try:
            resp = requests.put(s.url + "/v2/apps" + BIG_APP, params={"force": "true"},
                                json={"labels": {"quorum-probe": str(sent)}}, timeout=5)
            code = str(resp.status_code)
            ctx.responses.add(resp.status_code, f"quorum-loss write probe via scheduler {s.index}: {resp.text[:120]!r}", sent)
            if resp.status_code < 300 and sent > t0 + 3:
                ctx.violation(f"a write was accepted {sent - t0:.0f}s into a ZooKeeper quorum loss "
                              f"(scheduler {s.index}: {resp.status_code})")
        except requests.RequestException as exc:
            code = "no answer" if isinstance(exc, requests.Timeout) else "refused"
        codes[code] = codes.get(code, 0) + 1
        time.sleep(1)
    ctx.cluster.run("zk", "start")
    with ctx.lock:
        ctx.quorum_lost.append((t0, time.time()))
    revive_masters(ctx)
    new, resubscribe = follow_failover(ctx, None, t0, bound=120)
    check_same_ids(ctx, before, "quorum loss")
    moved = "same master" if new == old else f"master {old} -> {new}"
    return f"zk{victims[0]}+zk{victims[1]} for {hold:.0f}s, writes {codes}, {moved}", resubscribe


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


HA_KINDS: dict[str, Callable[[Context], Any]] = {
    "master-kill9": master_kill9,
    "master-freeze": master_freeze,
    "zk-follower-kill": zk_follower_kill,
    "zk-leader-kill": zk_leader_kill,
    "quorum-loss": quorum_loss,
}
#: faults that replace tasks: never drawn to overlap a master failover (whose same-ids check they would spoil)
REPLACING = {"agent-stop", "docker-kill", "kill-in-txn"}
#: the control plane's other faults: never drawn to overlap an HA fault either (two of them at once make a quorum loss)
CONTROL_PLANE = {"zk-restart", "master-restart"}
MASTER_FAILOVERS = {"master-kill9", "master-freeze", "quorum-loss"}

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
