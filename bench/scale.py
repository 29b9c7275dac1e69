"""Halyard at scale, against a simulated Mesos master (bench/mesos_sim) and a private ZooKeeper.

    python bench/scale.py [--agents 1000] [--scenario launch|many|failover|api|all] [--json]
                          [--launch-instances 10000] [--apps 500] [--app-instances 100] [--restart-apps 100]
                          [--profile] [--work-dir DIR] [--keep]

Starts a private ZooKeeper (its own port and data dir), the simulator with N agents, and two real
``halyard scheduler`` processes (a leader and a standby), then runs:

launch    the null framework's rate on the simulator (its ceiling); then one app scaled 0 -> 10,000:
          seconds until all are RUNNING (Halyard's view) and until the deployment ends, tasks/s,
          offer -> ACCEPT latency (measured in the simulator), ZooKeeper bytes written
many      500 apps x 100 instances created with one POST /v2/groups: seconds until all are running
failover  with those 50,000 tasks running, kill -9 the leader: the standby's seconds to lead, to
          reconcile, to answer /v2/apps correctly; tasks killed or relaunched; its reconciliation traffic
api       while 100 apps restart: p50/p99 of the reads, a PUT that scales one app, /v1/cluster, and the
          lag of a /v2/events subscriber
memory    the leader's RSS at 0, 10,000 and 50,000 tasks; the znode count, total bytes, largest znode

``all`` runs launch, many, failover and api in turn; ``--scenario many,failover`` runs a list
(failover and api alone first create what ``many`` creates). Figures go to stderr as they come; ``--json`` prints one object; the last line
is ``scale: <tasks/s> tasks/s (null <n>), failover <s> s, api p99 <ms> ms``. Everything started is
stopped at the end, also on failure or Ctrl-C. Ports: 17050 (simulator), 17181 (ZooKeeper).
"""
from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import requests  # noqa: E402
from mesos_sim.harness import (  # noqa: E402
    Proc,
    Scheduler,
    Simulator,
    ZooKeeper,
    cpu_seconds,
    null_framework,
    remove_tree,
    rss_mb,
    stop_all,
    until,
    znode_census,
)

APP = {"cmd": "sleep 3600", "cpus": 0.01, "mem": 8, "backoffSeconds": 1}
CHROOT = "halyard-scale"
PY_SPY = Path(sys.executable).parent / "py-spy"
#: leaf frames that are a thread waiting (py-spy --idle samples them too): left out of "busiest"
IDLE_LEAVES = ("Condition.wait", "select (selectors", "Event.wait", "sleep", "poll (", "pymesos/process.py:320",
               "SocketIO.readinto", "_PollLikeSelector.select", "Selector.select")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(p * len(s)))], 1)


