"""Releases: every ``deploy`` of a service's version to an environment, what it ran and how it
ended; and the rules over them (the promotion rule, what a rollback returns to). Pure: the
scheduler records releases (``releases/desk.py``), ZooKeeper keeps them (``store/release_store.py``).

A release's ``result`` follows its deployment: ``deploying`` until the deployment ends, then
``succeeded``, ``failed`` or ``cancelled``. What an environment runs now is its newest succeeded release.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from ..errors import HalyardError

#: Releases kept per service and environment (the oldest go first).
KEEP = 20
DEPLOYING = "deploying"


class PromotionRefusedError(HalyardError):
    """The promotion rule refused a deploy (``deploy`` exits 4)."""


class NothingToRollBackError(HalyardError):
    """No earlier successful release (or none of the version asked for) to return to."""


@dataclass(frozen=True)
class Release:
    """One deploy of ``version`` of ``service`` to ``environment``."""

    id: str
    service: str
    environment: str
    version: str
    app_id: str
    deployment_id: str
    at: float                              # when it was recorded (Unix time)
    who: str                               # the API token's name ("anonymous" without tokens)
    image: str | None = None            # the image as it runs (repo@sha256:... when pinned)
    digest: str | None = None           # the image's digest (None: no image, or not pinned)
    pinned: bool = False                   # False with pinDigest: false (or a command app)
    fetch: tuple[str, ...] = ()            # the fetch URIs, {version} substituted
    app_version: str | None = None      # the app's version (Marathon's timestamp) it created
    result: str = DEPLOYING                # deploying | succeeded | failed | cancelled
    failures: tuple[str, ...] = ()
    ended_at: float | None = None
    forced: bool = False                   # the promotion rule was overridden (--force)
    promoted_from: str | None = None    # the environment whose release it promoted
    rollback: bool = False                 # a return to an earlier release
    resolve_seconds: float | None = None  # time spent asking the registry for the digest

    @property
    def ended(self) -> bool:
        return self.result != DEPLOYING

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fetch"], data["failures"] = list(self.fetch), list(self.failures)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Release:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["fetch"] = tuple(known.get("fetch") or ())
        known["failures"] = tuple(known.get("failures") or ())
        return cls(**known)


def record(history: Sequence[Release], release: Release, keep: int = KEEP) -> list[Release]:
    """The history (oldest first) with ``release`` added (once: a release already there is replaced)
    and only the newest ``keep`` kept."""
    out = [r for r in history if r.id != release.id] + [release]
    return out[-keep:]


def ended(history: Sequence[Release], deployment_id: str, result: str, failures: Sequence[str],
          at: float) -> list[Release]:
    """The history with the release of ``deployment_id`` ended (a release already ended is left as it is)."""
    return [replace(r, result=result, failures=tuple(failures), ended_at=at)
            if r.deployment_id == deployment_id and not r.ended else r for r in history]


def current(history: Sequence[Release]) -> Release | None:
    """What the environment runs now: its newest succeeded release."""
    return next((r for r in reversed(history) if r.result == "succeeded"), None)


def successful(history: Sequence[Release], version: str) -> Release | None:
    """The newest succeeded release of ``version`` (a version or the digest it ran)."""
    return next((r for r in reversed(history) if r.result == "succeeded" and version in (r.version, r.digest)), None)


def check_promotion(version: str, source: str, source_history: Sequence[Release]) -> Release:
    """The release in ``source`` that allows ``version`` to be promoted from it, or PromotionRefusedError:
    ``v456 has no successful release in staging (staging runs v455)``."""
    found = successful(source_history, version)
    if found is not None:
        return found
    now = current(source_history)
    runs = f"{source} runs {now.version}" if now else f"nothing runs in {source}"
    raise PromotionRefusedError(f"{version} has no successful release in {source} ({runs})")


def rollback_target(history: Sequence[Release], version: str | None = None) -> Release:
    """What ``rollback`` returns to: the succeeded release of ``version``, or else the newest
    succeeded release before the current one. NothingToRollBackError if there is none."""
    if version is not None:
        found = successful(history, version)
        if found is None:
            raise NothingToRollBackError(f"{version} has no successful release to return to")
        return found
    now = current(history)
    if now is None:
        raise NothingToRollBackError("no successful release yet")
    before = [r for r in history[:history.index(now)] if r.result == "succeeded" and r.version != now.version]
    if not before:
        raise NothingToRollBackError(f"no successful release before {now.version}")
    return before[-1]
