"""A group update (Marathon's GroupUpdate) read into the apps to put and the apps to keep, and the
group ids and paths it uses; see :mod:`halyard.api.groups` for what an update means."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import Problem, ValidationError
from ..spec.app import AppSpec, normalize_app_id
from ..spec.paths import absolute, parent
from ..spec.validation import app_problems, format_path
from .app_definition import kept_halyard_fields
from .app_lists import app_id_at

FIELDS = {"id", "apps", "groups", "dependencies", "enforceRole", "scaleBy", "version", "pods"}

def group_id(text: str, base: str = "/") -> str:
    """A group id, absolute (relative ones read from ``base``); ``/`` is the root; a malformed one is a 422."""
    path = absolute(text, base)
    if path == "/":
        return path
    try:
        return normalize_app_id(path)
    except ValueError as exc:
        raise ValidationError([Problem("id", str(exc))]) from None


def under(app_id: str, group: str) -> bool:
    """The app is in the group or below it."""
    return group == "/" or app_id.startswith(group + "/")


class GroupChange:
    """A group update (Marathon's GroupUpdate) turned into the apps to put and the apps to keep."""

    def __init__(self, current: Mapping[str, AppSpec]):
        self.current = current
        self.puts: list[AppSpec] = []
        self.kept: set[str] = set()
        self.problems: list[Problem] = []

    def apply(self, gid: str, body: Any, where: tuple[str | int, ...], inherited: tuple[str, ...] = ()) -> None:
        if not isinstance(body, dict):
            self.problems.append(Problem(format_path(where), "expected a group (a mapping)"))
            return
        self._check_fields(body, where)
        dependencies = inherited + tuple(absolute(d, gid) for d in body.get("dependencies") or () if isinstance(d, str))
        if "apps" in body:
            for i, raw in enumerate(self._list(body, "apps", where)):
                self._app(gid, raw, where + ("apps", i), dependencies)
        else:
            self.kept |= {a for a in self.current if parent(a) == gid}
        if "groups" in body:
            for j, sub in enumerate(self._list(body, "groups", where)):
                at = where + ("groups", j)
                if not isinstance(sub, dict) or not isinstance(sub.get("id"), str):
                    self.problems.append(Problem(format_path(at + ("id",)), "required: the group's id"))
                    continue
                try:
                    child = group_id(sub["id"], gid)
                except ValidationError as exc:
                    self.problems += [Problem(format_path(at + ("id",)), p.message) for p in exc.problems]
                    continue
                if parent(child) != gid:
                    self.problems.append(Problem(format_path(at + ("id",)), f"Identifier is not child of '{gid}'"))
                    continue
                self.apply(child, sub, at, dependencies)
        else:
            self.kept |= {a for a in self.current if under(a, gid) and parent(a) != gid}

    def _check_fields(self, body: dict, where: tuple[str | int, ...]) -> None:
        for key in sorted(set(body) - FIELDS):
            self.problems.append(Problem(format_path(where + (key,)), "unknown field"))
        if body.get("pods"):
            self.problems.append(Problem(format_path(where + ("pods",)), "pods are not supported by Halyard"))
        if body.get("enforceRole") is True:
            self.problems.append(Problem(format_path(where + ("enforceRole",)),
                                         "roles are not enforced by Halyard (give acceptedResourceRoles per app)"))
        deps = body.get("dependencies")
        if deps is not None and not (isinstance(deps, list) and all(isinstance(d, str) for d in deps)):
            self.problems.append(Problem(format_path(where + ("dependencies",)), "expected a list of ids"))

    def _list(self, body: dict, key: str, where: tuple[str | int, ...]) -> list:
        value = body.get(key) or []
        if not isinstance(value, list):
            self.problems.append(Problem(format_path(where + (key,)), "expected a list"))
            return []
        return value

    def _app(self, gid: str, raw: Any, where: tuple[str | int, ...], dependencies: tuple[str, ...]) -> None:
        app_id, found = app_id_at(raw, where, gid)
        if app_id is not None and parent(app_id) != gid:
            found = [Problem(format_path(where + ("id",)), f"Identifier is not child of '{gid}'")]
        if found or app_id is None:
            self.problems += found
            return
        own = raw.get("dependencies") if isinstance(raw.get("dependencies"), list) else []
        merged = list(dict.fromkeys([*own, *dependencies]))
        definition = {k: v for k, v in raw.items() if k != "version"}
        current = self.current.get(app_id)
        definition = kept_halyard_fields(current.to_json() if current is not None else None, definition)
        spec, found = app_problems({**definition, "id": app_id, **({"dependencies": merged} if merged else {})},
                                   None, where)
        self.problems += found
        if spec is not None:
            if app_id in self.kept:
                self.problems.append(Problem(format_path(where + ("id",)), f"app {app_id} appears more than once"))
            self.puts.append(spec)
            self.kept.add(app_id)
