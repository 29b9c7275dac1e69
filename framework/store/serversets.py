"""Service discovery's writer: members in ZooKeeper, as ServerSets (Finagle's and Aurora's
format) or as Apache Curator's service discovery. The leader carries out the engine's
:class:`~halyard.engine.members.Announce`, ``Withdraw`` and ``SyncMembers`` instructions here.

Where members go and what their bodies hold (ServerSets, Curator's instances) is
:mod:`.serverset_format`'s: this module writes and removes them.

Nodes are persistent (a failover does not flap every service): the leader removes them, and a
new leader's ``sync`` removes those of tasks that went while no leader looked.

Announcements are sent without waiting for their answers (ZooKeeper applies a session's requests
in order), so the leader loop does not wait on them; a withdrawal waits for its delete (and for the
member's own create, if still under way), so that the Kill after it reaches Mesos only once clients
can no longer find the task.
"""
from __future__ import annotations

import json
import logging
import posixpath
import threading
from collections.abc import Iterable
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError, NoNodeError

from ..engine.members import Member
from ..errors import Problem, ValidationError
from . import serverset_format
from .serverset_format import FORMATS, MEMBER_PREFIX, canonical, encode
from .zk import STATE_NODES, kazoo_errors

log = logging.getLogger(__name__)


def discovery_root(state_root: str, path: str) -> str:
    """Where members go: ``path`` relative to the state root (the ``--zk`` chroot, or ``/halyard``
    without one), or absolute in the chroot. Refused (ValidationError naming ``--discovery-path``)
    when it collides with the state: the root itself, one of its ancestors, or one of its nodes."""
    state_root = state_root.rstrip("/")
    resolved = posixpath.normpath(path if path.startswith("/") else f"{state_root}/{path}") if path.strip() else "/"
    resolved = "/" + resolved.strip("/")
    problem = None
    if resolved == "/" or resolved == (state_root or "/"):
        problem = f"{resolved!r} is the state root: members would mix with Halyard's state"
    elif state_root.startswith(resolved + "/"):
        problem = f"{resolved!r} holds the state root {state_root!r}"
    else:
        for node in STATE_NODES:
            taken = f"{state_root}/{node}"
            if resolved == taken or resolved.startswith(taken + "/"):
                problem = f"{resolved!r} is inside Halyard's state ({taken!r})"
    if problem:
        raise ValidationError([Problem("--discovery-path", problem)])
    return resolved


