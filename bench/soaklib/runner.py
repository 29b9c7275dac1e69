"""The soak run: a private cluster, N schedulers, the workload, the faults and the checks at once;
everything it started is stopped at the end, also on failure or Ctrl-C."""
from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from . import faults as fault_kinds
from .invariants import (
    JOB_TASK_PREFIX,
    CapacityWatch,
    LeaderWatch,
    Sample,
    cron_problems,
    leaderless_intervals,
    lost_objects,
    missed_events,
    server_errors,
    stuck_deployments,
    task_prefix,
    unsettled,
)
from .observe import Api, EventSubscriber, Responses, Sampler, ZkReader
from .partitions import PARTITION_KINDS
from .procs import ZK_SESSION_TIMEOUT, Cluster, SchedulerProc
from .report import FaultRecord, summary, table
from .workload import CRON_JOB, Workload

log = logging.getLogger("soak")
RECONCILIATION = 15.0                                  # seconds a new leader takes to reconcile, at most
SETTLE_BOUND = ZK_SESSION_TIMEOUT + RECONCILIATION + 30.0
DEPLOYMENT_BOUND = 240.0                               # every deployment ends within this
OVERLAP = 0.2                                          # chance that a second fault overlaps the first
HA_WEIGHT = 3                                          # --ha: an HA fault kind's weight in the draw (others 1)


def epoch_seconds(iso: str) -> float:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


