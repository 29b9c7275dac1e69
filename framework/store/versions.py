"""App versions in ZooKeeper, for :class:`~halyard.store.zk.ZkStore`.

``versions/<quoted app id>/<version>`` holds an :class:`~halyard.engine.app_records.AppVersion`
(the app's definition at that version), written once and never changed; the engine says which to
write and which to delete (the last ``--max-versions`` of each app are kept). An app's node is
created with its first version and stays, empty, when the app is removed (a new app of that id
reuses it).
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote

from kazoo.exceptions import NoNodeError

from ..engine.app_records import AppVersion
from ..engine.messages import Persist
from . import codec

if TYPE_CHECKING:  # pragma: no cover
    from .zk import Op, ZkStore


def load(store: ZkStore) -> dict[str, list[float]]:
    """Each app's stored version timestamps (their definitions are read when asked for: one listing
    per app, not one read per version); their znodes' versions are remembered for deletes."""
    out: dict[str, list[float]] = {}
    for name in store.client.get_children(store.path("versions")):
        parent = store.path("versions", name)
        try:
            children, stat = store.client.get_children(parent, include_data=True)
        except NoNodeError:
            continue
        store._versions[parent] = stat.version
        found = out[unquote(name)] = []
        for child in children:
            store._versions["/".join([parent, child])] = 0  # written once, never changed
            found.append(float(child))
    return out


def read(store: ZkStore, app_id: str, version: float) -> AppVersion | None:
    """The app's definition at ``version``, if it is stored."""
    try:
        data, _ = store.client.get(store.version_path(app_id, version))
    except NoNodeError:
        return None
    return AppVersion.from_json(codec.decode(data))


def write_ops(store: ZkStore, persist: Persist) -> list[Op]:
    """Writes of new app versions (and of each app's node, the first time) and deletes of old ones."""
    ops: list[Op] = []
    parents = set()
    for v in persist.versions:
        parent = store.versions_path(v.app_id)
        if parent not in store._versions and parent not in parents:
            parents.add(parent)
            ops.append(("put", parent, b""))
        ops.append(("put", store.version_path(v.app_id, v.version), codec.encode(v.to_json())))
    ops += [("delete", store.version_path(a, v), None) for a, v in persist.delete_versions]
    return ops
