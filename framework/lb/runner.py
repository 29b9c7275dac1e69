"""The load balancer's loop: apps (from the API) and members (from ZooKeeper) in, HAProxy out.

Both sources call in from their own threads and only mark the state dirty; :meth:`LoadBalancer.run`
renders the configuration after ``debounce`` seconds of quiet (a burst of member changes is one
reload) and applies it: HAProxy is started, reloaded when the text changed, left alone otherwise.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from ..errors import LoadBalancerError
from ..store.serverset_format import Member
from .render import Settings, render
from .services import Service, services_of

log = logging.getLogger(__name__)


class Proxy(Protocol):
    """What the loop needs of HAProxy (:class:`halyard.lb.haproxy.HAProxyProcess`)."""

    def apply(self, text: str) -> bool: ...


class LoadBalancer:
    """One LB: serves the apps of ``served`` groups through ``proxy``; ``watch(app_ids)`` is told
    which apps' ServerSets to follow (their members come back through :meth:`on_members`)."""

    def __init__(self, served: frozenset[str], settings: Settings, proxy: Proxy,
                 watch: Callable[[set[str]], None], debounce: float = 0.1):
        self.served, self.settings, self.proxy, self.watch = served, settings, proxy, watch
        self.debounce = debounce
        self.services: list[Service] = []
        self.members: dict[str, tuple[Member, ...]] = {}
        self.reloads = 0
        self._notes: list[str] = []
        self._dirty = threading.Condition(threading.RLock())
        self._pending = False
        self._has_apps = False

    # --- inputs (any thread) ---------------------------------------------------------------------

    def on_apps(self, apps: Sequence[Mapping[str, Any]]) -> None:
        services, notes = services_of(apps, self.served)
        for note in notes:
            if note not in self._notes:
                log.warning("%s", note)
        self._notes = notes
        with self._dirty:
            self.services = services
            self._has_apps = True
            self._mark()
        self.watch({s.app_id for s in services})

    def on_members(self, app_id: str, members: tuple[Member, ...]) -> None:
        with self._dirty:
            self.members[app_id] = members
            self._mark()

    def _mark(self) -> None:
        self._pending = True
        self._dirty.notify_all()

    # --- the loop --------------------------------------------------------------------------------

    def wanted(self) -> str:
        """The configuration for what is known now."""
        with self._dirty:
            return render(self.services, dict(self.members), self.settings)

    def step(self) -> bool:
        """Apply the wanted configuration; True when HAProxy started or reloaded."""
        with self._dirty:
            text = self.wanted()
            services, members = len(self.services), sum(len(m) for m in self.members.values())
        try:
            changed = self.proxy.apply(text)
        except LoadBalancerError as exc:
            log.error("%s", exc)
            return False
        if changed:
            self.reloads += 1
            log.info("HAProxy serves %d service(s), %d member(s)", services, members)
        return changed

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set: wait for a change, let it settle, apply it."""
        while not stop.is_set():
            with self._dirty:
                while not (self._pending and self._has_apps) and not stop.is_set():
                    self._dirty.wait(0.5)
            if stop.is_set():
                return
            stop.wait(self.debounce)
            with self._dirty:
                self._pending = False
            self.step()
