"""What the soak reads: once a second the master, every scheduler and ZooKeeper (one
:class:`~soaklib.invariants.Sample`), a standing ``/v2/events`` subscriber, and every answer the
workload and the faults get from the API (for the 5xx check)."""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Optional

import requests
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoNodeError

from halyard.engine.app_records import AppRecord, DeploymentRecord, TaskRecord
from halyard.store import codec

from .invariants import AppState, Sample, TaskState
from .procs import Cluster, SchedulerProc

log = logging.getLogger("soak")
ACTIVE = ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING")


class Responses:
    """Every API answer (time, status, what), thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[tuple[float, int, str, Optional[float]]] = []

    def add(self, status: int, what: str, sent: Optional[float] = None) -> None:
        """An answer, now; ``sent``: when its request was sent."""
        with self.lock:
            self.items.append((time.time(), status, what, sent))

    def all(self) -> list[tuple[float, int, str, Optional[float]]]:
        with self.lock:
            return list(self.items)


class Api:
    """The Marathon API of whichever scheduler answers (a standby forwards to the leader)."""

    def __init__(self, schedulers: list[SchedulerProc], responses: Responses, rng: Any):
        self.schedulers, self.responses, self.rng = schedulers, responses, rng

    def request(self, method: str, path: str, timeout: float = 20, **kw: Any) -> Optional[requests.Response]:
        """One request to a random live scheduler (the others if it does not answer at all); None
        when none answered."""
        candidates = [s for s in self.schedulers if s.alive and not s.frozen]
        self.rng.shuffle(candidates)
        for s in candidates:
            sent = time.time()
            try:
                resp = requests.request(method, s.url + path, timeout=timeout, **kw)
            except requests.RequestException:
                continue
            what = f"{method} {path} via scheduler {s.index}"
            if resp.status_code >= 500:   # the answer's own words, for the report
                what += f": {resp.text[:160]!r}"
            self.responses.add(resp.status_code, what, sent)
            return resp
        return None

    def json(self, path: str) -> Any:
        resp = self.request("GET", path)
        if resp is None or not resp.ok:
            return None
        return resp.json()


class ZkReader:
    """Halyard's state, read straight from ZooKeeper."""

    def __init__(self, cluster: Cluster, chroot: str):
        self.root = f"/{chroot}"  # the --zk chroot is the store root
        self.client = KazooClient(hosts=cluster.zk_hosts, timeout=5, connection_retry={"max_tries": -1, "delay": 0.5})
        self.client.start(timeout=30)

    def close(self) -> None:
        self.client.stop()
        self.client.close()

    def _children(self, part: str) -> list[tuple[str, Any]]:
        out = []
        for name in self.client.get_children(f"{self.root}/{part}"):
            try:
                data, _ = self.client.get(f"{self.root}/{part}/{name}")
            except NoNodeError:
                continue
            if data:
                out.append((name, codec.decode(data)))
        return out

    def read(self) -> tuple[Optional[int], Optional[dict[str, AppState]], Optional[dict[str, TaskState]], dict[str, float]]:
        """(epoch, apps, tasks, running deployments: id -> start time); Nones when ZooKeeper cannot be read."""
        if not self.client.connected:
            return None, None, None, {}
        try:
            epoch = int(self.client.get(f"{self.root}/epoch")[0] or b"0")
            deployments = [DeploymentRecord.from_json(d) for _, d in self._children("deployments")]
            running = {d.id: d.started_at for d in deployments if d.status == "running"}
            deploying = {d.app_id for d in deployments if d.status == "running"}
            apps = {}
            for _, data in self._children("apps"):
                record = AppRecord.from_json(data)
                strategy = record.spec.upgrade_strategy
                apps[record.app_id] = AppState(record.spec.instances, strategy.maximum_over_capacity,
                                               record.app_id in deploying, record.deleting,
                                               strategy.minimum_health_capacity)
            tasks = {}
            for _, data in self._children("tasks"):
                task = TaskRecord.from_json(data)
                note = f"agent {task.agent_id[-3:]}" + (" killing" if task.killing else "") + \
                    (" expired" if task.expired else "") + (f" cv {task.config_version:.3f}")
                tasks[task.task_id] = TaskState(task.app_id, task.state, task.live, note)
            return epoch, apps, tasks, running
        except (KazooException, ValueError, KeyError) as exc:
            log.debug("ZooKeeper read failed: %r", exc)
            return None, None, None, {}
        except Exception as exc:  # noqa: BLE001 - kazoo's timeouts are not all KazooExceptions
            log.debug("ZooKeeper read failed: %r", exc)
            return None, None, None, {}


