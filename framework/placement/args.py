"""Helpers for strategy factories that validate their own arguments."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import Problem, ValidationError


def check_args(strategy: str, args: Mapping[str, Any], allowed: Mapping[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """Refuse unknown or mistyped arguments, naming each as ``strategy.args.NAME``."""
    problems = []
    for key, value in args.items():
        if key not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            problems.append(Problem(f"strategy.args.{key}", f"unknown argument for {strategy} (known: {known})"))
        elif not isinstance(value, allowed[key]) or isinstance(value, bool) and allowed[key] is not bool:
            expected = allowed[key]
            kinds = expected if isinstance(expected, tuple) else (expected,)
            names = " or ".join(t.__name__ for t in kinds)
            problems.append(Problem(f"strategy.args.{key}", f"expected {names}, got {value!r}"))
    if problems:
        raise ValidationError(problems)
    return dict(args)


def check_resources(value: list, key: str = "resources") -> tuple[str, ...]:
    """A non-empty list of distinct resource names from ``cpus, mem, disk, gpus``."""
    from ..cluster.agents import SCALARS

    path = f"strategy.args.{key}"
    if not value:
        raise ValidationError([Problem(path, f"expected at least one of {', '.join(SCALARS)}")])
    problems = [Problem(f"{path}[{i}]", f"unknown resource {name!r} (known: {', '.join(SCALARS)})")
                for i, name in enumerate(value) if name not in SCALARS]
    if not problems and len(set(value)) != len(value):
        problems.append(Problem(path, "a resource is listed twice"))
    if problems:
        raise ValidationError(problems)
    return tuple(value)


def check_field(key: str, value: str) -> str:
    """A constraint field: ``hostname``, ``@hostname``, ``@zone``, ``@region`` or an attribute name."""
    if not value.strip() or (value.startswith("@") and value not in ("@hostname", "@zone", "@region")):
        raise ValidationError([Problem(f"strategy.args.{key}", f"expected hostname, @zone, @region or an "
                                                              f"attribute name, got {value!r}")])
    return value
