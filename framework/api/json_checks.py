"""Small checks of JSON values against a schema (types, enums, minimums, required and unknown
fields), each problem at its JSON pointer (``/run/cpus``): what the wire-format modules of other
schedulers' APIs (Metronome's, Eremetic's) use to refuse a body as those schedulers would."""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem


@dataclass(frozen=True)
class Check:
    """A check of a JSON value (``check(value, path, problems)`` appends what is wrong) and the JSON
    schema that says the same (for the OpenAPI document)."""

    run: Callable[[Any, str, list[Problem]], None]
    schema: dict[str, Any] = field(default_factory=dict)

    def __call__(self, value: Any, path: str, problems: list[Problem]) -> None:
        self.run(value, path, problems)


def problem(problems: list[Problem], path: str, message: str) -> None:
    problems.append(Problem(path or "/", message))


def string(min_length: int = 0) -> Check:
    def check(value: Any, path: str, problems: list[Problem]) -> None:
        if not isinstance(value, str):
            problem(problems, path, f"expected a string, got {_kind(value)}")
        elif len(value) < min_length:
            problem(problems, path, f"must have at least {min_length} character(s)")
    return Check(check, {"type": "string", **({"minLength": min_length} if min_length else {})})


def number(minimum: float | None = None, integer: bool = False) -> Check:
    def check(value: Any, path: str, problems: list[Problem]) -> None:
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not whole):
            problem(problems, path, f"expected {'an integer' if integer else 'a number'}, got {_kind(value)}")
        elif not math.isfinite(value):
            problem(problems, path, "expected a finite number")
        elif minimum is not None and value < minimum:
            problem(problems, path, f"is less than {minimum:g}")
    return Check(check, {"type": "integer" if integer else "number", **({"minimum": minimum} if minimum is not None else {})})


def _boolean(value: Any, path: str, problems: list[Problem]) -> None:
    if not isinstance(value, bool):
        problem(problems, path, f"expected true or false, got {_kind(value)}")


boolean = Check(_boolean, {"type": "boolean"})


def enum(*names: str) -> Check:
    def check(value: Any, path: str, problems: list[Problem]) -> None:
        if value not in names:
            problem(problems, path, f"{value!r} is not one of {', '.join(names)}")
    return Check(check, {"type": "string", "enum": list(names)})


def array(item: Check) -> Check:
    def check(value: Any, path: str, problems: list[Problem]) -> None:
        if not isinstance(value, list):
            problem(problems, path, f"expected an array, got {_kind(value)}")
            return
        for i, element in enumerate(value):
            item(element, f"{path}/{i}", problems)
    return Check(check, {"type": "array", "items": item.schema})


def mapping(item: Check) -> Check:
    def check(value: Any, path: str, problems: list[Problem]) -> None:
        if not isinstance(value, dict):
            problem(problems, path, f"expected an object, got {_kind(value)}")
            return
        for key, element in value.items():
            item(element, f"{path}/{key}", problems)
    return Check(check, {"type": "object", "additionalProperties": item.schema})


def obj(fields: Mapping[str, Check], required: tuple[str, ...] = (), closed: bool = True) -> Check:
    def check(value: Any, path: str, problems: list[Problem]) -> None:
        if not isinstance(value, dict):
            problem(problems, path, f"expected an object, got {_kind(value)}")
            return
        for name in required:
            if name not in value:
                problem(problems, f"{path}/{name}", "required")
        for name, element in value.items():
            if name in fields:
                fields[name](element, f"{path}/{name}", problems)
            elif closed:
                problem(problems, f"{path}/{name}", "unknown field")
    schema: dict[str, Any] = {"type": "object", "properties": {name: f.schema for name, f in fields.items()}}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return Check(check, schema)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
            dict: "an object"}.get(type(value), type(value).__name__)
