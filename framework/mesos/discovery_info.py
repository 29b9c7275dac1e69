"""An app task's Mesos ``DiscoveryInfo`` (v1 JSON): what Mesos-DNS and other readers of the
master's state find about it. Fields as in mesos.proto: ``visibility``, ``name``,
``environment``, ``version``, ``ports`` (``Ports``: ``number``, ``name``, ``protocol``, ``labels``)
and ``labels``."""
from __future__ import annotations

from typing import Any

from ..engine.members import dns_label
from ..spec.app import AppSpec

ENVIRONMENT_LABEL = "HALYARD_ENVIRONMENT"
VERSION_LABEL = "HALYARD_VERSION"


def _port_parts(app: AppSpec) -> list[tuple[str | None, str, dict[str, str]]]:
    """(name, protocol, labels) of each host port, in the order of ``host_port_requests``."""
    return [(p.name, p.protocol, p.labels) for p in app.host_port_specs()]


def discovery_info(app: AppSpec, version: str, ports: tuple[int, ...]) -> dict[str, Any]:
    """``DiscoveryInfo`` for a task of ``app`` (at ``version``) with these host ports: visible to
    the framework, named after the app id as a DNS label; the environment from the label
    ``HALYARD_ENVIRONMENT``; the version from ``HALYARD_VERSION`` (set by ``deploy``), else the
    app's version; one port entry per host port and protocol."""
    entries = []
    for number, (name, protocols, labels) in zip(ports, _port_parts(app)):
        for protocol in protocols.split(","):
            entry: dict[str, Any] = {"number": number, "protocol": protocol}
            if name:
                entry["name"] = name
            if labels:
                entry["labels"] = {"labels": [{"key": k, "value": v} for k, v in labels.items()]}
            entries.append(entry)
    info: dict[str, Any] = {"visibility": "FRAMEWORK", "name": dns_label(app.id),
                            "version": app.labels.get(VERSION_LABEL, version), "ports": {"ports": entries}}
    if app.labels.get(ENVIRONMENT_LABEL):
        info["environment"] = app.labels[ENVIRONMENT_LABEL]
    if app.labels:
        info["labels"] = {"labels": [{"key": k, "value": v} for k, v in app.labels.items()]}
    return info
