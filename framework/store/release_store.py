"""Releases in ZooKeeper: one znode per service and environment, ``releases/<service>:<environment>``,
holding ``{"releases": [...]}`` (oldest first, at most :data:`halyard.releases.records.KEEP`).

Writes are read-modify-write with the node's version, in a transaction that also checks the leader
epoch (as ``zk.py``'s writes do): a scheduler that no longer leads cannot record or end a release.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import quote, unquote

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, RolledBackError

from ..errors import FencedError, StoreError
from ..releases.records import Release
from . import codec
from .zk import ZkStore, kazoo_errors

ATTEMPTS = 5


class ZkReleaseStore:
    """A :class:`~halyard.store.base.ReleaseStore` beside a :class:`ZkStore` (its client, root and epoch)."""

    def __init__(self, store: ZkStore):
        self.store = store

    @property
    def _client(self):
        return self.store.client

    def node(self, service: str, environment: str) -> str:
        return self.store.path("releases", f"{quote(service, safe='')}:{quote(environment, safe='')}")

    def _read(self, path: str) -> tuple[list[Release], int | None]:
        try:
            data, stat = self._client.get(path)
        except NoNodeError:
            return [], None
        return [Release.from_json(r) for r in codec.decode(data).get("releases", [])], stat.version

    @kazoo_errors("release read")
    def history(self, service: str, environment: str) -> list[Release]:
        return self._read(self.node(service, environment))[0]

    @kazoo_errors("release read")
    def histories(self) -> dict[tuple[str, str], list[Release]]:
        try:
            names = self._client.get_children(self.store.path("releases"))
        except NoNodeError:
            return {}
        out = {}
        for name in names:
            service, _, environment = name.partition(":")
            history = self._read(self.store.path("releases", name))[0]
            if history:
                out[(unquote(service), unquote(environment))] = history
        return out

    @kazoo_errors("release write")
    def update(self, service: str, environment: str,
               change: Callable[[list[Release]], Sequence[Release] | None]) -> list[Release]:
        fence = self.store.fence_version
        if fence is None:
            raise FencedError("this scheduler has not claimed leadership")
        path = self.node(service, environment)
        self._client.ensure_path(self.store.path("releases"), acl=self.store.acl)
        for _ in range(ATTEMPTS):
            history, version = self._read(path)
            changed = change(list(history))
            if changed is None:
                return history
            data = codec.encode({"releases": [r.to_json() for r in changed]})
            txn = self._client.transaction()
            txn.check(self.store.path("epoch"), fence)
            if version is None:
                txn.create(path, data, acl=self.store.acl)
            else:
                txn.set_data(path, data, version=version)
            results = txn.commit()
            if not any(isinstance(r, Exception) for r in results):
                return list(changed)
            if isinstance(results[0], Exception) and not isinstance(results[0], RolledBackError):
                raise FencedError("a newer leader claimed the store (epoch check failed)")
            if not isinstance(results[1], (BadVersionError, NodeExistsError, NoNodeError)):
                raise StoreError(f"ZooKeeper transaction failed: {results[1]!r}")
        raise StoreError(f"the releases of {service} in {environment} kept changing under this write")
