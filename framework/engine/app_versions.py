"""Each app's past definitions (Marathon's app versions), for ``GET /v2/apps/{id}/versions`` and a
rollback to one of them.

* Every change of an app's definition or of its instances (a create, an update, a scale, a restart,
  a rollback) makes a version: the app's ``version`` timestamp, as in Marathon, where a scale also
  makes a version but leaves ``versionInfo.lastConfigChangeAt`` where it was.
* The last ``keep`` versions of each app are kept (Marathon's ``--zk_max_versions``, 50 by
  default); older ones are deleted as new ones are written. When the app is removed, all of its
  versions go with it (as in Marathon: a new app of the same id starts a new history).
* The engine keeps only the timestamps; the definitions are written to the store (one record per
  version, :class:`AppVersion`) and read back from it when asked for.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from .app_records import AppRecord, AppVersion
from .messages import Persist

DEFAULT_KEEP = 50


class VersionBook:
    """The timestamps of each app's stored versions, oldest first, and the bound on how many."""

    def __init__(self, keep: int = DEFAULT_KEEP):
        if keep < 1:
            raise ValueError("keep at least one version per app")
        self.keep = keep
        self._of: dict[str, list[float]] = {}

    def load(self, versions: Mapping[str, Iterable[float]]) -> None:
        """What the store holds (app id -> version timestamps)."""
        self._of = {app_id: sorted(set(found)) for app_id, found in versions.items()}

    def of(self, app: AppRecord) -> list[float]:
        """The app's versions, newest first; its current one always among them (an app created
        before versions were kept has only that one)."""
        return sorted(set(self._of.get(app.app_id, ())) | {app.version}, reverse=True)

    def record(self, app: AppRecord, persist: Persist) -> None:
        """Write the app's current definition as a version (once per version), and delete the
        oldest beyond the bound."""
        known = self._of.setdefault(app.app_id, [])
        if app.deleting or app.version in known:
            return
        known.append(app.version)
        known.sort()
        persist.versions.append(AppVersion(app.app_id, app.version, app.spec))
        while len(known) > self.keep:
            persist.delete_versions.append((app.app_id, known.pop(0)))

    def forget(self, app_id: str, persist: Persist) -> None:
        """The app is gone: delete every version of it."""
        persist.delete_versions += [(app_id, v) for v in self._of.pop(app_id, [])]
