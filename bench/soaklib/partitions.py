"""The soak's network partitions (``--hosts``: every member and every scheduler on a host of its
own, ``minimesos/net cut A B --for SECONDS``). One function per kind, each returning when its
cut is healed and what it checks has been checked. Each cut lasts, by the seed, either *within*
the timeout that matters for it (nothing may change) or *beyond* it (Mesos' and Marathon's rules
for that partition must show):

* ``agent-cut`` -- an agent cut off from the masters; the timeout is the master's agent ping
  timeout (minimesos: 2 s x 3 missed pings). Beyond it, the agent's tasks become TASK_UNREACHABLE
  in Halyard; an app's unreachable task counts until its ``unreachableStrategy.inactiveAfterSeconds``,
  then is replaced (:data:`FAST_APP`, 5 s), or keeps counting (:data:`SLOW_APP`, never within a
  soak); on heal the returning task is killed when its app has its instances, and kept otherwise.
* ``leader-zk-cut`` -- the leading scheduler cut off from ZooKeeper (not from the master); the
  timeout is its ZooKeeper session. Beyond it, a standby leads (newer epoch) within the session
  timeout + 5 s and the old leader stops claiming the lead within the session timeout + 3 s (issue
  24 rule 2), rejoining as a standby when healed; within it, the leader keeps its lead and epoch.
* ``leader-master-cut`` -- the leading scheduler cut off from every master (not from ZooKeeper); the
  timeout is Halyard's heartbeat watch (2 x 15 s). Whatever it decides (keep leading, or step down
  after a bound), once healed the framework is subscribed again with its FrameworkID and the steady
  app's tasks are the same.
* ``zk-isolate`` -- one ZooKeeper server cut off from every host; the timeouts are the sessions'
  (schedulers 4 s, masters 5 s). With ``--ha`` the two others keep the quorum: the sessions move;
  without it, the only server is gone, as in a quorum loss (503s are expected meanwhile).
* ``master-isolate`` -- a master (with ``--ha`` the leader 2 times in 3, else a standby) cut off from
  every host; the timeout is its ZooKeeper session (and the agents' ping timeout). A leader cut
  beyond it loses the lead and aborts (Mesos' ``Master::lostCandidacy``; started again as its
  supervisor would); another leads and Halyard follows it with the same task ids.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Optional

import requests

from tests.integration.v1client import until

from .faults import (
    MASTER_SESSION_TIMEOUT,
    MASTER_UNREACHABLE_AFTER,
    Context,
    FailoverOutcome,
    check_same_ids,
    follow_failover,
    revive_masters,
    steady_ids,
)
from .procs import ZK_SESSION_TIMEOUT
from .workload import FAST_APP, FAST_INACTIVE, SLOW_APP

log = logging.getLogger("soak")
HEARTBEAT_WATCH = 2 * 15.0   # Halyard's driver: 2 missed heartbeats of Mesos' 15 s
SLACK = 1.5                  # the soak reads Halyard's tasks about every 0.3 s; Halyard's own clock runs too


def _hold(ctx: Context, within: tuple[float, float], beyond: tuple[float, float]) -> tuple[bool, float]:
    """(beyond?, seconds) drawn by the seed: a cut within its timeout, or beyond it (3 in 5)."""
    past = ctx.rng.random() < 0.6
    lo, hi = beyond if past else within
    return past, ctx.rng.uniform(lo, hi)


def _cut(ctx: Context, a: str, b: str, seconds: float) -> float:
    """``net cut A B --for SECONDS`` (the timer heals it even should the soak die); the time of the cut."""
    ctx.cluster.net("cut", a, b, "--for", f"{seconds:.1f}")
    return time.time()


def _heal(ctx: Context, a: str, b: str, cut_at: float, seconds: float) -> float:
    """Waits out the cut, then heals it (``--for`` would too: this makes the moment exact); when."""
    left = cut_at + seconds - time.time()
    if left > 0:
        time.sleep(left)
    ctx.cluster.net("heal", a, b)
    return time.time()


def _halyard_tasks(ctx: Context, app_id: str) -> Optional[dict[str, str]]:
    """Halyard's tasks of ``app_id``: id -> state (None when no scheduler answers)."""
    data = ctx.api.json(f"/v2/apps{app_id}/tasks")
    return {t["id"]: t["state"] for t in data["tasks"]} if isinstance(data, dict) and "tasks" in data else None


