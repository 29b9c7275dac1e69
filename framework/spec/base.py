"""What every definition model shares: :class:`Spec` (camelCase aliases, unknown fields refused,
immutable) and :class:`PathProblems`, the error validators raise to report problems at subpaths.

Pure: no I/O.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class PathProblems(ValueError):
    """Raised by validators to report problems at paths below the validated value.

    ``items`` are ``(subpath, message)`` pairs; :mod:`halyard.spec.validation` joins each subpath to
    the location pydantic reports, so a problem lands at e.g. ``constraints[1][1]``.
    """

    def __init__(self, items: list[tuple[tuple[str | int, ...], str]]):
        self.items = items
        super().__init__("; ".join(m for _, m in items))


class Spec(BaseModel):
    """Base of all definition models: camelCase aliases, unknown fields refused, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    def to_json(self) -> dict[str, Any]:
        """The definition as Marathon-style JSON (camelCase, defaults omitted where unset)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")
