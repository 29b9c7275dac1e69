"""An app's container and host ports, as Marathon's app JSON has them: ``container`` (Docker image,
network, port mappings, host-path volumes) and ``portDefinitions``. Marathon's volume kinds that
need storage Halyard does not manage are refused by name. Pure data: no I/O.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from .base import PathProblems, Spec


class DockerParameter(Spec):
    """An arbitrary ``docker run`` parameter, passed as ``--key=value``."""

    key: str
    value: str


class PortMapping(Spec):
    """Container port to host port (0 or absent host port: any port from the offer)."""

    container_port: int = Field(0, ge=0, le=65535)
    host_port: int | None = Field(None, ge=0, le=65535)
    service_port: int = Field(0, ge=0, le=65535)
    protocol: Literal["tcp", "udp", "udp,tcp", "tcp,udp"] = "tcp"
    name: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class Docker(Spec):
    """Marathon's ``container.docker``."""

    image: str = Field(min_length=1)
    force_pull_image: bool = False
    privileged: bool = False
    parameters: list[DockerParameter] = Field(default_factory=list)
    #: The older form of ``networks`` (unset: HOST, or what ``networks`` says).
    network: Literal["HOST", "BRIDGE", "NONE", "USER"] | None = None
    port_mappings: list[PortMapping] | None = None


class Volume(Spec):
    """A host path mounted into the container. Marathon's persistent, external and secret
    volumes are named and refused: Halyard does not reserve disk or attach storage."""

    container_path: str = Field(min_length=1)
    host_path: str | None = Field(None, min_length=1)
    mode: Literal["RO", "RW"] = "RW"
    persistent: dict[str, Any] | None = None
    external: dict[str, Any] | None = None
    secret: str | None = None

    @model_validator(mode="after")
    def _host_path_only(self) -> Volume:
        refused = {"persistent": "local persistent volumes (they need disk reservations and resident tasks)",
                   "external": "external volumes (Docker volume drivers such as REX-Ray)",
                   "secret": "secret volumes (give the secret as an env value)"}
        problems: list[tuple[tuple[str | int, ...], str]] = [
            ((key,), f"not supported by Halyard: {why}") for key, why in refused.items() if getattr(self, key) is not None]
        if not problems and self.host_path is None:
            problems.append((("hostPath",), "required"))
        if problems:
            raise PathProblems(problems)
        return self


class Container(Spec):
    """Marathon's ``container``; Halyard runs ``DOCKER`` containers on the agents' Docker containerizer."""

    type: Literal["DOCKER", "MESOS"] = "DOCKER"
    docker: Docker | None = None
    volumes: list[Volume] = Field(default_factory=list)
    port_mappings: list[PortMapping] | None = None

    @model_validator(mode="after")
    def _check(self) -> Container:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.type == "DOCKER" and self.docker is None:
            problems.append((("docker",), "required when type is DOCKER"))
        if self.type == "MESOS" and self.docker is not None:
            problems.append((("docker",), "not supported by Halyard: images in the Mesos containerizer (UCR); "
                                          "Halyard runs images on Docker: give type DOCKER"))
        if self.port_mappings is not None and self.docker is not None and self.docker.port_mappings is not None:
            problems.append((("portMappings",), "given both here and in docker.portMappings; use one"))
        if problems:
            raise PathProblems(problems)
        return self

    @property
    def network(self) -> str:
        """HOST, BRIDGE, NONE or USER (HOST for Mesos containers)."""
        return (self.docker.network or "HOST") if self.docker is not None else "HOST"

    @property
    def mappings(self) -> list[PortMapping] | None:
        """Port mappings from ``container.portMappings`` or the older ``docker.portMappings``."""
        if self.port_mappings is not None:
            return self.port_mappings
        return self.docker.port_mappings if self.docker is not None else None

    @property
    def mappings_path(self) -> tuple[str, ...]:
        """Where :attr:`mappings` are given, below ``container`` (a problem names that place)."""
        older = self.port_mappings is None and self.docker is not None and self.docker.port_mappings is not None
        return ("docker", "portMappings") if older else ("portMappings",)


class PortDefinition(Spec):
    """A port the app needs on the host (HOST networking). ``port`` 0: any port."""

    port: int = Field(0, ge=0, le=65535)
    protocol: Literal["tcp", "udp", "udp,tcp", "tcp,udp"] = "tcp"
    name: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
