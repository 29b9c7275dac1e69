"""The engine's apps by id, remembering which ids changed: discovery looks only at those.

Every write to the table (a record set, an app removed, the whole table reloaded) notes the app's
id; :meth:`AppTable.take_changed` hands the ids over and starts afresh. Pure: no I/O.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from .app_records import AppRecord
from .messages import Persist


class AppTable(dict[str, AppRecord]):
    """A dict of app records whose writes are noted (``take_changed``)."""

    def __init__(self) -> None:
        super().__init__()
        self._changed: set[str] = set()

    def __setitem__(self, app_id: str, record: AppRecord) -> None:
        self._changed.add(app_id)
        super().__setitem__(app_id, record)

    def __delitem__(self, app_id: str) -> None:
        self._changed.add(app_id)
        super().__delitem__(app_id)

    def clear(self) -> None:
        self._changed.update(self)
        super().clear()

    def update(  # type: ignore[override]  # dict.update's overloads, as one signature
            self, records: Mapping[str, AppRecord] | Iterable[tuple[str, AppRecord]] = (), **more: AppRecord) -> None:
        for app_id, record in dict(records, **more).items():
            self[app_id] = record

    def pop(self, *args: object) -> AppRecord:
        raise TypeError("AppTable.pop: use del (the write is noted)")

    def setdefault(self, *args: object) -> AppRecord:
        raise TypeError("AppTable.setdefault: set the record (the write is noted)")

    def popitem(self) -> tuple[str, AppRecord]:
        raise TypeError("AppTable.popitem: use del (the write is noted)")

    def forget(self, app_id: str, persist: Persist) -> None:
        """The app is gone: remove it, here and from the store."""
        del self[app_id]
        persist.delete_apps.append(app_id)

    def take_changed(self) -> set[str]:
        """The ids set or removed since the last call (an id may be set again to the same record)."""
        changed, self._changed = self._changed, set()
        return changed
