"""App and group ids as paths (Marathon's ``PathId``): ``/prod/web`` is the app ``web`` in the
group ``/prod``; a relative id (``db``, ``./db``, ``../shared/db``) is read from a group. Pure:
the API reads request paths with it, the engine an app's dependencies."""
from __future__ import annotations


def absolute(path: str, base: str) -> str:
    """``path`` as an absolute id: ``/db`` stays; ``db``, ``./db`` and ``../db`` are read from the
    group ``base``."""
    parts = [] if path.startswith("/") else [p for p in base.strip("/").split("/") if p]
    for segment in path.strip("/").split("/"):
        if segment == "..":
            if parts:
                parts.pop()
        elif segment not in ("", "."):
            parts.append(segment)
    return "/" + "/".join(parts)


def parent(app_id: str) -> str:
    """The group an app (or group) is in: ``/prod/web`` -> ``/prod``; ``/web`` -> ``/``."""
    return "/" + "/".join(app_id.strip("/").split("/")[:-1])
