"""Which apps and ports a load balancer serves, from the apps as ``GET /v2/apps`` shows them.

An app is served when its ``HAPROXY_GROUP`` (or a port's ``HAPROXY_{n}_GROUP``) meets the LB's
``--group``. Each served port is a :class:`Service`: one frontend on ``HAPROXY_{n}_PORT`` (default:
the port's service port) and one backend of the app's members. The mode is ``HAPROXY_{n}_MODE``,
else ``http`` when the app's health check of that port is HTTP (as marathon-lb), else ``tcp``.

Pure: no I/O.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..spec.lb_labels import app_groups, in_group, port_labels

HTTP_CHECKS = ("HTTP", "MESOS_HTTP")


@dataclass(frozen=True)
class Service:
    """One app port behind one frontend."""

    app_id: str
    index: int
    frontend_port: int
    mode: str
    port_name: str | None = None
    #: The path of the app's HTTP health check of this port: HAProxy checks it too (else TCP connects).
    check_path: str | None = None

    @property
    def name(self) -> str:
        """HAProxy's name of the frontend and backend (``examples_hello_10000``)."""
        return f"{self.app_id.strip('/').replace('/', '_')}_{self.frontend_port}"


def _ports(app: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The app's ports as ``{servicePort, name}``: portDefinitions, else container port mappings."""
    defs = app.get("portDefinitions") or []
    if defs:
        return [{"servicePort": d.get("port"), "name": d.get("name")} for d in defs]
    container = app.get("container") or {}
    mappings = container.get("portMappings") or (container.get("docker") or {}).get("portMappings") or []
    return [{"servicePort": m.get("servicePort"), "name": m.get("name")} for m in mappings]


def _http_check(app: Mapping[str, Any], index: int) -> str | None:
    for check in app.get("healthChecks") or []:
        if check.get("protocol") in HTTP_CHECKS and (check.get("portIndex") or 0) == index and check.get("port") is None:
            return str(check.get("path") or "/")
    return None


def app_services(app: Mapping[str, Any], served: frozenset[str]) -> tuple[list[Service], list[str]]:
    """The services of one app for an LB serving ``served``, and why any port is left out."""
    labels = app.get("labels") or {}
    groups = app_groups(labels)
    per_port = port_labels(labels)
    services: list[Service] = []
    notes: list[str] = []
    for index, port in enumerate(_ports(app)):
        said = per_port.get(index)
        if not in_group(served, said.groups if said and said.groups is not None else groups):
            continue
        frontend = said.port if said and said.port else port.get("servicePort")
        if not isinstance(frontend, int) or not 0 < frontend < 65536:
            notes.append(f"{app['id']} port {index}: no service port and no HAPROXY_{index}_PORT")
            continue
        check_path = _http_check(app, index)
        mode = (said.mode if said else None) or ("http" if check_path is not None else "tcp")
        if index > 0 and not port.get("name"):
            notes.append(f"{app['id']} port {index}: unnamed, so its members do not announce it "
                         "(ServerSets name additional endpoints by port name)")
            continue
        services.append(Service(app_id=str(app["id"]), index=index, frontend_port=frontend, mode=mode,
                                port_name=port.get("name"), check_path=check_path))
    return services, notes


def services_of(apps: Iterable[Mapping[str, Any]], served: frozenset[str]) -> tuple[list[Service], list[str]]:
    """Every served service, by app id then port; a frontend port taken by an earlier app (by id)
    is left out with a note."""
    taken: dict[int, Service] = {}
    out: list[Service] = []
    notes: list[str] = []
    for app in sorted(apps, key=lambda a: str(a.get("id"))):
        found, why = app_services(app, served)
        notes += why
        for service in found:
            if service.frontend_port in taken:
                other = taken[service.frontend_port]
                notes.append(f"{service.app_id} port {service.index}: frontend port {service.frontend_port} is "
                             f"taken by {other.app_id} port {other.index}")
                continue
            taken[service.frontend_port] = service
            out.append(service)
    return out, notes
