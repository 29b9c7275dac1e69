"""Failover on the production control plane: 3 ZooKeeper servers, 3 Mesos masters, 3 Halyard schedulers.

    python bench/failover.py [--kills 10] [--zk-kills 10] [--quorum-losses 3] [--tasks 200] [--run-dir DIR]

On an HA cluster (``minimesos/up --masters 3 --zookeepers 3 --no-docker``: a private one on
``--port``/``--zk-port``/``--task-ports``, or the running one in ``--run-dir``), three schedulers
(one leads, two stand by) run ``--tasks`` command tasks. Then:

* the cluster's memory (RSS summed and PSS) with the schedulers;
* ``--kills`` times the leading master is killed (SIGKILL): per kill the new master's election
  time (kill -> its ``elected_time``), Halyard's re-subscription after it (the new master's
  ``reregistered_time`` of the framework minus its ``elected_time``), the tasks restarted
  (running task ids before and after), and the time until ``/v2/apps`` answered again; the
  killed master is started again as a standby before the next kill;
* ``--zk-kills`` times ZooKeeper's leader is killed: Halyard leadership changes (goal 0);
* ``--quorum-losses`` times two of the three ZooKeeper servers are killed for ``--quorum-seconds``:
  the writes answered meanwhile, and the time from the quorum back to a leader that accepts a
  write (goal: within Halyard's ZooKeeper session timeout + 5 s). Masters that exited meanwhile (a
  master whose ZooKeeper session is gone aborts by design) are started again, as a supervisor would.

The last line is ``failover: N master kills, p99 resubscribe Xs, R restarted``.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Optional

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from soaklib.procs import Cluster, SchedulerProc  # noqa: E402
from soaklib.report import percentile  # noqa: E402
from tests.integration.v1client import until  # noqa: E402

log = logging.getLogger("failover")
APP = "/failover/sleep"
PROBE = "/failover/probe"   # no instances: the writes during and after a quorum loss change its labels
SETTLE = 5.0                # seconds the tasks must stay the same before they are compared


# --- memory --------------------------------------------------------------------------------------

def rss_pss_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB (0, 0 when it is gone)."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return 0, 0
    values = {line.split(":")[0]: int(line.split()[1]) for line in rollup[1:] if line.split()[-1] == "kB"}
    return values.get("Rss", 0), values.get("Pss", 0)


def memory_lines(cluster: Cluster, schedulers: list[SchedulerProc]) -> list[str]:
    """Per role (ZooKeeper, masters, agents, schedulers): RSS summed and PSS, and the total."""
    roles: dict[str, list[int]] = {"zookeeper": [], "master": [], "agent": [], "scheduler": []}
    for name, pid in cluster.pids().items():
        role = "zookeeper" if name.startswith("zk") else name.rstrip("0123456789")
        roles.setdefault(role, []).append(pid)
    roles["scheduler"] = [s.proc.pid for s in schedulers if s.alive and s.proc is not None]
    lines, total = [], [0, 0]
    for role, pids in roles.items():
        sums = [sum(x) for x in zip(*(rss_pss_kb(p) for p in pids))] if pids else [0, 0]
        total = [total[0] + sums[0], total[1] + sums[1]]
        lines.append(f"memory {role:<10} x{len(pids)}: RSS {sums[0] / 1024:7.0f} MiB  PSS {sums[1] / 1024:7.0f} MiB")
    lines.append(f"memory total         : RSS {total[0] / 1024:7.0f} MiB  PSS {total[1] / 1024:7.0f} MiB "
                 f"(RSS summed counts shared pages once per process; PSS shares them out)")
    return lines


# --- what is read --------------------------------------------------------------------------------

class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="halyard-failover-"))
        self.own = args.run_dir is None
        run = Path(args.run_dir) if args.run_dir else self.work / "run"
        self.cluster = Cluster(run, args.agents, args.port, args.zk_port, args.task_ports, ha=True, docker=False)
        tag = uuid.uuid4().hex[:6]
        self.name, self.chroot = f"halyard-failover-{tag}", f"failover-{tag}"
        self.schedulers: list[SchedulerProc] = []
        self.framework_id: Optional[str] = None

    # -- schedulers and the framework --

    def leader(self, timeout: float = 60) -> SchedulerProc:
        def find() -> Optional[SchedulerProc]:
            claims = [(st.get("epoch") or 0, s) for s in self.schedulers if s.alive
                      for st in [s.stats()] if st and st.get("leader")]
            return max(claims, key=lambda c: c[0])[1] if claims else None
        return until(find, timeout, interval=0.2, what="a leading scheduler")

    def claims(self) -> list[tuple[int, int]]:
        """(scheduler index, epoch) of every scheduler that says it leads."""
        return [(s.index, st.get("epoch") or 0) for s in self.schedulers if s.alive
                for st in [s.stats(timeout=1)] if st and st.get("leader")]

    def framework(self, master: Optional[str] = None) -> Optional[dict[str, Any]]:
        """The framework as the (leading) master has it, None when it does not answer."""
        master = master or self.cluster.leading_master()
        if master is None:
            return None
        try:
            data = requests.get(master + "/master/frameworks", params={"framework_id": self.framework_id},
                                timeout=5, allow_redirects=False).json()
        except (requests.RequestException, ValueError):
            return None
        return next((f for f in data.get("frameworks", []) if f["id"] == self.framework_id), None)

    def running_ids(self) -> Optional[set[str]]:
        fw = self.framework()
        if fw is None:
            return None
        return {t["id"] for t in fw.get("tasks", []) if t["state"] == "TASK_RUNNING"}

    def steady_tasks(self, timeout: float = 180) -> set[str]:
        """The running task ids once the master has all ``--tasks`` running, Halyard agrees, and
        neither changed for SETTLE seconds."""
        last: dict[str, Any] = {"ids": None, "since": 0.0}

        def steady() -> Optional[set[str]]:
            ids = self.running_ids()
            app = self.api_json(f"/v2/apps{APP}")
            ok = (ids is not None and len(ids) == self.args.tasks and app is not None
                  and app["app"]["tasksRunning"] == self.args.tasks and not app["app"]["deployments"])
            if not ok or ids != last["ids"]:
                last.update(ids=ids if ok else None, since=time.time())
                return None
            return ids if time.time() - last["since"] >= SETTLE else None
        return until(steady, timeout, interval=0.5, what=f"{self.args.tasks} tasks running and steady")

    def api_json(self, path: str) -> Any:
        for s in self.schedulers:
            if not s.alive:
                continue
            try:
                resp = requests.get(s.url + path, timeout=5)
            except requests.RequestException:
                continue
            if resp.ok:
                return resp.json()
        return None

    def write(self, timeout: float = 5) -> Optional[int]:
        """A write (the probe app's label) through the leading scheduler, or any: its status, None without answer."""
        for s in self.schedulers:
            if not s.alive:
                continue
            try:
                resp = requests.put(s.url + "/v2/apps" + PROBE, params={"force": "true"},
                                    json={"labels": {"n": str(time.time())}}, timeout=timeout)
            except requests.RequestException:
                continue
            return resp.status_code
        return None

    # -- setup and teardown --

    def start(self) -> None:
        if self.own:
            t0 = time.monotonic()
            self.cluster.run_dir.mkdir(parents=True, exist_ok=True)
            self.cluster.up()
            print(f"cluster up (3 ZooKeeper, 3 masters, {self.args.agents} agents, --no-docker): "
                  f"{time.monotonic() - t0:.1f}s", flush=True)
        else:
            self.cluster.read()
            if "MASTERS" not in self.cluster.env or len(self.cluster.masters) < 3:
                raise SystemExit(f"{self.cluster.run_dir} is not a 3-master cluster (minimesos/up --masters 3 --zookeepers 3)")
        for i in range(self.args.schedulers):
            self.schedulers.append(SchedulerProc(self.cluster, self.chroot, self.name, self.work, i,
                                                 session_timeout=self.args.zk_session_timeout).start())
        leader = self.leader(90)
        until(lambda: (self.api_json("/v2/info") or {}).get("frameworkId"), 60, what="subscribed")
        self.framework_id = self.api_json("/v2/info")["frameworkId"]
        for line in memory_lines(self.cluster, self.schedulers):
            print(line, flush=True)
        t0 = time.monotonic()
        app = {"id": APP, "cmd": "sleep 100000", "cpus": 0.01, "mem": 8, "instances": self.args.tasks}
        for body in (app, {"id": PROBE, "cmd": "sleep 100000", "cpus": 0.01, "mem": 8, "instances": 0}):
            resp = requests.post(leader.url + "/v2/apps", json=body, timeout=30)
            resp.raise_for_status()
        self.steady_tasks(600)
        print(f"{self.args.tasks} tasks running in {time.monotonic() - t0:.1f}s (scheduler {leader.index} leads, "
              f"framework {self.framework_id})", flush=True)
        executors = [p for p in _descendants([pid for n, pid in self.cluster.pids().items() if n.startswith("agent")])]
        rss = sum(rss_pss_kb(p)[0] for p in executors) / 1024
        pss = sum(rss_pss_kb(p)[1] for p in executors) / 1024
        print(f"memory executors+tasks x{len(executors)} processes: RSS {rss:.0f} MiB  PSS {pss:.0f} MiB", flush=True)

    def stop(self) -> None:
        for s in self.schedulers:
            try:
                s.kill9()
            except Exception:  # noqa: BLE001 - the rest is cleaned up regardless
                log.exception("stopping scheduler %d", s.index)
        if self.own:
            problem = self.cluster.down()
            if problem:
                print(f"minimesos down: {problem}", file=sys.stderr)
            return
        # A cluster that was running stays up, without this bench's framework.
        self.cluster.run("master", "start")
        self.cluster.run("zk", "start")
        master = self.cluster.leading_master()
        if master and self.framework_id:
            requests.post(master + "/master/teardown", data={"frameworkId": self.framework_id}, timeout=30)

    # --- faults ------------------------------------------------------------------------------------

    def master_kill(self, n: int) -> dict[str, Any]:
        before = self.steady_tasks()
        old = int(self.cluster.output("master", "leader") or 0)
        old_url = self.cluster.leading_master()
        poller = ApiPoller(self.leader())
        poller.start()
        t_kill = time.time()
        self.cluster.run("master", "kill")
        new_url = until(lambda: (lambda u: u if u and u != old_url else None)(self.cluster.leading_master(timeout=1)),
                        120, interval=0.1, what="another master elected")
        state = until(lambda: _json(new_url + "/master/state"), 30, what="the new master's state")
        elected = state["elected_time"]
        fw = until(lambda: (lambda f: f if f and f.get("active") and f.get("connected") else None)(self.framework(new_url)),
                   120, interval=0.1, what="Halyard re-subscribed")
        subscribed = fw.get("reregistered_time") or fw["registered_time"]
        after = self.steady_tasks()
        poller.stop()
        self.cluster.run("master", "start", str(old))
        until(lambda: _redirects_to(self.cluster.masters[old - 1], new_url), 60, what=f"master{old} a standby again")
        record = {"kill": n, "master": old, "election": elected - t_kill, "resubscribe": subscribed - elected,
                  "restarted": len(after - before), "gone": len(before - after), "apps_back": poller.back_after(t_kill),
                  "apps_errors": poller.failures}
        print(f"master kill {n:>2}: master{old} -> {new_url.rsplit(':', 1)[-1]}: elected {record['election']:5.1f}s "
              f"after the kill, re-subscribed {record['resubscribe']:5.2f}s after the election, "
              f"{record['restarted']} restarted ({record['gone']} gone), /v2/apps answered again after "
              f"{record['apps_back']:.1f}s ({poller.failures} failed of {poller.polls})", flush=True)
        return record

    def zk_kill(self, n: int) -> dict[str, Any]:
        before_tasks = self.steady_tasks()
        before = self.claims()
        master = self.cluster.output("master", "leader")
        old = int(self.cluster.output("zk", "leader") or 0)
        t0 = time.time()
        self.cluster.run("zk", "kill")
        until(lambda: (lambda k: k if k and k != str(old) else None)(self.cluster.output("zk", "leader")), 60,
              interval=0.2, what="ZooKeeper elects another leader")
        zk_election = time.time() - t0
        seen: list[list[tuple[int, int]]] = []
        watch_until = time.time() + max(15.0, 2 * self.args.zk_session_timeout)
        while time.time() < watch_until:
            seen.append(self.claims())
            time.sleep(0.3)
        epochs = {e for claims in seen for _, e in claims} - {e for _, e in before}
        leaderless = sum(1 for claims in seen if not claims)
        self.cluster.run("zk", "start")
        master_after = self.cluster.output("master", "leader")
        after_tasks = self.steady_tasks()
        record = {"kill": n, "zk": old, "zk_election": zk_election, "changes": len(epochs), "leaderless_reads": leaderless,
                  "master_changed": master != master_after, "restarted": len(after_tasks - before_tasks)}
        print(f"zk kill {n:>2}: zk{old}: ZooKeeper leader elected in {zk_election:.1f}s; Halyard leadership "
              f"changes {len(epochs)} (leader before {before}, leaderless in {leaderless} of {len(seen)} reads); "
              f"master leader {master} -> {master_after}; {record['restarted']} restarted", flush=True)
        return record

    def quorum_loss(self, n: int) -> dict[str, Any]:
        before_tasks = self.steady_tasks()
        victims = [(n - 1) % 3 + 1, n % 3 + 1]
        codes: dict[str, int] = {}
        t0 = time.time()
        for k in victims:
            self.cluster.run("zk", "kill", str(k))
        while time.time() < t0 + self.args.quorum_seconds:
            code = self.write(timeout=3)
            codes[str(code)] = codes.get(str(code), 0) + 1
            time.sleep(1)
        self.cluster.run("zk", "start")
        t_quorum = time.time()   # zk start returns once every server it started serves
        exited = [k for k in (1, 2, 3) if self.cluster.pid(f"master{k}") is None or not _alive(self.cluster.pid(f"master{k}"))]
        self.cluster.run("master", "start")

        def serving() -> Optional[float]:
            return time.time() if self.claims() and self.write(timeout=3) in (200, 201) else None
        t_serving = until(serving, 180, interval=0.2, what="a leader that accepts writes")
        fw = until(lambda: (lambda f: f if f and f.get("active") and f.get("connected") else None)(self.framework()),
                   180, interval=0.2, what="Halyard subscribed again")
        after_tasks = self.steady_tasks(300)
        record = {"loss": n, "killed": victims, "writes": codes, "serving_after": t_serving - t_quorum,
                  "masters_exited": exited, "restarted": len(after_tasks - before_tasks),
                  "subscribed_at": (fw.get("reregistered_time") or fw.get("registered_time") or 0) - t_quorum}
        print(f"quorum loss {n}: zk{victims[0]}+zk{victims[1]} killed for {self.args.quorum_seconds:g}s: writes "
              f"answered {codes}; quorum back -> a leader accepting writes {record['serving_after']:.1f}s; "
              f"masters that exited {exited or 'none'} (started again); {record['restarted']} restarted", flush=True)
        return record


class ApiPoller(threading.Thread):
    """``GET /v2/apps`` on one scheduler every 0.1 s: when it failed last."""

    def __init__(self, s: SchedulerProc):
        super().__init__(daemon=True)
        self.s, self.stopping = s, threading.Event()
        self.polls = self.failures = 0
        self.last_failure: Optional[float] = None
        self.first_ok_after_failure: Optional[float] = None

    def run(self) -> None:
        session = requests.Session()
        while not self.stopping.wait(0.1):
            try:
                ok = session.get(self.s.url + "/v2/apps", timeout=2).status_code == 200
            except requests.RequestException:
                ok = False
            self.polls += 1
            if not ok:
                self.failures += 1
                self.last_failure, self.first_ok_after_failure = time.time(), None
            elif self.last_failure is not None and self.first_ok_after_failure is None:
                self.first_ok_after_failure = time.time()

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)

    def back_after(self, t0: float) -> float:
        """Seconds from ``t0`` until /v2/apps answered after its last failure (0: it never failed)."""
        if self.last_failure is None or self.last_failure < t0:
            return 0.0
        return (self.first_ok_after_failure or time.time()) - t0


