"""Helpers for strategy factories that validate their own arguments."""
from __future__ import annotations

from typing import Any, Mapping

from ..errors import Problem, ValidationError


def check_args(strategy: str, args: Mapping[str, Any], allowed: Mapping[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """Refuse unknown or mistyped arguments, naming each as ``strategy.args.NAME``."""
    problems = []
    for key, value in args.items():
        if key not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            problems.append(Problem(f"strategy.args.{key}", f"unknown argument for {strategy} (known: {known})"))
        elif not isinstance(value, allowed[key]) or isinstance(value, bool) and allowed[key] is not bool:
            kinds = allowed[key] if isinstance(allowed[key], tuple) else (allowed[key],)
            names = " or ".join(t.__name__ for t in kinds)
            problems.append(Problem(f"strategy.args.{key}", f"expected {names}, got {value!r}"))
    if problems:
        raise ValidationError(problems)
    return dict(args)
