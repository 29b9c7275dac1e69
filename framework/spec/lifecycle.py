"""How an app's tasks are replaced and bounded, as Marathon's app JSON has it: ``upgradeStrategy``
(rolling-deploy capacity), ``unreachableStrategy`` (Marathon 1.4+) and ``resourceLimits``
(Marathon 1.10+). Pure data: no I/O.
"""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    Field,
    GetJsonSchemaHandler,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_serializer,
    model_validator,
)

from .base import PathProblems, Spec


class UpgradeStrategy(Spec):
    """Rolling-deploy capacity bounds, as fractions of ``instances``."""

    minimum_health_capacity: float = Field(1.0, ge=0, le=1)
    maximum_over_capacity: float = Field(1.0, ge=0, le=1)


# --- per-app task lifecycle: unreachable tasks, resource limits (Marathon 1.4+ / 1.10+) -------------

class UnreachableStrategy(Spec):
    """Marathon's ``unreachableStrategy``: a task unreachable for ``inactiveAfterSeconds`` is
    replaced (it stays known); one unreachable for ``expungeAfterSeconds`` is forgotten (killed
    should it come back). ``"disabled"``: never replaced. Defaults as Marathon's RAML: 0 and 0."""

    # None (not in the JSON): "disabled".
    inactive_after_seconds: Annotated[int | None, WithJsonSchema({"type": "integer", "minimum": 0, "default": 0})] \
        = Field(0, ge=0)
    expunge_after_seconds: Annotated[int | None, WithJsonSchema({"type": "integer", "minimum": 0, "default": 0})] \
        = Field(0, ge=0)

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {"anyOf": [{"const": "disabled"}, handler.resolve_ref_schema(handler(schema))]}

    @model_validator(mode="before")
    @classmethod
    def _disabled(cls, data: Any) -> Any:
        if data == "disabled":
            return {"inactiveAfterSeconds": None, "expungeAfterSeconds": None}
        if not isinstance(data, dict):
            raise ValueError(f"expected \"disabled\" or {{inactiveAfterSeconds, expungeAfterSeconds}}, got {data!r}")
        for key in ("inactiveAfterSeconds", "expungeAfterSeconds", "inactive_after_seconds", "expunge_after_seconds"):
            if key in data and data[key] is None:
                raise PathProblems([((key,), "must be a number of seconds (or give \"disabled\")")])
        return data

    @model_validator(mode="after")
    def _check(self) -> UnreachableStrategy:
        inactive, expunge = self.inactive_after_seconds, self.expunge_after_seconds  # None: disabled
        if inactive is not None and expunge is not None and inactive > expunge:
            raise PathProblems([(("inactiveAfterSeconds",),
                                 f"inactiveAfterSeconds ({self.inactive_after_seconds}) must be less than or equal "
                                 f"to expungeAfterSeconds ({self.expunge_after_seconds})")])
        return self

    @model_serializer(mode="wrap")
    def _render(self, handler: Any) -> Any:
        return "disabled" if self.disabled else handler(self)

    @property
    def disabled(self) -> bool:
        """Unreachable tasks are never replaced nor forgotten."""
        return self.inactive_after_seconds is None


UNLIMITED = float("inf")
_LIMIT_SCHEMA = {"anyOf": [{"type": "number", "minimum": 0}, {"const": "unlimited"}]}


class ResourceLimits(Spec):
    """Marathon's ``resourceLimits``: how much CPU and memory a task may use beyond what it
    requests (``"unlimited"``: as much as the agent has free). Rendered as the TaskInfo's
    ``limits``; the agent's containerizer applies them (CFS quota, memory limit)."""

    cpus: Annotated[float | None, WithJsonSchema(_LIMIT_SCHEMA)] = Field(None, ge=0)
    mem: Annotated[float | None, WithJsonSchema(_LIMIT_SCHEMA)] = Field(None, ge=0)

    @field_validator("cpus", "mem", mode="before")
    @classmethod
    def _unlimited(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value == "unlimited":
                return UNLIMITED
            raise ValueError(f"must be \"unlimited\" or a number, got {value!r}")
        return value

    @field_serializer("cpus", "mem")
    def _render(self, value: float | None) -> Any:
        return "unlimited" if value == UNLIMITED else value
