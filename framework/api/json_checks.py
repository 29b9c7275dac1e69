"""Small checks of JSON values against a schema (types, enums, minimums, required and unknown
fields), each problem at its JSON pointer (``/run/cpus``): what the wire-format modules of other
schedulers' APIs (Metronome's, Eremetic's) use to refuse a body as those schedulers would."""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import Problem

Check = Callable[[Any, str, list[Problem]], None]


def problem(problems: list[Problem], path: str, message: str) -> None:
    problems.append(Problem(path or "/", message))


def string(min_length: int = 0) -> Check:
    def check(value: Any, path: str, problems: list[Problem]) -> None:
        if not isinstance(value, str):
            problem(problems, path, f"expected a string, got {_kind(value)}")
        elif len(value) < min_length:
            problem(problems, path, f"must have at least {min_length} character(s)")
    return check


def number(minimum: float | None = None, integer: bool = False) -> Check:
    def check(value: Any, path: str, problems: list[Problem]) -> None:
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not whole):
            problem(problems, path, f"expected {'an integer' if integer else 'a number'}, got {_kind(value)}")
        elif not math.isfinite(value):
            problem(problems, path, "expected a finite number")
        elif minimum is not None and value < minimum:
            problem(problems, path, f"is less than {minimum:g}")
    return check


def boolean(value: Any, path: str, problems: list[Problem]) -> None:
    if not isinstance(value, bool):
        problem(problems, path, f"expected true or false, got {_kind(value)}")


def enum(*names: str) -> Check:
    def check(value: Any, path: str, problems: list[Problem]) -> None:
        if value not in names:
            problem(problems, path, f"{value!r} is not one of {', '.join(names)}")
    return check


def array(item: Check) -> Check:
    def check(value: Any, path: str, problems: list[Problem]) -> None:
        if not isinstance(value, list):
            problem(problems, path, f"expected an array, got {_kind(value)}")
            return
        for i, element in enumerate(value):
            item(element, f"{path}/{i}", problems)
    return check


def mapping(item: Check) -> Check:
    def check(value: Any, path: str, problems: list[Problem]) -> None:
        if not isinstance(value, dict):
            problem(problems, path, f"expected an object, got {_kind(value)}")
            return
        for key, element in value.items():
            item(element, f"{path}/{key}", problems)
    return check


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
    return check


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
            dict: "an object"}.get(type(value), type(value).__name__)