class Profiler:
    """``py-spy record --idle`` of one process while a scenario runs; ``top()`` summarises it:
    the leader loop's wall time by call path, and the process's top self costs."""

    def __init__(self, pid: int, out: Path):
        self.out = out
        self.proc: subprocess.Popen | None = None
        if PY_SPY.exists():
            self.proc = subprocess.Popen([str(PY_SPY), "record", "--idle", "-f", "raw", "-r", "20", "-o", str(out),
                                          "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True)

    def stop(self) -> dict[str, Any]:
        if self.proc is None:
            return {"error": "py-spy is not installed (.venv/bin/python -m pip install py-spy)"}
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return summarise_profile(self.out)


def _frame(f: str) -> str:
    """``func (path/file.py:line)`` -> ``file.py:func``."""
    name, _, where = f.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return f"{path.split('site-packages/')[-1]}:{name}"


def summarise_profile(path: Path, top: int = 12) -> dict[str, Any]:
    """From a raw py-spy file: the leader loop's time (frames under ``_serve``) by its first
    frames, and the busiest functions (self time, idle waits excluded)."""
    if not path.exists():
        return {"error": "no profile written"}
    loop: dict[str, int] = {}
    busy: dict[str, int] = {}
    loop_total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        idx = next((i for i, f in enumerate(frames) if f.startswith(("_serve (", "SchedulerService._serve ("))), None)
        if idx is not None:
            loop_total += n
            key = " > ".join(_frame(f) for f in frames[idx + 1:idx + 5])
            loop[key] = loop.get(key, 0) + n
        leaf = frames[-1]
        if not any(w in leaf for w in IDLE_LEAVES):
            busy[_frame(leaf)] = busy.get(_frame(leaf), 0) + n
    share = lambda d, total: [{"share": round(v / max(total, 1), 3), "where": k}   # noqa: E731
                              for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:top]]
    return {"leader_loop_samples": loop_total, "leader_loop": share(loop, loop_total),
            "busiest": share(busy, sum(busy.values()))}


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="halyard-scale-"))
        self.work.mkdir(parents=True, exist_ok=True)
        self.name = f"halyard-scale-{uuid.uuid4().hex[:6]}"
        self.procs: list[Proc] = []
        self.result: dict[str, Any] = {}
        self.profiles: dict[str, Any] = {}
        self.schedulers: list[Scheduler] = []
        self.http = requests.Session()
        self.scenarios = scenarios(args.scenario)

    # --- setup ----------------------------------------------------------------------------------

    def start(self) -> None:
        a = self.args
        log(f"work dir {self.work}")
        self.zk = ZooKeeper(self.work, a.zk_port)
        self.procs.append(self.zk)
        self.zk.start()
        self.sim = Simulator(self.work, a.sim_port, "--agents", str(a.agents), "--starting-delay",
                             str(a.starting_delay), "--running-delay", str(a.running_delay))
        self.procs.append(self.sim)
        self.sim.start()
        extra = ["--zk-session-timeout", a.zk_session_timeout, "--deployment-timeout", a.deployment_timeout]
        extra += [] if a.discovery else ["--no-discovery"]
        for i in range(2):
            port = a.scheduler_port + i if a.scheduler_port else None
            s = Scheduler(self.work, i, self.sim, self.zk, CHROOT, self.name, *extra, port=port)
            self.procs.append(s)
            self.schedulers.append(s.start())
            if i == 0:
                until(s.leading, 60, 0.2, "the first scheduler leads")
        log(f"ZooKeeper :{a.zk_port}, simulator :{a.sim_port} ({a.agents} agents), schedulers "
            + ", ".join(f"{s.name} {s.url} pid {s.pid}" for s in self.schedulers))
        self.result["memory.rss_mb_0"] = round(rss_mb(self.leader.pid), 1)

    def stop(self) -> None:
        problems = stop_all(self.procs)
        if problems:
            log(f"stopping: {problems}")
        if not self.args.keep:
            remove_tree(self.work)

    @property
    def leader(self) -> Scheduler:
        return until(lambda: next((s for s in self.schedulers if s.leading()), None), 120, 0.2, "a leader")

    # --- Halyard's API --------------------------------------------------------------------------

    def api(self, method: str, path: str, timeout: float = 120, **kw: Any) -> requests.Response:
        """A call to the leader. Reads reuse a keep-alive connection and are tried again once if
        it was closed under them (uvicorn closes idle ones after 5 s); writes get a new one."""
        url = self.leader_url + path
        if method != "GET":
            return requests.request(method, url, timeout=timeout, **kw)
        try:
            return self.http.get(url, timeout=timeout, **kw)
        except requests.ConnectionError:
            return self.http.get(url, timeout=timeout, **kw)

    @property
    def leader_url(self) -> str:
        return getattr(self, "_leader_url", None) or self._refresh_leader()

    def _refresh_leader(self) -> str:
        self._leader_url = self.leader.url
        return self._leader_url

    def running(self, prefix: str) -> tuple[int, int]:
        """(apps under ``prefix``, their tasksRunning) in Halyard's view."""
        apps = self.api("GET", "/v2/apps", params={"id": prefix}).json()["apps"]
        apps = [a for a in apps if a["id"].startswith(prefix)]
        return len(apps), sum(a["tasksRunning"] for a in apps)

    def deployments(self, prefix: str) -> int:
        return sum(1 for d in self.api("GET", "/v2/deployments").json()
                   if any(x.startswith(prefix) for x in d.get("affectedApps", [])))

    def mesos_running(self) -> int:
        return self.sim.stats()["tasks"].get("TASK_RUNNING", 0)

    def wait_running(self, prefix: str, apps: int, tasks: int, deadline: float, t0: float) -> dict[str, float]:
        """Seconds from ``t0`` until Mesos, then Halyard, see every task running. The simulator is
        read every ``--poll`` s; Halyard's API (which reads under the engine's lock) every 5 s until
        Mesos has them all, then every ``--poll`` s."""
        out: dict[str, float] = {}
        last_log = last_api = 0.0
        end = time.monotonic() + deadline
        n_tasks = 0
        while time.monotonic() < end:
            mesos = self.mesos_running()
            if "mesos" not in out and mesos >= tasks:
                out["mesos"] = time.monotonic() - t0
            if "mesos" in out or time.monotonic() - last_api >= 5:
                last_api = time.monotonic()
                n_apps, n_tasks = self.running(prefix)
                if n_apps == apps and n_tasks >= tasks:
                    out["halyard"] = time.monotonic() - t0
                    out.setdefault("mesos", out["halyard"])
                    return out
            if time.monotonic() - last_log > 15:
                log(f"  {time.monotonic() - t0:6.1f}s: running {n_tasks}/{tasks} in Halyard, {mesos} in Mesos")
                last_log = time.monotonic()
            time.sleep(self.args.poll)
        raise TimeoutError(f"{tasks} tasks of {prefix} not running within {deadline:g}s "
                           f"(Halyard {self.running(prefix)}, Mesos {self.mesos_running()})")

    def wait_deployments(self, prefix: str, deadline: float) -> None:
        until(lambda: self.deployments(prefix) == 0, deadline, self.args.poll, f"deployments of {prefix} ended")

    def census(self) -> dict[str, Any]:
        return znode_census(self.zk.hosts, "/" + CHROOT)

    @contextmanager
    def profiled(self, scenario: str) -> Iterator[None]:
        prof = Profiler(self.leader.pid, self.work / f"profile-{scenario}.txt") if self.args.profile else None
        try:
            yield
        finally:
            if prof is not None:
                self.profiles[scenario] = prof.stop()

    def remove(self, app_id: str, deadline: float) -> None:
        """Delete an app and wait until its tasks are gone from Mesos."""
        self.api("DELETE", "/v2/apps" + app_id, params={"force": "true"}).raise_for_status()
        until(lambda: self.api("GET", "/v2/apps" + app_id).status_code == 404, deadline, 1, f"{app_id} deleted")
        until(lambda: self.mesos_running() == 0, deadline, 1, f"the tasks of {app_id} gone")

    # --- scenarios ------------------------------------------------------------------------------

    def launch(self) -> None:
        a, n = self.args, self.args.launch_instances
        log(f"launch: the null framework, {n} tasks")
        null = null_framework(self.sim, n, timeout=a.deadline)
        self.result["launch.null_tasks_per_s"] = null["tasks_per_s"]
        self.result["launch.null_seconds_all_running"] = null["seconds_all_running"]
        log(f"  null framework: {null}")
        app = "/scale/launch"
        self.api("POST", "/v2/apps", json={"id": app, **APP, "instances": 0}).raise_for_status()
        self.wait_deployments(app, 60)
        self.sim.post("/sim/reset")
        mntr0, cpu0 = self.zk.mntr(), cpu_seconds(self.sim.pid)
        leader_cpu0, zk_cpu0 = cpu_seconds(self.leader.pid), cpu_seconds(self.zk.pid)
        with self.profiled("launch"):
            t0 = time.monotonic()
            self.api("PUT", "/v2/apps" + app, json={"instances": n}, params={"force": "true"}).raise_for_status()
            seen = self.wait_running(app, 1, n, a.deadline, t0)
            self.wait_deployments(app, a.deadline)
            ended = time.monotonic() - t0
        stats, mntr1 = self.sim.stats(), self.zk.mntr()
        r = self.result
        r["launch.seconds_all_running"] = round(seen["halyard"], 2)
        r["launch.seconds_all_running_mesos"] = round(seen["mesos"], 2)
        r["launch.seconds_deployment"] = round(ended, 2)
        r["launch.tasks_per_s"] = round(n / seen["halyard"], 1)
        r["launch.ratio_to_null"] = round(r["launch.tasks_per_s"] / r["launch.null_tasks_per_s"], 3)
        r["launch.accept_p50_ms"] = stats["accept_latency_ms"]["p50"]
        r["launch.accept_p99_ms"] = stats["accept_latency_ms"]["p99"]
        r["launch.update_retries"] = stats["update_retries"]          # updates Mesos sent again (no ACK in 10 s)
        r["launch.stale_acks"] = stats["counts"].get("stale_acks", 0)  # ACKs of updates already acknowledged
        r["launch.simulator_cpu_share"] = round((cpu_seconds(self.sim.pid) - cpu0) / ended, 3)
        # CPU seconds spent by the leader and by ZooKeeper during the launch: less noisy than wall
        # time on a shared machine (what each task costs, whatever else runs beside it)
        r["launch.leader_cpu_s"] = round(cpu_seconds(self.leader.pid) - leader_cpu0, 2)
        r["launch.zookeeper_cpu_s"] = round(cpu_seconds(self.zk.pid) - zk_cpu0, 2)
        r["launch.zk_bytes_received"] = (int(mntr1.get("zk_bytes_received_count", 0))
                                         - int(mntr0.get("zk_bytes_received_count", 0)))
        r["launch.zk_data_bytes_added"] = (int(mntr1.get("zk_approximate_data_size", 0))
                                           - int(mntr0.get("zk_approximate_data_size", 0)))
        r["memory.rss_mb_10k"] = round(rss_mb(self.leader.pid), 1)
        census = self.census()
        r["zk.znodes_10k"], r["zk.bytes_10k"] = census["znodes"], census["bytes"]
        log(f"  launch: {n} running in {seen['halyard']:.1f}s (Mesos {seen['mesos']:.1f}s), deployment ended "
            f"{ended:.1f}s, {r['launch.tasks_per_s']} tasks/s vs null {r['launch.null_tasks_per_s']}; accept p99 "
            f"{r['launch.accept_p99_ms']} ms; CPU leader {r['launch.leader_cpu_s']} s, ZooKeeper "
            f"{r['launch.zookeeper_cpu_s']} s, simulator share {r['launch.simulator_cpu_share']}; RSS {r['memory.rss_mb_10k']} MB; {census}")
        if self.scenarios[-1] != "launch":   # the next scenarios count their tasks alone
            t0 = time.monotonic()
            self.remove(app, a.deadline)
            r["launch.seconds_remove"] = round(time.monotonic() - t0, 2)
            log(f"  removed {app} in {r['launch.seconds_remove']}s")

    def many(self) -> None:
        a = self.args
        total = a.apps * a.app_instances
        group = {"id": "/scale/many", "apps": [{"id": f"/scale/many/app-{i:04d}", **APP, "instances": a.app_instances}
                                               for i in range(a.apps)]}
        log(f"many: {a.apps} apps x {a.app_instances} instances through POST /v2/groups")
        self.sim.post("/sim/reset")
        with self.profiled("many"):
            t0 = time.monotonic()
            resp = self.api("POST", "/v2/groups", json=group, params={"force": "true"})
            resp.raise_for_status()
            r = self.result
            r["many.seconds_post"] = round(time.monotonic() - t0, 2)
            seen = self.wait_running("/scale/many/", a.apps, total, a.deadline, t0)
            self.wait_deployments("/scale/many/", a.deadline)
            r["many.seconds_deployment"] = round(time.monotonic() - t0, 2)
        r["many.seconds_all_running"] = round(seen["halyard"], 2)
        r["many.seconds_all_running_mesos"] = round(seen["mesos"], 2)
        r["many.tasks_per_s"] = round(total / seen["halyard"], 1)
        r["memory.rss_mb_50k"] = round(rss_mb(self.leader.pid), 1)
        census = self.census()
        r["zk.znodes"], r["zk.bytes"] = census["znodes"], census["bytes"]
        r["zk.largest_znode_bytes"], r["zk.largest_znode"] = census["largest_znode_bytes"], census["largest_znode"]
        log(f"  many: {total} running in {seen['halyard']:.1f}s (Mesos {seen['mesos']:.1f}s); RSS "
            f"{r['memory.rss_mb_50k']} MB; {census}")

    def failover(self) -> None:
        a = self.args
        total = a.apps * a.app_instances
        old = self.leader
        standby = next(s for s in self.schedulers if s is not old and s.alive)
        before = self.sim.stats()["counts"]
        self.sim.post("/sim/reset")
        log(f"failover: kill -9 the leader {old.name} (pid {old.pid}) with {total} tasks running")
        with self.profiled_pid(standby, "failover"):
            t0 = time.monotonic()
            old.kill9()
            until(standby.leading, a.deadline, 0.05, "the standby leads")
            r = self.result
            r["failover.seconds_to_lead"] = round(time.monotonic() - t0, 2)
            self._leader_url = standby.url
            until(lambda: self.running("/scale/many/") == (a.apps, total), a.deadline, 0.1,
                  "the new leader answers /v2/apps with every app and task")
            r["failover.seconds_to_serve"] = round(time.monotonic() - t0, 2)
            until(lambda: (standby.stats() or {}).get("reconciling") == 0, a.deadline, 0.1, "reconciled")
            r["failover.seconds_to_reconcile"] = round(time.monotonic() - t0, 2)
            time.sleep(a.settle)   # kills or relaunches would show by now
        stats = self.sim.stats()
        counts = stats["counts"]
        r["failover.relaunched"] = counts.get("launched", 0)
        r["failover.killed"] = counts.get("kills", 0)
        r["failover.reconcile_calls"] = stats["calls"].get("RECONCILE", 0)
        r["failover.reconcile_tasks_explicit"] = counts.get("reconcile_explicit_tasks", 0)
        r["failover.reconcile_implicit"] = counts.get("reconcile_implicit", 0)
        r["failover.reconcile_call_bytes"] = stats["call_bytes"].get("RECONCILE", 0)
        r["failover.reconcile_answers"] = counts.get("reconcile_answers", 0)
        r["failover.calls"] = stats["calls"]
        r["failover.rss_mb_new_leader"] = round(rss_mb(standby.pid), 1)
        del before
        log(f"  failover: leads after {r['failover.seconds_to_lead']}s, serves /v2/apps correctly after "
            f"{r['failover.seconds_to_serve']}s, reconciled after {r['failover.seconds_to_reconcile']}s; relaunched "
            f"{r['failover.relaunched']}, killed {r['failover.killed']}; reconciliation: {r['failover.reconcile_calls']} "
            f"calls, {r['failover.reconcile_tasks_explicit']} tasks asked, {r['failover.reconcile_call_bytes']} bytes")

    @contextmanager
    def profiled_pid(self, sched: Scheduler, scenario: str) -> Iterator[None]:
        prof = Profiler(sched.pid, self.work / f"profile-{scenario}.txt") if self.args.profile else None
        try:
            yield
        finally:
            if prof is not None:
                self.profiles[scenario] = prof.stop()

    def api_reads(self) -> None:
        a = self.args
        apps = [f"/scale/many/app-{i:04d}" for i in range(a.apps)]
        restart, steady = apps[:a.restart_apps], apps[-1]
        events = EventLag(self.leader_url)
        events.start()
        log(f"api: {len(restart)} apps restarting; reading")
        with self.profiled("api"):
            for app in restart:
                self.api("POST", f"/v2/apps{app}/restart", params={"force": "true"}).raise_for_status()
            reads: dict[str, tuple[str, str, dict[str, Any], int]] = {
                "apps": ("GET", "/v2/apps", {}, a.samples),
                "apps_embed_tasks": ("GET", "/v2/apps", {"params": {"embed": "apps.tasks"}}, max(3, a.samples // 4)),
                "tasks": ("GET", "/v2/tasks", {}, max(3, a.samples // 4)),
                "app": ("GET", "/v2/apps" + steady, {}, a.samples * 2),
                "scale": ("PUT", "/v2/apps" + steady, {}, a.samples),
                "cluster": ("GET", "/v1/cluster", {}, max(3, a.samples // 4)),
            }
            times: dict[str, list[float]] = {k: [] for k in reads}
            errors: dict[str, int] = {}
            for round_ in range(max(v[3] for v in reads.values())):
                for name, (method, path, kw, count) in reads.items():
                    if round_ >= count:
                        continue
                    if name == "scale":
                        kw = {"json": {"instances": a.app_instances + (1 if round_ % 2 == 0 else 0)},
                              "params": {"force": "true"}}
                    t0 = time.monotonic()
                    resp = self.api(method, path, **kw)
                    times[name].append((time.monotonic() - t0) * 1000)
                    if resp.status_code >= 400:
                        errors[name] = errors.get(name, 0) + 1
        events.stop()
        r = self.result
        for name, values in times.items():
            r[f"api.{name}.p50_ms"], r[f"api.{name}.p99_ms"] = pct(values, 0.5), pct(values, 0.99)
        r["api.errors"] = errors
        r["events.lag_p50_ms"], r["events.lag_p99_ms"] = pct(events.lags, 0.5), pct(events.lags, 0.99)
        r["events.received"] = len(events.lags)
        log("  api: " + ", ".join(f"{n} p50 {r[f'api.{n}.p50_ms']} p99 {r[f'api.{n}.p99_ms']} ms" for n in times)
            + f"; events lag p99 {r['events.lag_p99_ms']} ms over {len(events.lags)} events; errors {errors}")

    # --- the run --------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        steps = {"launch": self.launch, "many": self.many, "failover": self.failover, "api": self.api_reads}
        for step in self.scenarios:
            steps[step]()
        return self.result

    def figures(self) -> dict[str, Any]:
        """The result with the run's configuration and the profiles (also after a failure)."""
        r = dict(self.result)
        r["config"] = {k: getattr(self.args, k) for k in ("agents", "scenario", "launch_instances", "apps",
                                                            "app_instances", "restart_apps", "zk_session_timeout",
                                                            "deployment_timeout", "discovery")}
        if self.profiles:
            r["profile"] = self.profiles
        return r


class EventLag:
    """A ``/v2/events`` subscriber: for each event, its arrival (wall clock) less its ``timestamp``."""

    def __init__(self, url: str):
        self.url = url
        self.lags: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="events")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        try:
            with requests.get(self.url + "/v2/events", stream=True, timeout=(5, 5),
                              headers={"Accept": "text/event-stream"}) as resp:
                for line in resp.iter_lines():
                    if self._stop.is_set():
                        return
                    if line.startswith(b"data:"):
                        try:
                            stamp = json.loads(line[5:])["timestamp"]
                        except (ValueError, KeyError, TypeError):
                            continue
                        at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
                        self.lags.append((time.time() - at.timestamp()) * 1000)
        except requests.RequestException:
            return   # a read timeout while idle, or the leader went away


ORDER = ("launch", "many", "failover", "api")


def scenarios(spec: str) -> list[str]:
    """``all``, one scenario, or a comma-separated list, in the order they run; failover and api
    need what many creates, so many runs before them."""
    asked = set(ORDER) if spec == "all" else {s.strip() for s in spec.split(",")}
    unknown = asked - set(ORDER)
    if unknown:
        raise ValueError(f"unknown scenario(s) {', '.join(sorted(unknown))}: choose from {', '.join(ORDER)}, all")
    if asked & {"failover", "api"}:
        asked.add("many")
    return [s for s in ORDER if s in asked]


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--scenario", default="all",
                    help="launch|many|failover|api|all, or a comma-separated list (failover and api run many first)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    ap.add_argument("--launch-instances", type=int, default=10000)
    ap.add_argument("--apps", type=int, default=500)
    ap.add_argument("--app-instances", type=int, default=100)
    ap.add_argument("--restart-apps", type=int, default=100)
    ap.add_argument("--samples", type=int, default=20, help="requests per API read (more for one app)")
    ap.add_argument("--zk-session-timeout", default="10s")
    ap.add_argument("--deployment-timeout", default="10m",
                    help="the schedulers' --deployment-timeout (Halyard's default, 10m: a deployment without progress for that long rolls back)")
    ap.add_argument("--discovery", action="store_true", help="announce members in ZooKeeper (off: --no-discovery)")
    ap.add_argument("--starting-delay", type=float, default=0.1)
    ap.add_argument("--running-delay", type=float, default=0.1)
    ap.add_argument("--deadline", type=float, default=3600, help="seconds any one wait may take")
    ap.add_argument("--settle", type=float, default=10, help="seconds after a failover to watch for kills")
    ap.add_argument("--poll", type=float, default=0.5, help="seconds between progress reads")
    ap.add_argument("--profile", action="store_true", help="py-spy the leader in each scenario")
    ap.add_argument("--sim-port", type=int, default=17050)
    ap.add_argument("--zk-port", type=int, default=17181)
    ap.add_argument("--scheduler-port", type=int, default=0,
                    help="the first scheduler's API port (the second gets the next one); 0: free ports")
    ap.add_argument("--work-dir")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs, profiles)")
    return ap.parse_args(argv)


def summary_line(r: dict[str, Any]) -> str:
    api = [v for k, v in r.items() if k.startswith("api.") and k.endswith(".p99_ms") and v is not None]
    return (f"scale: {r.get('launch.tasks_per_s')} tasks/s (null {r.get('launch.null_tasks_per_s')}), "
            f"failover {r.get('failover.seconds_to_serve')} s, api p99 {max(api) if api else None} ms")


def main(argv: list[str]) -> int:
    args = parse(argv)
    try:
        scenarios(args.scenario)
    except ValueError as exc:
        print(f"scale.py: {exc}", file=sys.stderr)
        return 2
    bench = Bench(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    status = 0
    try:
        bench.start()
        bench.run()
    except (Exception, KeyboardInterrupt, SystemExit) as exc:   # noqa: BLE001 - report, clean up, exit non-zero
        log(f"FAILED: {exc!r}")
        for p in bench.procs:
            if p.name.startswith("scheduler"):
                log(f"--- {p.name} log tail ---\n{p.log_tail(30)}")
        bench.result["error"] = repr(exc)
        status = 1
    finally:
        bench.stop()
    figures = bench.figures()
    if args.json:
        print(json.dumps(figures, indent=1, sort_keys=True))
    print(summary_line(figures))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
