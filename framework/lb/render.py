"""The HAProxy configuration for a set of services and their ServerSet members.

One frontend per service, bound on ``settings.bind`` (loopback by default), and one backend holding
the service's alive members, each health-checked by HAProxy itself (an HTTP check on the app's
health check path where it has one, else a TCP connect). A connection refused by a member that
died is retried on another (``option redispatch``), and the workers of an older configuration
keep serving their connections until they end (at most ``hard-stop-after``).

Pure: no I/O. The output is deterministic (sorted), so an unchanged input renders the same text
and needs no reload (:func:`needs_reload`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..store.serverset_format import Member
from .services import Service


@dataclass(frozen=True)
class Settings:
    """What the LB adds around the services: where it binds, its health checks, its files."""

    bind: str = "127.0.0.1"
    #: HAProxy's own health checks of each member: every ``check_interval`` s, down after
    #: ``check_fall`` failures, up again after ``check_rise`` successes.
    check_interval: float = 1.0
    check_fall: int = 2
    check_rise: int = 2
    #: Directory of the stats socket and the server state file (None: neither is written).
    run_dir: str | None = None
    hard_stop_after: float = 30.0
    timeout_connect: float = 2.0
    timeout_client: float = 60.0
    timeout_server: float = 60.0


def _ms(seconds: float) -> str:
    return f"{int(round(seconds * 1000))}ms"


def _head(settings: Settings) -> list[str]:
    lines = ["global", f"    hard-stop-after {_ms(settings.hard_stop_after)}"]
    if settings.run_dir:
        lines += [f"    stats socket {settings.run_dir}/haproxy.sock mode 600 level admin expose-fd listeners",
                  f"    server-state-file {settings.run_dir}/server-state"]
    lines += ["", "defaults", "    mode tcp",
              f"    timeout connect {_ms(settings.timeout_connect)}",
              f"    timeout client {_ms(settings.timeout_client)}",
              f"    timeout server {_ms(settings.timeout_server)}",
              f"    timeout check {_ms(max(settings.check_interval, 1.0))}",
              "    retries 3", "    option redispatch 1",
              f"    default-server inter {_ms(settings.check_interval)} fall {settings.check_fall} "
              f"rise {settings.check_rise}"]
    if settings.run_dir:
        lines.append("    load-server-state-from-file global")
    return lines


def _service(service: Service, members: Sequence[Member], settings: Settings) -> list[str]:
    lines = ["", f"frontend {service.name}", f"    bind {settings.bind}:{service.frontend_port}",
             f"    mode {service.mode}", f"    default_backend {service.name}",
             "", f"backend {service.name}", f"    mode {service.mode}", "    balance roundrobin"]
    if service.mode == "http":
        lines.append("    retry-on conn-failure empty-response")
    if service.check_path is not None:
        lines.append(f"    option httpchk GET {service.check_path}")
    for member in sorted(members, key=lambda m: m.name):
        endpoint = member.endpoint(service.index, service.port_name)
        if member.alive and endpoint is not None:
            lines.append(f"    server {member.name} {endpoint.host}:{endpoint.port} check")
    return lines


def render(services: Sequence[Service], members: Mapping[str, Sequence[Member]], settings: Settings) -> str:
    """The whole configuration: ``members`` by app id (an app missing there has none)."""
    lines = _head(settings)
    for service in sorted(services, key=lambda s: (s.frontend_port, s.name)):
        lines += _service(service, members.get(service.app_id, ()), settings)
    return "\n".join(lines) + "\n"


def needs_reload(running: str | None, wanted: str) -> bool:
    """Reload when nothing runs yet or the configuration changed; never for the same text."""
    return running != wanted
