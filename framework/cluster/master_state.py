"""The shape of a Mesos master's ``/master/state`` document, as far as ``halyard plan`` reads it.

A saved state file is input like any other: a field of the wrong type is refused with its path
(``slaves[2].resources.cpus: expected a number``), never a crash. Fields Halyard does not read are
ignored; every field read may be missing, as in an older master's state.
"""
from __future__ import annotations

from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from . import ranges as rng


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class MesosResources(_Part):
    """Scalar resources and the ``"[31000-31099, ...]"`` port ranges."""

    cpus: float | None = Field(None, allow_inf_nan=False)
    mem: float | None = Field(None, allow_inf_nan=False)
    disk: float | None = Field(None, allow_inf_nan=False)
    gpus: float | None = Field(None, allow_inf_nan=False)
    ports: str | None = None

    @pydantic.field_validator("ports")
    @classmethod
    def _ranges(cls, value: str | None) -> str | None:
        try:
            if value is not None:
                rng.parse_mesos(value)
        except ValueError:
            raise ValueError(f"expected port ranges such as [31000-31099, 31200-31299], got {value!r}") from None
        return value

    def scalars(self) -> dict[str, float]:
        """The scalar resources, 0 where missing."""
        return {"cpus": self.cpus or 0.0, "mem": self.mem or 0.0, "disk": self.disk or 0.0, "gpus": self.gpus or 0.0}

    def port_ranges(self) -> tuple[rng.Range, ...]:
        return rng.parse_mesos(self.ports) if self.ports is not None else ()


class MesosLabel(_Part):
    key: Any = None
    value: Any = None


class MesosLabels(_Part):
    labels: list[MesosLabel] = Field(default_factory=list)


class MesosTask(_Part):
    slave_id: str = ""
    state: str | None = None
    labels: list[MesosLabel] | MesosLabels | None = None

    def label_list(self) -> list[MesosLabel]:
        """The task's labels, whether given as a list or as ``{labels: [...]}``."""
        if isinstance(self.labels, MesosLabels):
            return self.labels.labels
        return self.labels or []


class MesosFramework(_Part):
    tasks: list[MesosTask] | None = None


class MesosName(_Part):
    name: str | None = None


class MesosFaultDomain(_Part):
    region: MesosName | None = None
    zone: MesosName | None = None


class MesosDomain(_Part):
    fault_domain: MesosFaultDomain | None = None


class MesosAgent(_Part):
    id: str
    hostname: str
    active: bool | None = None
    resources: MesosResources = Field(default_factory=MesosResources)
    used_resources: MesosResources = Field(default_factory=MesosResources)
    unreserved_resources: MesosResources | None = None
    reserved_resources: dict[str, MesosResources] | None = None
    attributes: dict[str, float | str] | None = None
    domain: MesosDomain | None = None


class MesosState(_Part):
    """The parts of ``/master/state`` that placement reads: the agents and the running tasks."""

    slaves: list[MesosAgent] | None = None
    frameworks: list[MesosFramework] | None = None