def _master_tasks(ctx: Context, agent_host: Optional[str] = None) -> dict[str, tuple[str, str]]:
    """The leading master's tasks of the framework: id -> (state, agent hostname), unreachable ones too."""
    state = until(lambda: requests.get(ctx.cluster.master + "/master/state", timeout=10).json(), 60, interval=1,
                  what="the leading master's state")
    hosts = {a["id"]: a["hostname"] for a in state["slaves"]}
    found: dict[str, tuple[str, str]] = {}
    for fw in state["frameworks"]:
        if fw["name"] != ctx.name:
            continue
        for t in fw["tasks"] + fw.get("unreachable_tasks", []):
            found[t["id"]] = (t["state"], hosts.get(t["slave_id"], "?"))
    return {t: v for t, v in found.items() if agent_host is None or v[1] == agent_host}


def _ids_of(app_id: str, tasks: dict[str, Any]) -> set[str]:
    from .invariants import task_prefix
    prefix = task_prefix(app_id) + "."
    return {t for t in tasks if t.startswith(prefix)}


def agent_cut(ctx: Context) -> str:
    """An agent cut off from the masters (see the module's docstring)."""
    running = {t: v for t, v in _master_tasks(ctx).items() if v[0] == "TASK_RUNNING"}
    with_fast = [k for k in range(1, ctx.agents + 1)
                 if any(v[1] == ctx.cluster.agent_host(k) for t, v in running.items() if t in _ids_of(FAST_APP, running))]
    # 3 times in 4 an agent that runs one of FAST_APP's tasks (the one agent without any is cut too)
    k = ctx.rng.choice(with_fast) if with_fast and ctx.rng.random() < 0.75 else ctx.rng.randint(1, ctx.agents)
    host = ctx.cluster.agent_host(k)
    on_agent = {t: v for t, v in running.items() if v[1] == host}
    fast, slow = _ids_of(FAST_APP, on_agent), _ids_of(SLOW_APP, on_agent)
    fast_before, slow_before = _halyard_tasks(ctx, FAST_APP) or {}, _halyard_tasks(ctx, SLOW_APP) or {}
    past, hold = _hold(ctx, (1.0, MASTER_UNREACHABLE_AFTER - 2.5),
                       (MASTER_UNREACHABLE_AFTER + FAST_INACTIVE + 6, MASTER_UNREACHABLE_AFTER + FAST_INACTIVE + 12))
    t0 = _cut(ctx, f"agent{k}", "masters", hold)
    detail = f"agent{k} for {hold:.1f}s ({'beyond' if past else 'within'} the ping timeout)"
    if not past:
        _heal(ctx, f"agent{k}", "masters", t0, hold)
        time.sleep(3)
        for app_id, before in ((FAST_APP, fast_before), (SLOW_APP, slow_before)):
            after = _halyard_tasks(ctx, app_id)
            if after is not None and set(after) != set(before):
                ctx.violation(f"agent{k} cut {hold:.1f}s (within the ping timeout) changed {app_id}'s tasks: "
                              f"{sorted(before)} -> {sorted(after)}")
        return detail
    unreachable_at: Optional[float] = None
    replaced_at: Optional[float] = None
    while time.time() < t0 + hold - 0.5:
        tasks = _halyard_tasks(ctx, FAST_APP)
        slow_now = _halyard_tasks(ctx, SLOW_APP)
        now = time.time()
        if tasks is not None and fast:
            if unreachable_at is None and any(tasks.get(t) == "TASK_UNREACHABLE" for t in fast):
                unreachable_at = now
            new_running = [t for t, st in tasks.items() if t not in fast_before and st == "TASK_RUNNING"]
            if new_running and replaced_at is None:
                replaced_at = now
                if unreachable_at is None or now - unreachable_at < FAST_INACTIVE - SLACK:
                    ctx.violation(f"{FAST_APP}'s unreachable task replaced {now - t0:.1f}s after the cut, "
                                  f"before its inactiveAfterSeconds ({FAST_INACTIVE}s) from TASK_UNREACHABLE "
                                  f"(seen {'never' if unreachable_at is None else f'{unreachable_at - t0:.1f}s'})")
        if slow_now is not None and slow and set(slow_now) - set(slow_before):
            ctx.violation(f"{SLOW_APP}'s unreachable task replaced during the cut (inactiveAfterSeconds not reached): "
                          f"{sorted(set(slow_now) - set(slow_before))}")
            slow = set()   # said once
        time.sleep(0.3)
    if fast or slow:
        if unreachable_at is None:
            ctx.violation(f"agent{k}'s tasks never TASK_UNREACHABLE in Halyard during a {hold:.1f}s cut "
                          f"(ping timeout {MASTER_UNREACHABLE_AFTER:g}s)")
        if fast and replaced_at is None:
            ctx.violation(f"{FAST_APP}'s unreachable task not replaced during a {hold:.1f}s cut "
                          f"(inactiveAfterSeconds {FAST_INACTIVE}s)")
    _heal(ctx, f"agent{k}", "masters", t0, hold)
    t1 = time.time()
    figures = {}
    if unreachable_at is not None:
        figures["unreachable"] = unreachable_at - t0
    if replaced_at is not None:
        figures["replaced"] = replaced_at - t0
    ctx.figures.update(figures)

    def returned() -> bool:
        master = _master_tasks(ctx)
        fast_gone = all(master.get(t, ("gone",))[0] != "TASK_RUNNING" for t in fast) if replaced_at else True
        slow_back = all(master.get(t, ("gone",))[0] == "TASK_RUNNING" for t in slow)
        return fast_gone and slow_back
    try:
        until(returned, 60, interval=0.5, what="the returning tasks handled")
    except TimeoutError:
        master = _master_tasks(ctx)
        ctx.violation(f"60s after agent{k} healed: {FAST_APP}'s returning {sorted(fast)} and {SLOW_APP}'s "
                      f"{sorted(slow)} are {[master.get(t, ('gone',))[0] for t in sorted(fast | slow)]} in Mesos "
                      "(the first killed when its app has its instances, the second kept)")
    slow_after = _halyard_tasks(ctx, SLOW_APP)
    if slow and slow_after is not None and not slow <= set(slow_after):
        ctx.violation(f"{SLOW_APP}'s returning task {sorted(slow)} not kept: {sorted(slow_after)}")
    return (detail + f"; {len(fast)}+{len(slow)} tasks of the fast/slow apps on it"
            + "".join(f", {k} after {v:.1f}s" for k, v in figures.items())
            + f", returning handled {time.time() - t1:.1f}s after heal")


