"""The rules of the fields Marathon 1.5+ added to apps (``networks``, ``check``, ``executor``,
``tty``, ``role``): what Halyard cannot do, or what contradicts itself, and where a Mesos check
connects. A mixin of :class:`halyard.spec.app.AppSpec`, kept apart so the model stays readable.

Pure: no I/O.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .app import Container
    from .parts import AppCheck, Network


class MarathonRules:
    """Checks and derived values of an app's Marathon 1.5+ fields (see the module's docstring)."""

    if TYPE_CHECKING:
        executor: str
        networks: list[Network] | None
        container: Container | None
        tty: bool | None
        check: AppCheck | None
        role: str | None
        accepted_resource_roles: list[str] | None
        @property
        def network(self) -> str: ...
        @property
        def is_docker(self) -> bool: ...

        def host_port_requests(self) -> tuple[int, ...]: ...

    def _marathon_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """What Marathon 1.5+ fields ask that Halyard cannot do, or that contradicts itself."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.executor not in ("", "//cmd"):
            problems.append((("executor",), "not supported by Halyard: custom executors (tasks run with Mesos' "
                                            "command executor, or Docker's)"))
        if self.networks is not None and len(self.networks) > 1:
            problems.append((("networks",), f"not supported by Halyard: more than one network per app "
                                            f"(Docker joins one at launch); got {len(self.networks)}"))
        docker = self.container.docker if self.container is not None else None
        if self.networks and docker is not None and docker.network is not None:
            problems.append((("container", "docker", "network"), "give networks or container.docker.network, not both"))
        if self.networks and self.network != "HOST" and not self.is_docker:
            problems.append((("networks", 0, "mode"), "not supported by Halyard: container networks for an app "
                                                      "without a Docker image (commands run in the host's network)"))
        if self.tty and not self.is_docker:
            problems.append((("tty",), "not supported by Halyard: a tty for an app without a Docker image"))
        ports = len(self.host_port_requests())
        ref = self.check.port_ref if self.check is not None else None
        if ref is not None and ref.port is None and (ref.port_index or 0) >= max(ports, len(self._check_ports())):
            kind = "http" if self.check.http is not None else "tcp"  # type: ignore[union-attr]  # ref: the check's
            problems.append((("check", kind, "portIndex"), f"the app has {ports} port(s)"))
        if self.role is not None:
            for i, role in enumerate(self.accepted_resource_roles or []):
                if role not in ("*", self.role):
                    problems.append((("acceptedResourceRoles", i), f"must be '*' or the app's role "
                                                                   f"{self.role!r} (as in Marathon)"))
        return problems

    def _check_ports(self) -> tuple[int, ...]:
        """The ports a Mesos check may name by ``portIndex``: container ports with container
        networking (checks run inside the task's network), host ports otherwise."""
        if self.network in ("BRIDGE", "USER"):
            return tuple(m.container_port for m in (self.container.mappings if self.container else None) or [])
        return ()

    def check_port(self, ports: tuple[int, ...]) -> int | None:
        """The port the app's Mesos ``check`` connects to, given a task's host ports (None: no
        HTTP/TCP check). With BRIDGE/USER networking it is the mapping's container port."""
        ref = self.check.port_ref if self.check is not None else None
        if ref is None:
            return None
        if ref.port is not None:
            return ref.port
        index = ref.port_index or 0
        inside = self._check_ports()
        if inside:
            return inside[index] if index < len(inside) else None
        return ports[index] if index < len(ports) else None

    @property
    def network_name(self) -> str | None:
        """The Docker network a USER-networked task joins (``networks[0].name``), if named."""
        return self.networks[0].name if self.networks else None