class ServerSetWriter:
    """Members under ``root`` (already resolved by :func:`discovery_root`) in ``fmt``. Every
    public operation raises StoreError, never kazoo's."""

    def __init__(self, client: KazooClient, root: str, fmt: str = "serverset", acl: list | None = None):
        if fmt not in FORMATS:
            raise ValidationError([Problem("--discovery-format", f"expected one of {', '.join(FORMATS)}, got {fmt!r}")])
        self.client, self.root, self.format, self.acl = client, root.rstrip("/"), fmt, acl
        self._nodes: dict[str, str] = {}   # task id -> its member node (serverset: the sequential name)
        self._trusted = False   # _nodes is what the tree holds: every write since the last full sync succeeded
        self._inflight: dict[str, Any] = {}   # task id -> the async create not answered yet
        self._lock = threading.Lock()         # _nodes and _inflight: kazoo's thread answers creates
        self.timeout = 10.0

    # --- where and what ------------------------------------------------------------------------

    def directory(self, app_id: str) -> str:
        """The node holding an app's members."""
        return serverset_format.directory(self.root, app_id, self.format)

    def body(self, member: Member) -> dict[str, Any]:
        """The member's node body in this writer's format."""
        return serverset_format.body(member, self.format)

    # --- instructions ---------------------------------------------------------------------------

    def announce(self, member: Member) -> None:
        """Write ``member``'s node (without waiting: :meth:`flush` waits)."""
        self._untrusted_on_failure(self._announce, member)

    @kazoo_errors("announcing members")
    def flush(self) -> None:
        """Wait until every announcement sent has been answered."""
        with self._lock:
            pending = list(self._inflight.values())
        for result in pending:
            try:
                result.get(timeout=self.timeout)
            except NodeExistsError:
                pass  # a Curator instance already there: it was overwritten

    def withdraw(self, member: Member) -> None:
        """Remove ``member``'s node (found by its body if this writer did not write it)."""
        self._untrusted_on_failure(self._withdraw, member)

    def sync(self, members: Iterable[Member], full: bool = True) -> tuple[int, int]:
        """Make the tree hold exactly ``members``; returns (added, removed). A ``full`` one, and
        any after a failed write, reads the whole tree (members Halyard did not write, or wrote
        under another leader, are found by their body); otherwise it compares with what this
        writer wrote, without reading."""
        members = list(members)
        self.flush()
        if self._trusted and not full:
            return self._untrusted_on_failure(self._quick_sync, members)
        result = self._untrusted_on_failure(self._full_sync, members)
        self._trusted = True
        return result

    def _untrusted_on_failure(self, operation: Any, *args: Any) -> Any:
        try:
            return operation(*args)
        except Exception:
            self._trusted = False
            raise

    def _quick_sync(self, members: list[Member]) -> tuple[int, int]:
        wanted = {m.task_id: m for m in members}
        removed = [task_id for task_id in self._nodes if task_id not in wanted]
        for task_id in removed:
            self._delete(self._nodes.pop(task_id))
        added = [m for task_id, m in wanted.items() if task_id not in self._nodes]
        for member in added:
            self._announce(member)
        self.flush()
        if added or removed:
            log.info("discovery synchronised: %d member(s) added, %d removed", len(added), len(removed))
        return len(added), len(removed)

    @kazoo_errors("deleting a member")
    def _delete(self, path: str) -> None:
        try:
            self.client.delete(path)
        except NoNodeError:
            pass  # already gone: what was asked

    @kazoo_errors("announcing a member")
    def _announce(self, member: Member) -> None:
        data = encode(self.body(member))
        path: str | None = None   # Curator: the instance's path (serverset: known once created)
        if self.format == "curator":
            path = f"{self.directory(member.app_id)}/{member.task_id}"
            result = self.client.create_async(path, data, acl=self.acl, makepath=True)
        else:
            result = self.client.create_async(f"{self.directory(member.app_id)}/{MEMBER_PREFIX}", data,
                                              acl=self.acl, sequence=True, makepath=True)
        with self._lock:
            self._inflight[member.task_id] = result
        result.rawlink(lambda answered: self._created(member.task_id, data, answered, path))

    def _created(self, task_id: str, data: bytes, result: Any, known: str | None) -> None:
        """kazoo's thread: an announcement was answered."""
        with self._lock:
            if task_id not in self._inflight or self._inflight[task_id] is not result:
                return  # withdrawn meanwhile: the withdrawal took it over
            del self._inflight[task_id]
        try:
            path = result.get()
        except NodeExistsError:  # Curator: an instance of this task is there already (written before)
            path = known  # only a Curator create names its node: a sequential one never collides
            if path is not None:
                self.client.set_async(path, data)
        except Exception as exc:  # noqa: BLE001 - kazoo's thread: logged, and repaired by the next sync
            log.warning("service discovery: announcing task %s failed (%r); the next synchronisation repairs it",
                        task_id, exc)
            self._trusted = False
            return
        with self._lock:
            self._nodes[task_id] = path

    @kazoo_errors("withdrawing a member")
    def _withdraw(self, member: Member) -> None:
        with self._lock:
            result = self._inflight.pop(member.task_id, None)
            path = self._nodes.pop(member.task_id, None)
        if result is not None:  # its create is under way: wait for it, then delete what it made
            try:
                path = result.get(timeout=self.timeout)
            except NodeExistsError:
                path = f"{self.directory(member.app_id)}/{member.task_id}"
        if path is None:
            path = self._find(member)
        if path is None:
            return
        try:
            self.client.delete(path)
        except NoNodeError:
            pass  # already gone: what was asked

    @kazoo_errors("synchronising members")
    def _full_sync(self, members: list[Member]) -> tuple[int, int]:
        wanted = {self._key(m): m for m in members}
        found = self._existing()
        removed = 0
        with self._lock:
            self._nodes = {}
        for path, key in found.items():
            member = wanted.get(key) if key is not None else None
            if member is not None and member.task_id not in self._nodes:
                self._nodes[member.task_id] = path
                continue
            try:
                self.client.delete(path)
                removed += 1
            except NoNodeError:
                pass
        added = 0
        for member in wanted.values():
            if member.task_id not in self._nodes:
                self._announce(member)
                added += 1
        self.flush()
        if added or removed:
            log.info("discovery synchronised: %d member(s) added, %d removed", added, removed)
        return added, removed

    # --- reading what is there -----------------------------------------------------------------

    def _key(self, member: Member) -> tuple[str, bytes]:
        return self.directory(member.app_id), encode(self.body(member))

    def _existing(self) -> dict[str, tuple[str, bytes] | None]:
        """Every member node under the root -> (its directory, its body re-encoded) or None if unreadable."""
        out: dict[str, tuple[str, bytes] | None] = {}
        if not self.client.exists(self.root):
            return out
        if self.format == "curator":
            for service in self.client.get_children(self.root):
                directory = f"{self.root}/{service}"
                for name in self.client.get_children(directory):
                    out[f"{directory}/{name}"] = self._read_key(directory, f"{directory}/{name}")
            return out
        stack = [self.root]
        while stack:
            directory = stack.pop()
            for name in self.client.get_children(directory):
                path = f"{directory}/{name}"
                if name.startswith(MEMBER_PREFIX):
                    out[path] = self._read_key(directory, path)
                else:
                    stack.append(path)
        return out

    def _read_key(self, directory: str, path: str) -> tuple[str, bytes] | None:
        try:
            data, _ = self.client.get(path)
            return directory, canonical(data)
        except NoNodeError:
            return None
        except ValueError:
            return None  # not a member Halyard wrote: removed by sync

    def _find(self, member: Member) -> str | None:
        directory, data = self._key(member)
        try:
            names = self.client.get_children(directory)
        except NoNodeError:
            return None
        for name in names:
            path = f"{directory}/{name}"
            if self._read_key(directory, path) == (directory, data):
                return path
        return None

    @kazoo_errors("reading members")
    def members(self, app_id: str) -> list[dict[str, Any]]:
        """The bodies of an app's member nodes (for tests and tools)."""
        directory = self.directory(app_id)
        try:
            names = sorted(self.client.get_children(directory))
        except NoNodeError:
            return []
        out = []
        for name in names:
            if self.format == "serverset" and not name.startswith(MEMBER_PREFIX):
                continue
            try:
                out.append(json.loads(self.client.get(f"{directory}/{name}")[0]))
            except NoNodeError:
                continue
        return out