class Soak:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.rng = random.Random(args.seed)
        self.work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="halyard-soak-"))
        self.cluster = Cluster(self.work / "run", args.agents, args.port, args.zk_port, args.task_ports,
                               ha=args.ha, docker=not args.no_docker, hosts=args.hosts,
                               schedulers=args.schedulers)
        tag = uuid.uuid4().hex[:6]
        self.name, self.chroot = f"halyard-soak-{tag}", f"soak-{tag}"
        self.schedulers: list[SchedulerProc] = []
        self.responses = Responses()
        self.general: list[str] = []
        self.faults: list[FaultRecord] = []
        self.draws = 0                                # faults drawn so far (--hosts: every other one a partition)
        self.partition_draws: dict[str, int] = {}     # --hosts: partition kind -> times drawn
        self.zk: Optional[ZkReader] = None
        self.sampler: Optional[Sampler] = None
        self.events: Optional[EventSubscriber] = None
        self.workload: Optional[Workload] = None
        self.lock = threading.Lock()
        self.t0 = time.time()
        # Figures for the report, set by finish():
        self.leaderless: list[tuple[float, float]] = []
        self.event_checked = 0
        self.cron_checked = 0

    # --- violations outside faults --------------------------------------------------------------

    def _general(self, problems: list[str]) -> None:
        with self.lock:
            for p in problems:
                stamp = f"[{time.time() - self.t0:.0f}s] {p}"
                self.general.append(stamp)
                log.error("VIOLATION %s", stamp)

    def _watch(self) -> Any:
        capacity, leaders = CapacityWatch(), LeaderWatch()
        reported: set[str] = set()   # stuck deployments already said

        def listener(sample: Sample) -> None:
            over = capacity.feed(sample)
            for problem in over:   # what each side thought, for the report
                app_id = problem.split()[2]
                prefix = task_prefix(app_id) + "."
                log.error("over capacity detail %s: Mesos %s; Halyard %s; app %s; leaders %s", app_id,
                          {t: s for t, s in (sample.master or {}).items() if t.startswith(prefix)},
                          {t: (s.state, s.live, s.note) for t, s in (sample.tasks or {}).items() if s.app_id == app_id},
                          (sample.apps or {}).get(app_id), sample.leaders)
            self._general(over + leaders.feed(sample))
            if self.sampler is not None:
                self._general(stuck_deployments(self.sampler.deployments, sample.t, DEPLOYMENT_BOUND, reported))
        return listener

    # --- steps --------------------------------------------------------------------------------

    def start(self) -> None:
        log.info("cluster up in %s", self.cluster.run_dir)
        self.cluster.up()
        for i in range(self.args.schedulers):
            self.schedulers.append(SchedulerProc(self.cluster, self.chroot, self.name, self.work, i).start())
        api = Api(self.schedulers, self.responses, random.Random(self.rng.random()))
        self.ctx = fault_kinds.Context(self.cluster, self.schedulers, api, self.responses,
                                       random.Random(self.rng.random()), self.args.agents, self._zk_epoch, self.name)
        self.ctx.leader(90)
        self.zk = ZkReader(self.cluster, self.chroot)
        self.sampler = Sampler(self.cluster, self.name, self.schedulers, self.zk)
        self.sampler.listeners.append(self._watch())
        self.sampler.start()
        self.events = EventSubscriber(self.schedulers)
        self.events.start()
        self.workload = Workload(api, random.Random(self.rng.random()), docker=not self.args.no_docker,
                                 steady=self.args.ha, partitions=self.args.agents if self.args.hosts else 0)
        self.workload.setup()
        recovered, problems = self.settle(time.time(), 240, idle=True)   # every deployment ended: a fault's "before" is whole
        if recovered is None:
            raise RuntimeError("the workload's apps are not running before the first fault: " + "; ".join(problems))
        self.workload.start()

    def _zk_epoch(self) -> Optional[int]:
        s = self.sampler.latest() if self.sampler else None
        return s.zk_epoch if s else None

    def settle(self, since: float, bound: float, idle: bool = False) -> tuple[Optional[float], list[str]]:
        """Waits until the invariants hold (a fresh sample with nothing unsettled and nothing lost;
        with ``idle``, no deployment running either: every deployment ended); (seconds from
        ``since``, []) or (None, what still did not hold after ``bound``)."""
        deadline = time.time() + bound
        problems: list[str] = ["no sample yet"]
        seen: Optional[float] = None
        while time.time() < deadline:
            time.sleep(1)
            sample = self.sampler.latest()  # type: ignore[union-attr]
            if sample is None or sample.t == seen:
                continue
            seen = sample.t
            problems = unsettled(sample)
            if idle and not problems and self.sampler.deployments:  # type: ignore[union-attr]
                problems = [f"deployment {d} still running" for d in sorted(self.sampler.deployments)]  # type: ignore[union-attr]
            if problems and int(sample.t) % 10 == 0:
                log.info("not settled: %s", "; ".join(problems[:5]))
            if not problems:
                problems = self.lost()
            if not problems:
                return sample.t - since, []
        return None, problems

    def lost(self) -> list[str]:
        before = self.workload.expected_apps()  # type: ignore[union-attr]
        apps = self.ctx.api.json("/v2/apps")
        jobs = self.ctx.api.json("/v1/jobs")
        if not isinstance(apps, dict) or not isinstance(jobs, list):
            return ["the apps or jobs cannot be listed"]
        expected = before & self.workload.expected_apps()  # type: ignore[union-attr]
        return (lost_objects(expected, [a["id"] for a in apps["apps"]], "app")
                + lost_objects(self.workload.jobs, [j["id"] for j in jobs], "job"))  # type: ignore[union-attr]

    def inject(self, kinds: list[str]) -> list[FaultRecord]:
        records = [FaultRecord(kind, time.time()) for kind in kinds]

        def one(record: FaultRecord) -> None:
            try:
                outcome = self.kinds[record.kind](self.ctx)
                # a master failover's outcome also says how long Halyard took to follow the new master
                record.detail, record.resubscribe = outcome if isinstance(outcome, tuple) else (outcome, None)
                if record.kind in PARTITION_KINDS:   # drawn alone: the figures are its own
                    with self.ctx.lock:
                        record.figures, self.ctx.figures = dict(self.ctx.figures), {}
            except Exception as exc:  # noqa: BLE001 - a fault that could not be injected is reported
                record.detail = f"injection failed: {exc!r}"
                log.exception("fault %s", record.kind)
            record.ended = time.time()

        threads = []
        for n, record in enumerate(records):
            if n:
                time.sleep(self.ctx.rng.uniform(0.5, 4))
                record.started = time.time()
            t = threading.Thread(target=one, args=(record,), daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join(300)
        return records

    @property
    def kinds(self) -> dict[str, Any]:
        """The fault draw: every kind (not ``docker-kill`` without Docker), and with ``--ha`` the
        production control plane's faults too."""
        kinds: dict[str, Any] = {k: f for k, f in fault_kinds.KINDS.items()
                                 if not (self.args.no_docker and k == "docker-kill")}
        partitions = {k: f for k, f in PARTITION_KINDS.items()
                      if self.args.hosts and not (self.args.no_leader_zk_cut and k == "leader-zk-cut")}
        every = {**kinds, **(fault_kinds.HA_KINDS if self.args.ha else {}), **partitions}
        if getattr(self.args, "kinds", None):
            wanted = set(self.args.kinds.split(","))
            if wanted - set(every):
                raise SystemExit(f"--kinds: unknown or not in this run's draw: {', '.join(sorted(wanted - set(every)))}")
            every = {k: f for k, f in every.items() if k in wanted}
        return every

    def draw(self) -> list[str]:
        """One fault kind, sometimes two overlapping. With ``--ha``, each HA kind weighs HA_WEIGHT
        (so that a short run meets them); an HA fault overlaps only a fault that neither is one, nor
        replaces tasks (the same-ids check of a master failover would blame it), nor restarts
        ZooKeeper or a master. With ``--hosts``, every other fault is a partition, alone: the kind
        drawn least so far (ties by the seed), so that a short run meets each; the others are drawn
        as without ``--hosts``."""
        names = sorted(k for k in self.kinds if k not in PARTITION_KINDS)
        partitions = sorted(k for k in self.kinds if k in PARTITION_KINDS)
        ha = fault_kinds.HA_KINDS
        if partitions and (self.draws % 2 == 0 or not names):
            self.draws += 1
            least = min(self.partition_draws.get(k, 0) for k in partitions)
            first = self.ctx.rng.choice([k for k in partitions if self.partition_draws.get(k, 0) == least])
            self.partition_draws[first] = least + 1
            return [first]
        self.draws += 1
        if self.args.ha:
            first = self.ctx.rng.choices(names, [HA_WEIGHT if k in ha else 1 for k in names])[0]
        else:
            first = self.ctx.rng.choice(names)   # the draw without --ha, as it always was

        def compatible(k: str) -> bool:
            if k in PARTITION_KINDS:
                return False
            if k == first or (k in ha and first in ha):
                return False
            if k not in ha and first not in ha:
                return True
            return (first if k in ha else k) not in fault_kinds.REPLACING | fault_kinds.CONTROL_PLANE
        kinds = [first]
        if self.ctx.rng.random() < OVERLAP:
            partners = [k for k in names if compatible(k)]
            if partners:
                kinds.append(self.ctx.rng.choice(partners))
        return kinds

    def fault_loop(self) -> None:
        end = time.time() + self.args.minutes * 60
        while time.time() < end:
            kinds = self.draw()
            started = time.time()
            log.info("fault %s", " + ".join(kinds))
            records = self.inject(kinds)
            self.faults.extend(records)
            for r in records:
                with self.ctx.lock:
                    r.violations.extend(self.ctx.violations)
                    self.ctx.violations.clear()
            recovered, problems = self.settle(min(r.started for r in records), SETTLE_BOUND)
            for r in records:
                if recovered is None:
                    r.violations.append(f"not settled {SETTLE_BOUND:.0f}s after the fault ended: "
                                        + "; ".join(problems[:6]))
                else:
                    r.recovered = recovered + records[0].started - r.started
                log.info("fault %s (%s): %s", r.kind, r.detail,
                         f"recovered in {r.recovered:.1f}s" if r.recovered is not None else "NOT RECOVERED")
            pause = started + self.ctx.rng.uniform(10, 30) - time.time()
            if pause > 0 and time.time() + pause < end:
                time.sleep(pause)

    def finish(self) -> None:
        """The workload stops; everything settles; the end-of-run checks."""
        self.workload.stopping.set()  # type: ignore[union-attr]
        self.workload.join(60)  # type: ignore[union-attr]
        recovered, problems = self.settle(time.time(), SETTLE_BOUND + 60, idle=True)
        if recovered is None:
            self._general(["not settled at the end: " + "; ".join(problems[:8])])
        now = time.time()
        # Every kept run in Halyard's own view (Metronome's answer lists only the active ones).
        runs = [r["halyard"] for r in self.ctx.api.json(f"/v1/jobs/{CRON_JOB}/runs?embed=halyard") or []]
        for run in runs:
            run["scheduledFor"] = epoch_seconds(run["scheduledFor"]) if run.get("scheduledFor") else None
        self.cron_checked = len(runs)
        if self.workload.cron_defined_at is not None:  # type: ignore[union-attr]
            self._general(cron_problems(runs, self.workload.cron_defined_at + 1, now - 90))  # type: ignore[union-attr]
        self.events.stopping.set()  # type: ignore[union-attr]
        connected = list(self.events.connected)  # type: ignore[union-attr]
        if self.events.current is not None:  # type: ignore[union-attr]
            connected.append((self.events.current, now))  # type: ignore[union-attr]
        running_at = {t: at for t, at in self.sampler.running_at.items() if at >= self.t0 and at < now - 5}  # type: ignore[union-attr]
        self.event_checked = len([t for t in running_at if not t.startswith(JOB_TASK_PREFIX)])
        self._general(missed_events(running_at, self.events.seen_running, connected,  # type: ignore[union-attr]
                                    first_listed=self.sampler.running_listed))  # type: ignore[union-attr]
        self.leaderless = leaderless_intervals(self.sampler.samples)  # type: ignore[union-attr]
        # 503s are expected while no scheduler leads and while ZooKeeper has no quorum (--ha)
        self._general(server_errors(self.responses.all(), self.leaderless + self.ctx.quorum_lost))

    def stop(self) -> None:
        for part in (self.workload, self.events, self.sampler):
            if part is not None:
                part.stopping.set()
        for s in self.schedulers:
            try:
                s.kill9()
            except Exception:  # noqa: BLE001 - the cluster goes down regardless
                log.exception("stopping scheduler %d", s.index)
        if self.zk is not None:
            try:
                self.zk.close()
            except Exception:  # noqa: BLE001
                pass
        problem = self.cluster.down()
        if problem:
            log.error("minimesos down: %s", problem)

    def result(self) -> dict[str, Any]:
        leaderless = sum(b - a for a, b in self.leaderless)
        checked = {"samples": len(self.sampler.samples) if self.sampler else 0,
                   "task starts against the event stream": self.event_checked,
                   "events": self.events.events if self.events else 0,
                   "API answers": len(self.responses.all()),
                   "cron runs": self.cron_checked,
                   "workload actions": sum(self.workload.actions.values()) if self.workload else 0}
        extra = {"checked": checked, "seed": self.args.seed, "minutes": self.args.minutes, "schedulers": self.args.schedulers,
                 "ha": self.args.ha, "hosts": self.args.hosts,
                 "workload_actions": dict(self.workload.actions) if self.workload else {},
                 "events_seen": self.events.events if self.events else 0,
                 "api_answers": len(self.responses.all()), "work_dir": str(self.work)}
        return summary(self.faults, self.general, leaderless, extra)


def main(args: argparse.Namespace) -> int:
    soak = Soak(args)
    try:
        _ = soak.kinds   # a bad --kinds is refused before anything starts
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    soak.work.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        handlers=[logging.FileHandler(soak.work / "soak.log"), logging.StreamHandler()])
    logging.getLogger("kazoo").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.ERROR)

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, terminate)
    failed: Optional[str] = None
    try:
        soak.start()
        soak.fault_loop()
        soak.finish()
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - reported as a violation, then cleaned up
        log.exception("soak failed")
        failed = f"the soak itself failed: {exc!r}"
    finally:
        soak.stop()
    if failed:
        soak.general.append(failed)
    data = soak.result()
    print(json.dumps(data, indent=1) if args.json else table(data))
    if args.json:
        print(f"soak: {data['faults']} faults, {data['violations']} violations")
    if not args.keep and not data["violations"]:
        shutil.rmtree(soak.work / "run", ignore_errors=True)
    return 1 if data["violations"] else 0
