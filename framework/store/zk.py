"""Halyard's state in ZooKeeper: one znode per app and per task, fenced by a leader epoch.

Layout under the root (``/halyard`` by default, inside the ``--zk`` chroot)::

    framework_id          the Mesos FrameworkID
    epoch                 leader epoch; every write transaction checks its version
    apps/<quoted app id>  AppRecord JSON
    tasks/<task id>       TaskRecord JSON
    deployments/<key>     DeploymentRecord JSON (running, and the last ended ones with their result;
                          ``<id>:<app id>`` for each app of a deployment of several)
    jobs/<job id>         JobRecord JSON (definition, next scheduled firing)
    runs/<job id>:<run id>  RunRecord JSON (active runs, and the last ended ones)
    versions/<quoted app id>/<version>  AppVersion JSON: the app's definition at that version (the
                          last ``--max-versions`` of each app; the app's node stays, empty, when
                          the app is removed)
    drains/<agent id>     DrainRecord JSON: an agent being drained (or drained, until reactivated)
    releases/<service>:<environment>  the last releases (``store/releases.py``)
    leader/               election contenders (kazoo's Election recipe)

A new leader bumps ``epoch`` (a versioned set): from then on, transactions of any older leader
fail their epoch check and raise :class:`~halyard.errors.FencedError`. Writes are versioned:
a version conflict reloads the node's version and retries once instead of overwriting blindly.
One :class:`~halyard.engine.messages.Persist` is one transaction, or, when it is larger than
ZooKeeper's request size limit, several (each fenced), written in an order recovery resolves.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    ConnectionLoss,
    KazooException,
    NodeExistsError,
    NoNodeError,
    OperationTimeoutError,
    RolledBackError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.security import make_digest_acl

from ..engine.app_records import AppRecord, AppVersion, DeploymentRecord, DrainRecord, Snapshot, TaskRecord
from ..engine.messages import Persist
from ..errors import FencedError, StoreError, StoreUnavailableError
from ..jobs.records import JobRecord, RunRecord
from . import codec
from . import versions as app_versions

log = logging.getLogger(__name__)
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
MAX_TXN_BYTES = 512 * 1024  # well below jute.maxbuffer (1 MB)
LOAD_BATCH = 1000  # reads in flight at once while loading
#: The nodes ``ensure_layout`` creates under the root.
LAYOUT_NODES = ("apps", "tasks", "deployments", "jobs", "runs", "versions", "drains", "leader", "reach")
#: Every node of the state store under its root: a discovery path may not be one of them.
STATE_NODES = ("framework_id", "epoch", "releases", *LAYOUT_NODES)
Op = tuple[str, str, bytes | None]  # (put|delete, path, data)
# What kazoo raises when ZooKeeper cannot be reached right now (the same call may succeed later).
UNAVAILABLE = (ConnectionLoss, OperationTimeoutError, SessionExpiredError, KazooTimeoutError)


def kazoo_errors(what: str) -> Callable[[F], F]:
    """Decorate a store operation so that what kazoo raises leaves it as Halyard's StoreError:
    StoreUnavailableError when ZooKeeper cannot be reached now, StoreError otherwise."""
    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except UNAVAILABLE as exc:
                raise StoreUnavailableError(f"ZooKeeper unavailable: {exc!r}") from exc
            except KazooException as exc:
                raise StoreError(f"ZooKeeper {what} failed: {exc!r}") from exc
        return wrapper  # type: ignore[return-value]  # the same signature as func
    return decorate


def digest_acl(credentials: str | None) -> list | None:
    """``user:password`` -> an ACL giving that digest identity every permission."""
    if not credentials:
        return None
    user, _, password = credentials.partition(":")
    return [make_digest_acl(user, password, all=True)]


class ZkStore:
    """Apps, tasks and the framework id in ZooKeeper, written only by the current leader (a
    :class:`~halyard.store.base.StateStore`). Every public operation raises StoreError, never kazoo's."""

    def __init__(self, client: KazooClient, root: str = "/halyard", acl: list | None = None):
        self.client = client
        self.root = root.rstrip("/")  # "": the root of the client's chroot
        self.acl = acl
        self._epoch_version: int | None = None
        self._versions: dict[str, int] = {}

    # --- paths --------------------------------------------------------------------------------

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def app_path(self, app_id: str) -> str:
        return self.path("apps", quote(app_id, safe=""))

    def task_path(self, task_id: str) -> str:
        return self.path("tasks", quote(task_id, safe=""))

    def deployment_path(self, deployment_id: str) -> str:
        return self.path("deployments", quote(deployment_id, safe=""))

    def drain_path(self, agent_id: str) -> str:
        return self.path("drains", quote(agent_id, safe=""))

    def versions_path(self, app_id: str) -> str:
        return self.path("versions", quote(app_id, safe=""))

    def version_path(self, app_id: str, version: float) -> str:
        return "/".join([self.versions_path(app_id), repr(float(version))])

    def job_path(self, job_id: str) -> str:
        return self.path("jobs", quote(job_id, safe=""))

    def run_path(self, job_id: str, run_id: str) -> str:
        return self.path("runs", quote(f"{job_id}:{run_id}", safe=""))

    @property
    def fence_version(self) -> int | None:
        """The epoch node's version this leader claimed (None before it claims one): a write
        checking it fails once a newer leader has claimed the store."""
        return self._epoch_version

    @property
    def election_path(self) -> str:
        return self.path("leader")

    @kazoo_errors("setup")
    def ensure_layout(self) -> None:
        for part in LAYOUT_NODES:
            self.client.ensure_path(self.path(part), acl=self.acl)

    # --- leadership ---------------------------------------------------------------------------

    @kazoo_errors("epoch claim")
    def become_leader(self) -> int:
        """Claim the next leader epoch; writes of earlier leaders fail from now on."""
        path = self.path("epoch")
        while True:
            try:
                data, stat = self.client.get(path)
            except NoNodeError:
                try:
                    self.client.create(path, b"0", acl=self.acl, makepath=True)
                except NodeExistsError:
                    pass
                continue
            epoch = int(data or b"0") + 1
            try:
                stat = self.client.set(path, str(epoch).encode(), version=stat.version)
            except BadVersionError:
                continue
            self._epoch_version = stat.version
            log.info("leader epoch %d", epoch)
            return epoch

    @kazoo_errors("epoch read")
    def current_epoch(self) -> int:
        """The leader epoch ZooKeeper holds now (the newest leader's). Synced first: a server cut off
        from its quorum still answers reads, from before the cut, until it notices (ZooKeeper's
        ``syncLimit``), and a deposed leader reading an old epoch there would take the framework
        back from the new one; a sync through such a server fails instead."""
        path = self.path("epoch")
        self.client.sync(path)
        return int(self.client.get(path)[0] or b"0")

    # --- which schedulers reach the Mesos master ----------------------------------------------

    @kazoo_errors("master reach mark")
    def mark_master_reach(self, identifier: str, reaches: bool) -> None:
        """Say whether this scheduler (its election identifier) reaches the Mesos master now: an
        ephemeral node under ``reach/`` while it does (gone with the session, too)."""
        path = self.path("reach", identifier)
        if reaches and self.client.exists(path) is None:
            try:
                self.client.create(path, b"", acl=self.acl, ephemeral=True, makepath=True)
            except NodeExistsError:
                pass
        elif not reaches:
            try:
                self.client.delete(path)
            except NoNodeError:
                pass

    @kazoo_errors("master reach read")
    def master_reachers(self) -> list[str]:
        """The identifiers of the schedulers that last said they reach the Mesos master."""
        try:
            return sorted(self.client.get_children(self.path("reach")))
        except NoNodeError:
            return []

    # --- reading ------------------------------------------------------------------------------

    @kazoo_errors("load")
    def load(self) -> Snapshot:
        self.ensure_layout()
        self._versions.clear()
        snap = Snapshot()
        try:
            data, stat = self.client.get(self.path("framework_id"))
            snap.framework_id = data.decode() or None
            self._versions[self.path("framework_id")] = stat.version
        except NoNodeError:
            pass
        snap.apps = {a.app_id: a for a in self._records("apps", AppRecord.from_json)}
        snap.tasks = {t.task_id: t for t in self._records("tasks", TaskRecord.from_json)}
        snap.deployments = {d.key: d for d in self._records("deployments", DeploymentRecord.from_json)}
        snap.jobs = {j.job_id: j for j in self._records("jobs", JobRecord.from_json)}
        snap.runs = {r.run_id: r for r in self._records("runs", RunRecord.from_json)}
        snap.app_versions = app_versions.load(self)
        snap.drains = {d.agent_id: d for d in self._records("drains", DrainRecord.from_json)}
        return snap

    def _records(self, part: str, from_json: Callable[[Any], T]) -> list[T]:
        """Every record under ``part`` (a node deleted meanwhile is skipped). The reads are sent
        ``LOAD_BATCH`` at a time without waiting for each answer (50,000 tasks: 50 round trips'
        worth of waiting, not 50,000)."""
        out = []
        paths = [self.path(part, name) for name in self.client.get_children(self.path(part))]
        for start in range(0, len(paths), LOAD_BATCH):
            batch = paths[start:start + LOAD_BATCH]
            for path, pending in [(path, self.client.get_async(path)) for path in batch]:
                try:
                    data, stat = pending.get()
                except NoNodeError:
                    continue
                self._versions[path] = stat.version
                out.append(from_json(codec.decode(data)))
        return out

    @kazoo_errors("read")
    def app_version(self, app_id: str, version: float) -> AppVersion | None:
        """The app's definition as stored at ``version``, if that version is kept."""
        return app_versions.read(self, app_id, version)

    @kazoo_errors("read")
    def sizes(self) -> dict[str, int]:
        """Stored bytes per znode under apps/ and tasks/ (for figures and alerts)."""
        out = {}
        for part in ("apps", "tasks"):
            for name in self.client.get_children(self.path(part)):
                _, stat = self.client.get(self.path(part, name))
                out[self.path(part, name)] = stat.data_length
        return out

    # --- writing ------------------------------------------------------------------------------

    @kazoo_errors("transaction")
    def commit(self, persist: Persist) -> None:
        """Write one Persist: fenced by the epoch, versioned, in as few transactions as ZooKeeper's
        request size allows (one, unless it is very large: thousands of task records).

        Split or not, it is written in an order that recovery resolves if the scheduler dies
        between two transactions: see :func:`write_units`. Nothing it announces (an ACCEPT, an
        acknowledgement) is sent before the whole of it is written.
        """
        if self._epoch_version is None:
            raise FencedError("this scheduler has not claimed leadership")
        chunk: list[Op] = []
        size = 0
        for unit in self.write_units(persist):
            unit_size = sum(len(path) + len(data or b"") + 64 for _, path, data in unit)
            if chunk and size + unit_size > MAX_TXN_BYTES:
                self._commit_chunk(chunk)
                chunk, size = [], 0
            chunk += unit
            size += unit_size
        if chunk:
            self._commit_chunk(chunk)

    def write_units(self, persist: Persist) -> list[list[Op]]:
        """A Persist's writes as units that are never split across transactions, in this order:

        1. the framework id;
        2. each task record (one unit each): a task written without the rest is one Mesos never
           heard of (no ACCEPT was sent), which reconciliation reports unknown and the engine
           replaces; a task deleted without the rest is gone in Mesos already;
        3. jobs and runs together (a scheduled firing and the job's next firing time stay in one
           transaction, so a failover neither repeats nor skips a firing);
        4. apps, deployments, app versions and drains together (a change, its deployment, its version
           and a rollback are one step; a drain and its apps' drain deployments too);
        5. deleted apps last (their tasks are deleted by then).
        """
        units: list[list[Op]] = []
        if persist.framework_id:
            units.append([("put", self.path("framework_id"), persist.framework_id.encode())])
        units += [[("put", self.task_path(t.task_id), codec.encode(t.to_json()))] for t in persist.tasks]
        units += [[("delete", self.task_path(t), None)] for t in persist.delete_tasks]
        jobs: list[Op] = [("put", self.job_path(j.job_id), codec.encode(j.to_json())) for j in persist.jobs]
        jobs += [("put", self.run_path(r.job_id, r.run_id), codec.encode(r.to_json())) for r in persist.runs]
        jobs += [("delete", self.run_path(j, r), None) for j, r in persist.delete_runs]
        jobs += [("delete", self.job_path(j), None) for j in persist.delete_jobs]
        apps: list[Op] = [("put", self.app_path(a.app_id), codec.encode(a.to_json())) for a in persist.apps]
        apps += [("put", self.deployment_path(d.key), codec.encode(d.to_json())) for d in persist.deployments]
        apps += [("delete", self.deployment_path(d), None) for d in persist.delete_deployments]
        apps += app_versions.write_ops(self, persist)
        apps += [("put", self.drain_path(d.agent_id), codec.encode(d.to_json())) for d in persist.drains]
        apps += [("delete", self.drain_path(a), None) for a in persist.delete_drains]
        units += [unit for unit in (jobs, apps) if unit]
        if persist.delete_apps:
            units.append([("delete", self.app_path(a), None) for a in persist.delete_apps])
        return units

    def _commit_chunk(self, ops: list[Op], retry: bool = True) -> None:
        txn = self.client.transaction()
        txn.check(self.path("epoch"), self._epoch_version)
        versions = dict(self._versions)  # as they will be after each op (a path may appear twice)
        for kind, path, data in ops:
            known = versions.get(path)
            if kind == "put":
                if known is None:
                    txn.create(path, data, acl=self.acl)
                    versions[path] = 0
                else:
                    txn.set_data(path, data, version=known)
                    versions[path] = known + 1
            elif known is not None:
                txn.delete(path, version=known)
                del versions[path]
        results = txn.commit()  # what kazoo raises is translated by commit's decorator
        failure = next((r for r in results if isinstance(r, Exception) and not isinstance(r, RolledBackError)), None)
        if failure is None:
            self._versions = versions
            return
        if isinstance(results[0], Exception) and not isinstance(results[0], RolledBackError):
            raise FencedError("a newer leader claimed the store (epoch check failed)")
        if not retry or not isinstance(failure, (BadVersionError, NodeExistsError, NoNodeError)):
            raise StoreError(f"ZooKeeper transaction failed: {failure!r}")
        log.warning("version conflict (%r): reloading versions and retrying", failure)
        self._refresh(ops)
        self._commit_chunk(ops, retry=False)

    def _refresh(self, ops: list[Op]) -> None:
        for _, path, _ in ops:
            stat = self.client.exists(path)
            if stat is None:
                self._versions.pop(path, None)
            else:
                self._versions[path] = stat.version
