"""Watching ServerSets in ZooKeeper (for ``halyard lb``): kazoo watches, no polling.

For each watched app, a DataWatch on ``<base>/<app id path>`` (which works while the node does not
exist yet) starts a ChildrenWatch once it exists; each ``member_*`` child gets a DataWatch that
reads its body when it appears or changes and drops it when it goes. The app's node may be deleted
and created again faster than the DataWatch reads it (kazoo then reports only the new node), so a
node is known by its creation zxid: a new one starts a new generation of watches, and the callbacks
of an older generation stop their watch and change nothing (member names restart in a new node).
Every change calls ``on_change(app_id, members)`` with all of the app's current members, on kazoo's
event thread (the callback must not block). kazoo re-establishes the watches after a lost session.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.protocol.states import ZnodeStat

from ..errors import StoreUnavailableError
from .serverset_format import MEMBER_PREFIX, Member, member_path, parse_member

log = logging.getLogger(__name__)

Listener = Callable[[str, tuple[Member, ...]], None]


class _AppWatch:
    """The watches of one app; ``active`` False makes every callback of it stop its watch."""

    def __init__(self, owner: ServerSetWatcher, app_id: str):
        self.owner, self.app_id = owner, app_id
        self.path = member_path(owner.base, app_id)
        self.active = True
        self.generation: int | None = None  # czxid of the node the ChildrenWatch is on
        self.members: dict[str, Member] = {}
        self.wanted: set[str] = set()

    def start(self) -> None:
        self.owner.client.DataWatch(self.path, self._on_node)

    def _on_node(self, data: bytes | None, stat: ZnodeStat | None) -> bool | None:
        if not self.active:
            return False
        with self.owner.lock:
            created = None if stat is None else stat.czxid
            if created == self.generation:
                return None
            self.generation = created
            self.wanted.clear()
            changed = bool(self.members)
            self.members.clear()
            if changed:
                self._publish()
            if created is not None:
                self.owner.client.ChildrenWatch(self.path, self._children_watch(created))
        return None

    def _current(self, generation: int) -> bool:
        return self.active and self.generation == generation

    def _children_watch(self, generation: int) -> Callable[[list[str]], bool | None]:
        def on_children(children: list[str]) -> bool | None:
            with self.owner.lock:
                if not self._current(generation):
                    return False
                names = {c for c in children if c.startswith(MEMBER_PREFIX)}
                new = names - self.wanted
                gone = self.wanted - names
                self.wanted = names
                for name in gone:
                    self.members.pop(name, None)
                if gone:
                    self._publish()
            for name in sorted(new):
                self.owner.client.DataWatch(f"{self.path}/{name}", self._member_watch(generation, name))
            return None
        return on_children

    def _member_watch(self, generation: int, name: str) -> Callable[[bytes | None, ZnodeStat | None], bool | None]:
        def on_member(data: bytes | None, stat: ZnodeStat | None) -> bool | None:
            with self.owner.lock:
                if not self._current(generation):
                    return False
                if stat is None or name not in self.wanted:
                    if self.members.pop(name, None) is not None:
                        self._publish()
                    return False  # within one node, member names are sequential: a gone one never comes back
                try:
                    member = parse_member(name, data or b"")
                except ValueError as exc:
                    log.warning("%s: member %s left out: %s", self.app_id, name, exc)
                    if self.members.pop(name, None) is not None:
                        self._publish()
                    return None
                if self.members.get(name) != member:
                    self.members[name] = member
                    self._publish()
            return None
        return on_member

    def _publish(self) -> None:
        self.owner.on_change(self.app_id, tuple(sorted(self.members.values(), key=lambda m: m.name)))


class ServerSetWatcher:
    """The ServerSets of a changing set of apps under ``base`` (a path on ``client``'s chroot)."""

    def __init__(self, client: KazooClient, base: str, on_change: Listener):
        self.client, self.base, self.on_change = client, base, on_change
        self.lock = threading.RLock()
        self._apps: dict[str, _AppWatch] = {}

    def watch(self, app_ids: set[str]) -> None:
        """Watch exactly these apps from now on (new ones start, others stop with no members)."""
        with self.lock:
            for app_id in sorted(set(self._apps) - app_ids):
                self._apps.pop(app_id).active = False
                self.on_change(app_id, ())
            for app_id in sorted(app_ids - set(self._apps)):
                watch = self._apps[app_id] = _AppWatch(self, app_id)
                try:
                    watch.start()
                except KazooException as exc:
                    self._apps.pop(app_id)
                    raise StoreUnavailableError(f"cannot watch {watch.path}: {exc!r}") from exc

    def watched(self) -> set[str]:
        with self.lock:
            return set(self._apps)