def _leader_with_epoch(ctx: Context) -> tuple[Any, Optional[int]]:
    s = ctx.leader()
    return s, (s.stats() or {}).get("epoch")


def leader_zk_cut(ctx: Context) -> str:
    """The leading scheduler cut off from ZooKeeper, not from the master (see the module's docstring)."""
    s, epoch = _leader_with_epoch(ctx)
    past, hold = _hold(ctx, (0.5, ZK_SESSION_TIMEOUT / 2.5),
                       (ZK_SESSION_TIMEOUT + 4, ZK_SESSION_TIMEOUT + 12))
    t0 = _cut(ctx, s.host, "zks", hold)
    detail = f"scheduler {s.index} (epoch {epoch}) for {hold:.1f}s ({'beyond' if past else 'within'} the session)"
    if not past:
        _heal(ctx, s.host, "zks", t0, hold)
        time.sleep(ZK_SESSION_TIMEOUT)
        now = s.stats() or {}
        if not now.get("leader") or now.get("epoch") != epoch:
            ctx.violation(f"scheduler {s.index} lost the lead after a {hold:.1f}s cut from ZooKeeper, within its "
                          f"{ZK_SESSION_TIMEOUT:g}s session (now {now.get('leader')}, epoch {now.get('epoch')})")
        return detail
    new_at: Optional[float] = None
    stepped_at: Optional[float] = None
    while time.time() < t0 + hold - 0.3 and (new_at is None or stepped_at is None):
        for other in ctx.schedulers:
            if other is not s and other.alive and not other.frozen and new_at is None:
                st = other.stats(timeout=1)
                if st and st.get("leader") and (st.get("epoch") or 0) > (epoch or 0):
                    new_at = time.time()
        st = s.stats(timeout=1)
        if stepped_at is None and st is not None and not st.get("leader"):
            stepped_at = time.time()
        time.sleep(0.2)
    if new_at is not None:
        ctx.figures["new leader"] = new_at - t0
    if hold > ZK_SESSION_TIMEOUT + 5 and (new_at is None or new_at - t0 > ZK_SESSION_TIMEOUT + 5):
        ctx.violation(f"no standby led within {ZK_SESSION_TIMEOUT + 5:g}s of scheduler {s.index}'s cut from ZooKeeper")
    if hold > ZK_SESSION_TIMEOUT + 3 and (stepped_at is None or stepped_at - t0 > ZK_SESSION_TIMEOUT + 3):
        ctx.violation(f"scheduler {s.index}, cut from ZooKeeper, still claimed the lead "
                      f"{min(hold, time.time() - t0):.1f}s after the cut (session {ZK_SESSION_TIMEOUT:g}s; issue 24 rule 2)")
    _heal(ctx, s.host, "zks", t0, hold)
    try:
        until(lambda: not (s.stats() or {"leader": True}).get("leader"), 20, interval=0.3,
              what="the old leader a standby")
    except TimeoutError:
        ctx.violation(f"scheduler {s.index} still claims the lead 20s after its cut from ZooKeeper healed")
    return detail + "".join(f", {k} after {v:.1f}s" for k, v in (
        ("new leader", None if new_at is None else new_at - t0),
        ("stepped down", None if stepped_at is None else stepped_at - t0)) if v is not None)


