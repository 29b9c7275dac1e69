"""Placement strategies by name: the built-ins plus plugins from the ``halyard.strategies``
entry-point group of any installed package.

A plugin package declares, in its own ``setup.cfg``::

    [options.entry_points]
    halyard.strategies =
        my-policy = my_package.policy:create

``create(args: Mapping[str, Any]) -> Strategy`` validates its arguments (raise
:class:`~halyard.errors.ValidationError` naming ``strategy.args.X``) and returns a fresh
:class:`~halyard.placement.base.Strategy`; it is called once per app per plan, so plugins may keep
per-app state from ``prepare`` on themselves.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

from ..errors import DuplicatePluginError, HalyardError, PluginError, Problem, ValidationError
from ..spec.app import StrategyRef
from .base import Strategy
from .strategies import binpack, random, spread, weighted

ENTRY_POINT_GROUP = "halyard.strategies"
Factory = Callable[[Mapping[str, Any]], Strategy]

BUILTINS: dict[str, Factory] = {"binpack": binpack.create, "spread": spread.create, "random": random.create}
_BUILTIN_TARGETS = {f"halyard.placement.strategies.{name}:create" for name in BUILTINS}
#: Built into every registry: combines the registry's other strategies (see strategies/weighted.py).
WEIGHTED = weighted.NAME


class StrategyRegistry:
    """Strategy factories by name. Registering a name twice is an error."""

    def __init__(self, factories: Mapping[str, Factory] | None = None):
        self._factories: dict[str, Factory | metadata.EntryPoint] = {}
        for name, factory in (factories if factories is not None else BUILTINS).items():
            self.register(name, factory)

    @classmethod
    def discover(cls) -> StrategyRegistry:
        """The built-ins plus every installed plugin (loaded when first used)."""
        registry = cls()
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.value.replace(" ", "") in _BUILTIN_TARGETS:
                continue
            registry.register(ep.name, ep)
        return registry

    def register(self, name: str, factory: Factory | metadata.EntryPoint) -> None:
        if name in self._factories or name == WEIGHTED:
            where = getattr(factory, "value", getattr(factory, "__module__", "?"))
            raise DuplicatePluginError(f"strategy {name!r} is registered twice (again by {where})")
        self._factories[name] = factory

    def names(self) -> list[str]:
        return sorted({*self._factories, WEIGHTED})

    def check(self, ref: StrategyRef | str) -> None:
        """Refuse what is the input's fault: an unknown name, args the plugin refuses (a
        ValidationError at ``strategy``). A plugin that fails to load or start is not: a dry run
        leaves that to the planner, which shows it as the reason its workloads are not placed."""
        try:
            self.create(ref)
        except PluginError:
            return

    def create(self, ref: StrategyRef | str) -> Strategy:
        """A fresh strategy for ``ref``; unknown names and bad args are ValidationErrors at ``strategy``."""
        if isinstance(ref, str):
            ref = StrategyRef(name=ref)
        factory = self._factories.get(ref.name)
        if factory is None and ref.name == WEIGHTED:
            return weighted.create(dict(ref.args), self)
        if factory is None:
            known = ", ".join(self.names())
            raise ValidationError([Problem("strategy.name", f"unknown strategy {ref.name!r} (known: {known})")])
        if isinstance(factory, metadata.EntryPoint):
            try:
                factory = factory.load()
            except Exception as exc:  # a broken plugin package: say which and why
                raise PluginError(f"strategy {ref.name!r} ({factory.value}) failed to load: {exc!r}") from exc
            self._factories[ref.name] = factory
        try:
            strategy = factory(dict(ref.args))
        except HalyardError:
            raise
        except Exception as exc:
            raise PluginError(f"strategy {ref.name!r} failed to start: {exc!r}") from exc
        if not isinstance(strategy, Strategy):
            raise PluginError(f"strategy {ref.name!r} returned {type(strategy).__name__}, not a Strategy")
        return strategy
