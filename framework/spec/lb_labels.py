"""marathon-lb's labels, as Halyard's load balancer reads them and as app validation checks them.

* ``HAPROXY_GROUP``: the LB groups the app belongs to, comma-separated (``external``, ``internal``);
  an LB serves the apps of its ``--group`` (``*``: every app).
* ``HAPROXY_{n}_GROUP``: the same for port ``n`` only.
* ``HAPROXY_{n}_PORT``: the frontend port for the app's port ``n`` (default: its service port).
* ``HAPROXY_{n}_MODE``: ``http`` or ``tcp`` for port ``n``.

Other ``HAPROXY_*`` labels (VHOST, BALANCE, templates...) are marathon-lb's and ignored here.
Pure: no I/O.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

GROUP_LABEL = "HAPROXY_GROUP"
MODES = ("http", "tcp")
_PORT_LABEL = re.compile(r"^HAPROXY_(\d+)_(PORT|MODE|GROUP)$")


@dataclass(frozen=True)
class PortLabels:
    """What the labels say about one of the app's ports (None: not said)."""

    index: int
    port: int | None = None
    mode: str | None = None
    groups: frozenset[str] | None = None


def parse_groups(value: str) -> frozenset[str]:
    """``"external, internal"`` -> ``{"external", "internal"}``."""
    return frozenset(g.strip() for g in value.split(",") if g.strip())


def app_groups(labels: Mapping[str, str]) -> frozenset[str]:
    """The app's LB groups (``HAPROXY_GROUP``); empty when it has none."""
    return parse_groups(labels.get(GROUP_LABEL, ""))


def in_group(served: frozenset[str], groups: frozenset[str]) -> bool:
    """Does an LB serving ``served`` serve something in ``groups``? ``*`` serves everything."""
    return "*" in served or bool(served & groups)


def _port_value(value: str) -> int | None:
    text = value.strip()
    if not text.isdigit():
        return None
    port = int(text)
    return port if 1 <= port <= 65535 else None


def port_labels(labels: Mapping[str, str]) -> dict[int, PortLabels]:
    """Per-port labels by port index. Values that are not valid are left out (validation refuses
    them on input; see :func:`label_problems`)."""
    found: dict[int, dict[str, Any]] = {}   # index -> PortLabels' arguments
    for key, value in labels.items():
        match = _PORT_LABEL.match(key)
        if not match:
            continue
        index, kind = int(match.group(1)), match.group(2)
        entry = found.setdefault(index, {})
        if kind == "PORT" and _port_value(value) is not None:
            entry["port"] = _port_value(value)
        elif kind == "MODE" and value.strip().lower() in MODES:
            entry["mode"] = value.strip().lower()
        elif kind == "GROUP":
            entry["groups"] = parse_groups(value)
    return {i: PortLabels(index=i, **kw) for i, kw in sorted(found.items())}


def label_problems(labels: Mapping[str, str], port_count: int) -> list[tuple[tuple[str | int, ...], str]]:
    """``(path, problem)`` for each ``HAPROXY_{n}_PORT``/``_MODE`` label that is not valid or that
    names a port the app does not have (it has ``port_count`` ports)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for key in sorted(labels):
        match = _PORT_LABEL.match(key)
        if not match or match.group(2) == "GROUP":
            continue
        index, kind, value = int(match.group(1)), match.group(2), labels[key]
        where = ("labels", key)
        if index >= port_count:
            have = {0: "no ports", 1: "1 port (index 0)"}.get(port_count, f"{port_count} ports (0-{port_count - 1})")
            problems.append((where, f"names port {index}, but the app has {have}"))
        elif kind == "PORT" and _port_value(value) is None:
            problems.append((where, f"{value!r} is not a valid port (1-65535)"))
        elif kind == "MODE" and value.strip().lower() not in MODES:
            problems.append((where, f"unknown mode {value!r} (expected http or tcp)"))
    return problems