class Sampler(threading.Thread):
    """Reads everything once a second into ``samples``; remembers when each task of the
    framework first ran (``running_at``, from the master's status timestamps)."""

    def __init__(self, cluster: Cluster, name: str, schedulers: list[SchedulerProc], zk: ZkReader):
        super().__init__(daemon=True, name="sampler")
        self.cluster, self.name, self.schedulers, self.zk = cluster, name, schedulers, zk
        self.samples: list[Sample] = []
        self.deployments: dict[str, float] = {}
        self.running_at: dict[str, float] = {}
        self.running_listed: dict[str, float] = {}   # task id -> when the master first listed it as having run
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.listeners: list[Any] = []

    def master_tasks(self) -> Optional[dict[str, str]]:
        try:
            data = requests.get(self.cluster.master + "/master/frameworks", timeout=3).json()
        except (requests.RequestException, ValueError):
            return None
        tasks: dict[str, str] = {}
        for fw in data.get("frameworks", []):
            if fw.get("name") != self.name:
                continue
            for task in fw.get("tasks", []) + fw.get("completed_tasks", []):
                for status in task.get("statuses", []):
                    if status["state"] == "TASK_RUNNING":
                        self.running_at.setdefault(task["id"], status["timestamp"])
                        self.running_listed.setdefault(task["id"], time.time())
                        break
                if task["state"] in ACTIVE:
                    tasks[task["id"]] = task["state"]
            for task in fw.get("unreachable_tasks", []):
                tasks[task["id"]] = "TASK_UNREACHABLE"
        return tasks

    def read(self) -> Sample:
        t = time.time()
        master = self.master_tasks()
        leaders = {}
        for s in self.schedulers:
            if s.alive and not s.frozen:
                stats = s.stats(timeout=1.5)
                if stats and stats.get("leader"):
                    leaders[s.index] = stats.get("epoch")
        epoch, apps, tasks, deployments = self.zk.read()
        if epoch is not None:
            self.deployments = deployments
        return Sample(t, master, leaders, epoch, apps, tasks)

    def latest(self) -> Optional[Sample]:
        with self.lock:
            return self.samples[-1] if self.samples else None

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                sample = self.read()
            except Exception:  # noqa: BLE001 - one bad reading must not end the soak
                log.exception("sampling failed")
            else:
                with self.lock:
                    self.samples.append(sample)
                for listener in self.listeners:
                    listener(sample)
            self.stopping.wait(max(0.0, 1.0 - (time.monotonic() - started)))


class EventSubscriber(threading.Thread):
    """A standing ``/v2/events`` subscriber: reconnects (to whichever scheduler answers; a
    standby redirects to the leader) whenever the stream ends; records the task ids it saw in
    TASK_RUNNING and when it was connected."""

    def __init__(self, schedulers: list[SchedulerProc]):
        super().__init__(daemon=True, name="events")
        self.schedulers = schedulers
        self.seen_running: set[str] = set()
        self.connected: list[tuple[float, float]] = []
        self.stopping = threading.Event()
        self.events = 0
        self.current: Optional[float] = None   # since when the open stream is connected
        self._open: Optional[tuple[SchedulerProc, Any]] = None   # the scheduler streaming now, its response
        self._cut_at: Optional[float] = None   # when the stream's scheduler froze (the stream cut for it)

    def _watch_frozen(self) -> None:
        """A stream from a scheduler that is frozen (SIGSTOP) delivers nothing until it wakes, and
        Marathon's event bus replays nothing: the subscriber counts as disconnected from the
        moment its scheduler froze (as a client's keep-alive timeout would find, later), and
        reconnects to the leader."""
        while not self.stopping.wait(0.1):
            open_ = self._open
            if open_ is not None and open_[0].frozen:
                self._cut_at = open_[0].frozen_at
                open_[1].close()

    def run(self) -> None:
        threading.Thread(target=self._watch_frozen, daemon=True, name="events-frozen").start()
        n = 0
        while not self.stopping.is_set():
            live = [s for s in self.schedulers if s.alive and not s.frozen]
            if not live:
                self.stopping.wait(0.5)
                continue
            s = live[n % len(live)]
            n += 1
            start: Optional[float] = None
            try:
                with requests.get(s.url + "/v2/events", params={"event_type": "status_update_event"},
                                  headers={"Accept": "text/event-stream"}, stream=True, timeout=(2, 15)) as resp:
                    if resp.status_code != 200:
                        self.stopping.wait(0.5)
                        continue
                    start = self.current = time.time()
                    self._cut_at = None
                    # a standby answers with a redirect to the leader: the stream is the leader's
                    serving = next((x for x in self.schedulers if resp.url.startswith(x.url + "/")), s)
                    self._open = (serving, resp)
                    for line in resp.iter_lines(decode_unicode=True):
                        if self.stopping.is_set():
                            break
                        if line and line.startswith("data:"):
                            self._event(line[5:].strip())
            except (requests.RequestException, ValueError, AttributeError):
                pass   # AttributeError: the response closed under iter_lines by _watch_frozen
            finally:
                self._open = None
                if start is not None:
                    self.current = None
                    end, self._cut_at = (self._cut_at or time.time()), None
                    self.connected.append((start, max(start, end)))
            self.stopping.wait(0.2)

    def _event(self, data: str) -> None:
        try:
            event = json.loads(data)
        except ValueError:
            return
        for e in event if isinstance(event, list) else [event]:
            self.events += 1
            if e.get("eventType") == "status_update_event" and e.get("taskStatus") == "TASK_RUNNING":
                self.seen_running.add(e.get("taskId"))
