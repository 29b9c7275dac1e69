"""Marathon's placement constraints as typed values: ``[field, operator]`` or ``[field, operator,
value]``, parsed with a problem naming the bad element (Marathon's operators and value rules).
Which agents a constraint admits is the placement engine's (:mod:`halyard.placement.constraints`).
Pure data: no I/O.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import core_schema

from .base import PathProblems


class Operator(str, Enum):
    """Marathon's constraint operators."""

    UNIQUE = "UNIQUE"
    CLUSTER = "CLUSTER"
    GROUP_BY = "GROUP_BY"
    LIKE = "LIKE"
    UNLIKE = "UNLIKE"
    MAX_PER = "MAX_PER"
    IS = "IS"


_VALUE_RULES: dict[Operator, str] = {
    Operator.UNIQUE: "none",
    Operator.CLUSTER: "optional",
    Operator.GROUP_BY: "optional-int",
    Operator.LIKE: "regex",
    Operator.UNLIKE: "regex",
    Operator.MAX_PER: "int",
    Operator.IS: "required",
}


@dataclass(frozen=True)
class Constraint:
    """A Marathon constraint ``[field, operator]`` or ``[field, operator, value]``.

    ``field`` is ``hostname``/``@hostname``, ``@region``, ``@zone`` or an agent attribute name.
    """

    field: str
    operator: Operator
    value: str | None = None

    def __str__(self) -> str:
        parts = [self.field, self.operator.value] + ([self.value] if self.value is not None else [])
        return ":".join(parts)

    def to_json(self) -> list[str]:
        return [self.field, self.operator.value] + ([self.value] if self.value is not None else [])

    @classmethod
    def parse(cls, raw: Any) -> Constraint:
        """Parse Marathon's list form; raise :class:`PathProblems` naming the bad element."""
        if not isinstance(raw, (list, tuple)):
            raise PathProblems([((), f"expected [field, operator] or [field, operator, value], got {raw!r}")])
        if not 2 <= len(raw) <= 3:
            raise PathProblems([((), f"expected 2 or 3 elements, got {len(raw)}")])
        problems: list[tuple[tuple[str | int, ...], str]] = []
        field, op_raw = raw[0], raw[1]
        value = raw[2] if len(raw) == 3 else None
        if not isinstance(field, str) or not field:
            problems.append(((0,), f"field must be a non-empty string, got {field!r}"))
        try:
            op = Operator(op_raw)
        except ValueError:
            known = ", ".join(o.value for o in Operator)
            problems.append(((1,), f"unknown operator {op_raw!r} (known: {known})"))
            raise PathProblems(problems) from None
        if value == "" and _VALUE_RULES.get(op) in ("none", "optional"):
            value = None  # Marathon's exports write ["hostname", "UNIQUE", ""]
        if value is not None and not isinstance(value, str):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)
            else:
                problems.append(((2,), f"value must be a string, got {value!r}"))
        rule = _VALUE_RULES[op]
        if isinstance(value, str) or value is None:
            problems.extend(_check_constraint_value(op, rule, value))
        if problems:
            raise PathProblems(problems)
        return cls(field, op, value)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            lambda v: v if isinstance(v, Constraint) else cls.parse(v),
            serialization=core_schema.plain_serializer_function_ser_schema(lambda c: c.to_json()),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 3,
                "description": "[field, operator] or [field, operator, value]"}


def _check_constraint_value(op: Operator, rule: str, value: str | None) -> list[tuple[tuple[int, ...], str]]:
    where = (2,) if value is not None else ()
    if rule == "none" and value is not None:
        return [((2,), f"{op.value} takes no value")]
    if rule in ("required", "regex", "int") and value is None:
        return [((), f"{op.value} needs a value")]
    if rule == "regex":
        try:
            re.compile(value or "")
        except re.error as exc:
            return [(where, f"invalid regular expression {value!r}: {exc}")]
    if rule in ("int", "optional-int") and value is not None:
        if not value.strip().isdigit() or int(value) < 1:
            return [(where, f"{op.value} value must be a positive integer, got {value!r}")]
    return []