def _json(url: str) -> Any:
    try:
        resp = requests.get(url, timeout=5, allow_redirects=False)
        return resp.json() if resp.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return None


def _redirects_to(master: str, leader: str) -> bool:
    try:
        resp = requests.get(master + "/master/redirect", timeout=2, allow_redirects=False)
    except requests.RequestException:
        return False
    return resp.status_code == 307 and "http:" + resp.headers.get("Location", "") == leader


def _alive(pid: Optional[int]) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _descendants(pids: list[int]) -> list[int]:
    """Every process below ``pids`` (from /proc's parent links)."""
    parent: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], set(pids)
    while frontier:
        children = [p for p, pp in parent.items() if pp in frontier]
        found.extend(children)
        frontier = set(children)
    return found


def summary(kills: list[dict], zk_kills: list[dict], losses: list[dict], session_timeout: float) -> list[str]:
    lines = []
    if kills:
        resub = [k["resubscribe"] for k in kills]
        election = [k["election"] for k in kills]
        lines.append(f"master kills: election p50 {statistics.median(election):.1f}s max {max(election):.1f}s; "
                     f"re-subscription p50 {statistics.median(resub):.2f}s p99 {percentile(resub, 99):.2f}s "
                     f"(goal <= 2s); /v2/apps back max {max(k['apps_back'] for k in kills):.1f}s; "
                     f"restarted {sum(k['restarted'] for k in kills)}")
    if zk_kills:
        lines.append(f"ZooKeeper leader kills: {len(zk_kills)}, Halyard leadership changes "
                     f"{sum(k['changes'] for k in zk_kills)} (goal 0), restarted {sum(k['restarted'] for k in zk_kills)}")
    if losses:
        serving = [q["serving_after"] for q in losses]
        lines.append(f"quorum losses: {len(losses)}, quorum back -> serving leader max {max(serving):.1f}s "
                     f"(goal <= {session_timeout + 5:g}s), restarted {sum(q['restarted'] for q in losses)}")
    return lines


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=10, help="leading-master kills (SIGKILL)")
    ap.add_argument("--zk-kills", type=int, default=10, help="ZooKeeper leader kills")
    ap.add_argument("--quorum-losses", type=int, default=3, help="two of three ZooKeeper servers killed, then started")
    ap.add_argument("--quorum-seconds", type=float, default=20, help="how long each quorum loss lasts")
    ap.add_argument("--tasks", type=int, default=200)
    ap.add_argument("--schedulers", type=int, default=3)
    ap.add_argument("--agents", type=int, default=3)
    ap.add_argument("--zk-session-timeout", type=float, default=10.0, help="the schedulers' (Halyard's default)")
    ap.add_argument("--port", type=int, default=18550, help="the private cluster's first master port")
    ap.add_argument("--zk-port", type=int, default=12781)
    ap.add_argument("--task-ports", type=int, default=50000)
    ap.add_argument("--run-dir", default=None, help="a running HA cluster's run dir (default: a private one)")
    ap.add_argument("--work-dir", default=None, help="logs (and the private cluster's run dir)")
    ap.add_argument("--json", action="store_true", help="every record as JSON before the last line")
    return ap.parse_args(argv)


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    bench = Bench(args)
    bench.work.mkdir(parents=True, exist_ok=True)
    print(f"work dir {bench.work}", flush=True)
    kills: list[dict] = []
    zk_kills: list[dict] = []
    losses: list[dict] = []
    failed = None
    try:
        bench.start()
        for n in range(1, args.kills + 1):
            kills.append(bench.master_kill(n))
        for n in range(1, args.zk_kills + 1):
            zk_kills.append(bench.zk_kill(n))
        for n in range(1, args.quorum_losses + 1):
            losses.append(bench.quorum_loss(n))
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - reported, then cleaned up
        log.exception("failover bench failed")
        failed = repr(exc)
    finally:
        bench.stop()
    for line in summary(kills, zk_kills, losses, args.zk_session_timeout):
        print(line)
    if args.json:
        print(json.dumps({"master_kills": kills, "zk_kills": zk_kills, "quorum_losses": losses}))
    if failed:
        print(f"FAILED: {failed} (logs in {bench.work})")
    elif bench.own:
        shutil.rmtree(bench.cluster.run_dir, ignore_errors=True)
    p99 = percentile([k["resubscribe"] for k in kills], 99)
    restarted = sum(k["restarted"] for k in kills)
    print(f"failover: {len(kills)} master kills, p99 resubscribe {p99 if p99 is not None else float('nan'):.2f}s, "
          f"{restarted} restarted")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(parse(sys.argv[1:])))
