"""The bounds every input document is held to, and how a refusal names its place: shared by the
JSON reader (``documents.py``) and the YAML reader (``documents_yaml.py``). Pure: no I/O."""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import yaml

from ..errors import Problem, ValidationError

#: libyaml's safe loader where PyYAML has it (about 10x faster), else the pure-Python one.
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Lists and mappings nested deeper than this are refused.
MAX_DEPTH = 100
#: YAML aliases may add at most this many nodes to the document's own when expanded.
MAX_ALIAS_NODES = 100_000

Loc = tuple[str | int, ...]


def format_path(loc: Iterable[str | int]) -> str:
    """``('constraints', 1, 1)`` -> ``constraints[1][1]``; ``('container', 'docker')`` ->
    ``container.docker``; a key that is empty or holds an unprintable character is quoted as JSON
    (``labels["a\\nb"]``), so a path is always one line."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part or not str(part).isprintable():
            out += f"[{json.dumps(str(part))}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def refused(message: str, loc: Loc = ()) -> ValidationError:
    """The error that refuses a document, with one problem at ``loc``."""
    return ValidationError([Problem(format_path(loc), message, loc)])
