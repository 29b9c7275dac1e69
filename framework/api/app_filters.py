"""Which apps ``GET /v2/apps`` lists, and what it embeds in each, read from the query as Marathon
reads it.

Filters (all must match): ``cmd=`` and ``id=`` are case-insensitive substrings of the app's
command and id; ``label=`` is Marathon's label selector, a comma-separated list of
``key``, ``key==value``, ``key!=value``, ``key in (a, b)`` and ``key notin (a, b)``. Keys and
values are runs of ``A-Za-z0-9._-``; any other character is escaped with a backslash. A selector
on a key the app does not have never matches (``!=`` and ``notin`` included), as in Marathon.

Embeds: ``tasks``, ``counts``, ``deployments``, ``readiness``, ``lastTaskFailure``,
``taskStats`` and the deprecated ``failures`` (tasks, last task failure and deployments), each
with or without an ``app.``/``apps.``/``group.apps.`` prefix; ``tasks`` brings ``deployments``
too. Halyard adds ``halyard``: the definition's Halyard fields (:mod:`.app_definition`), which
Marathon's clients never see unless they ask. Unknown ones are ignored, as Marathon ignores them.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Set
from dataclasses import dataclass

from ..errors import Problem, ValidationError
from ..spec.app import AppSpec

TASKS, COUNTS, DEPLOYMENTS, READINESS, LAST_FAILURE, TASK_STATS, HALYARD = (
    "tasks", "counts", "deployments", "readiness", "lastTaskFailure", "taskStats", "halyard")
_EMBEDS = {TASKS: {TASKS, DEPLOYMENTS}, "failures": {TASKS, LAST_FAILURE, DEPLOYMENTS}, COUNTS: {COUNTS},
           DEPLOYMENTS: {DEPLOYMENTS}, READINESS: {READINESS}, LAST_FAILURE: {LAST_FAILURE},
           TASK_STATS: {TASK_STATS}, HALYARD: {HALYARD}}
_PREFIXES = ("group.apps.", "apps.", "app.")

#: what ``GET /v2/apps`` always embeds, and ``GET /v2/apps/{id}`` (Marathon's "deprecated, for compatibility")
LIST_ALWAYS = frozenset({COUNTS, DEPLOYMENTS})
SHOW_ALWAYS = frozenset({COUNTS, TASKS, LAST_FAILURE, DEPLOYMENTS})


def app_embeds(values: Iterable[str] | None, always: Set[str] = frozenset()) -> frozenset[str]:
    """The embeds asked for by ``embed=`` query values, plus ``always``."""
    chosen = set(always)
    for value in values or ():
        for part in value.split(","):
            name = part.strip()
            prefix = next((p for p in _PREFIXES if name.startswith(p)), "")
            chosen |= _EMBEDS.get(name[len(prefix):], set())
    return frozenset(chosen)


# --- label selectors ----------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<term>(?:\\.|[-A-Za-z0-9_.])+)|(?P<op>==|!=)|(?P<punct>[(),]))")
_UNESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class LabelSelector:
    """One selector: the app has label ``key`` and its value passes ``op`` against ``values``
    (``op``: ``exists``, ``==``, ``!=``, ``in`` or ``notin``)."""

    key: str
    op: str = "exists"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        if self.key not in labels:
            return False
        value = labels[self.key]
        return {"exists": True, "==": value in self.values, "!=": value not in self.values,
                "in": value in self.values, "notin": value not in self.values}[self.op]


def _tokens(text: str) -> list[tuple[str, str]]:
    out, at = [], 0
    while at < len(text):
        if not text[at:].strip():
            break
        m = _TOKEN.match(text, at)
        if m is None:
            raise ValueError(f"unexpected {text[at:].strip()[:10]!r}")
        kind = m.lastgroup or ""
        value = m.group(kind)
        out.append((kind, _UNESCAPE.sub(r"\1", value) if kind == "term" else value))
        at = m.end()
    return out


def parse_label_selectors(text: str) -> tuple[LabelSelector, ...]:
    """``text`` as label selectors; a 422 naming ``label`` and the problem when it does not parse."""
    try:
        tokens = _tokens(text)
        selectors, i = [], 0
        while i < len(tokens):
            kind, key = tokens[i]
            if kind != "term":
                raise ValueError(f"expected a label name, got {key!r}")
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ("punct", ",")
            if nxt[0] == "op":
                if i + 2 >= len(tokens) or tokens[i + 2][0] != "term":
                    raise ValueError(f"expected a value after '{key} {nxt[1]}'")
                selectors.append(LabelSelector(key, nxt[1], (tokens[i + 2][1],)))
                i += 3
            elif nxt[0] == "term" and nxt[1] in ("in", "notin"):
                i, values = _set(tokens, i + 2, f"{key} {nxt[1]}")
                selectors.append(LabelSelector(key, nxt[1], values))
            elif nxt == ("punct", ","):
                selectors.append(LabelSelector(key))
                i += 1
            else:
                raise ValueError(f"expected ==, !=, in, notin or ',' after {key!r}, got {nxt[1]!r}")
            if i < len(tokens):
                if tokens[i] != ("punct", ","):
                    raise ValueError(f"expected ',' between selectors, got {tokens[i][1]!r}")
                i += 1
                if i == len(tokens):
                    raise ValueError("a selector is missing after the last ','")
        return tuple(selectors)
    except ValueError as exc:
        raise ValidationError([Problem("label", f"cannot parse label selector {text!r}: {exc}")]) from None


def _set(tokens: list[tuple[str, str]], i: int, what: str) -> tuple[int, tuple[str, ...]]:
    """``( term {, term} )`` from ``tokens[i]``: (the index after it, the terms)."""
    if i >= len(tokens) or tokens[i] != ("punct", "("):
        raise ValueError(f"expected '(' after '{what}'")
    values: list[str] = []
    i += 1
    while i < len(tokens) and tokens[i] != ("punct", ")"):
        if tokens[i][0] != "term":
            raise ValueError(f"expected a value in '{what} (...)', got {tokens[i][1]!r}")
        values.append(tokens[i][1])
        i += 1
        if i < len(tokens) and tokens[i] == ("punct", ","):
            i += 1
    if i >= len(tokens):
        raise ValueError(f"missing ')' in '{what} (...)'")
    return i + 1, tuple(values)


@dataclass(frozen=True)
class AppFilter:
    """``GET /v2/apps``' ``cmd``, ``id`` and ``label`` filters (None: not given)."""

    cmd: str | None = None
    id: str | None = None
    labels: tuple[LabelSelector, ...] = ()

    @classmethod
    def parse(cls, cmd: str | None, app_id: str | None, label: str | None) -> AppFilter:
        return cls(cmd=cmd, id=app_id, labels=parse_label_selectors(label) if label is not None else ())

    def matches(self, spec: AppSpec) -> bool:
        if self.cmd is not None and (spec.cmd is None or self.cmd.lower() not in spec.cmd.lower()):
            return False
        if self.id is not None and self.id.lower() not in spec.id.lower():
            return False
        return all(s.matches(spec.labels) for s in self.labels)