def _framework(ctx: Context) -> Optional[dict[str, Any]]:
    from .faults import _master_framework
    master = ctx.cluster.leading_master()
    return _master_framework(master, ctx.name) if master else None


def leader_master_cut(ctx: Context) -> str:
    """The leading scheduler cut off from every master, not from ZooKeeper (see the module's docstring)."""
    before = steady_ids(ctx)
    framework_id = (_framework(ctx) or {}).get("id")
    s, epoch = _leader_with_epoch(ctx)
    past, hold = _hold(ctx, (2.0, 10.0),
                       (HEARTBEAT_WATCH + 3, HEARTBEAT_WATCH + 12))
    t0 = _cut(ctx, s.host, "masters", hold)
    _heal(ctx, s.host, "masters", t0, hold)
    t1 = time.time()

    def subscribed() -> Optional[dict[str, Any]]:
        fw = _framework(ctx)
        return fw if fw and fw.get("active") and fw.get("connected") and fw.get("id") == framework_id else None
    try:
        until(subscribed, 90, interval=0.5, what="the framework subscribed again")
        ctx.figures["subscribed again"] = time.time() - t0
        again = f"subscribed {time.time() - t1:.1f}s after heal"
    except TimeoutError:
        ctx.violation(f"framework {framework_id} not subscribed 90s after scheduler {s.index}'s cut from the masters "
                      f"healed ({_framework(ctx)})")
        again = "not subscribed again"
    check_same_ids(ctx, before, "leader cut from the masters")
    now = ctx.leader()
    return (f"scheduler {s.index} (epoch {epoch}) for {hold:.1f}s ({'beyond' if past else 'within'} the heartbeat "
            f"watch); leader after: scheduler {now.index}, {again}")


def zk_isolate(ctx: Context) -> str:
    """One ZooKeeper server cut off from every host (see the module's docstring)."""
    before = steady_ids(ctx)
    servers = 3 if ctx.cluster.ha else 1
    k = ctx.rng.randint(1, servers)
    past, hold = _hold(ctx, (0.5, ZK_SESSION_TIMEOUT / 2.5),
                       (MASTER_SESSION_TIMEOUT + 3, MASTER_SESSION_TIMEOUT + 15))
    leader = ctx.cluster.output("zk", "leader") if ctx.cluster.ha else "1"
    t0 = _cut(ctx, f"zk{k}", "all", hold)
    _heal(ctx, f"zk{k}", "all", t0, hold)
    if servers == 1:   # the only server: like a quorum loss (503s expected meanwhile, and a while after)
        with ctx.lock:
            ctx.quorum_lost.append((t0, time.time() + 5))
    revive_masters(ctx)
    follow_failover(ctx, None, t0, bound=120)
    check_same_ids(ctx, before, "ZooKeeper server isolated")
    role = "leader" if leader == str(k) else "follower"
    return f"zk{k} ({role}) for {hold:.1f}s ({'beyond' if past else 'within'} the sessions)"


def master_isolate(ctx: Context) -> FailoverOutcome:
    """A master cut off from every host (see the module's docstring)."""
    before = steady_ids(ctx)
    lead = ctx.cluster.output("master", "leader") if ctx.cluster.ha else "1"
    k = int(lead) if lead and (not ctx.cluster.ha or ctx.rng.random() < 2 / 3) else \
        ctx.rng.choice([i for i in (1, 2, 3) if str(i) != lead])
    old = ctx.cluster.leading_master()
    past, hold = _hold(ctx, (0.5, 2.0),
                       (MASTER_SESSION_TIMEOUT + 5, MASTER_SESSION_TIMEOUT + 15))
    t0 = _cut(ctx, f"master{k}", "all", hold)
    if ctx.cluster.ha and str(k) == lead and past:
        new, resubscribe = follow_failover(ctx, old, t0, bound=max(90, hold + 30))
        if new == old:
            ctx.violation(f"master{k} cut off {hold:.1f}s, yet it still leads")
    else:
        new, resubscribe = old or "none", None
    _heal(ctx, f"master{k}", "all", t0, hold)
    revive_masters(ctx)
    if not (ctx.cluster.ha and str(k) == lead and past):
        new, _ = follow_failover(ctx, None, t0, bound=120)
    check_same_ids(ctx, before, "master isolated")
    role = "leader" if str(k) == lead else "standby"
    return f"master{k} ({role}) for {hold:.1f}s ({'beyond' if past else 'within'} its session) -> {new}", resubscribe


PARTITION_KINDS: dict[str, Callable[[Context], Any]] = {
    "agent-cut": agent_cut,
    "leader-zk-cut": leader_zk_cut,
    "leader-master-cut": leader_master_cut,
    "zk-isolate": zk_isolate,
    "master-isolate": master_isolate,
}
