"""Reading an input file (an app or job definition, a cluster file, a strategies file): bytes ->
JSON-shaped values (dicts with string keys, lists, strings, finite numbers, booleans, null), with
bounded time and memory, or a :class:`ValidationError` naming where and what.

JSON (a document that starts with ``{`` or ``[`` and parses as JSON) is read with :mod:`json`,
many times faster than a YAML parser; the rest with libyaml's ``CSafeLoader`` where PyYAML was
built with it, else the pure-Python ``SafeLoader``. Either way a valid file gives what
``yaml.safe_load`` gives for the same text, except that what no JSON document can hold is refused:

* text that is not UTF-8 (or UTF-16/32 with a byte order mark); a UTF-8 BOM is skipped;
* nesting deeper than :data:`MAX_DEPTH` lists and mappings (never a ``RecursionError``);
* YAML aliases that would expand to more than :data:`MAX_ALIAS_NODES` nodes beyond the document's
  own (a "billion laughs" bomb), or that refer to themselves: refused from the composed node graph,
  before anything is expanded;
* a key given twice in one mapping (YAML and JSON), named with its line;
* a mapping key that is not a string (YAML ``1:``, ``yes:``, ``~:``, ``? [a]``);
* NaN, Infinity and numbers out of a float's range (JSON ``1e309``, YAML ``.inf``), integers longer
  than Python converts (4,300 digits), lone UTF-16 surrogates in JSON ``\\u`` escapes;
* YAML tags without a JSON value (``!!binary``, ``!!set``, ``!!omap``, ``!!pairs``, and every
  ``!!python/...``: the safe loader knows none); YAML timestamps stay the text they were written as;
* an empty file, or more than one YAML document.
"""
from __future__ import annotations

import codecs
import json
import math
import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import Problem, ValidationError
from .bounds import MAX_ALIAS_NODES, MAX_DEPTH, SAFE_LOADER, Loc, format_path, refused  # noqa: F401 (re-exported)
from .yaml_reader import parse_yaml

_LONE_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def load_document(path: str | Path) -> Any:
    """Read a YAML or JSON file (see the module's docstring); refused input raises
    :class:`ValidationError` naming the file, and the line or the field."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValidationError([Problem("", f"cannot read file: {exc.strerror}")], str(path)) from None
    try:
        return parse_document(data)
    except ValidationError as exc:
        raise ValidationError(exc.problems, str(path)) from None


def parse_document(data: bytes | str) -> Any:
    """The JSON-shaped value of one YAML or JSON document, or :class:`ValidationError`."""
    text = decode(data) if isinstance(data, bytes) else data.lstrip("\ufeff")
    if text.lstrip()[:1] in ("{", "["):
        try:
            return parse_json(text)
        except ValueError:
            pass   # not JSON: YAML flow style, or invalid (the YAML parser says which and where)
    return parse_yaml(text)


def decode(data: bytes) -> str:
    """UTF-8 text (a BOM skipped), or UTF-16/32 text that starts with its BOM."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                raise refused(f"not valid {codec.upper()} text after its byte order mark") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise refused(f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}, column {column} "
                       "(expected UTF-8)") from None


# ---------------------------------------------------------------------------------------------
# JSON

class _NonFinite:
    """What JSON's ``NaN``, ``Infinity`` and ``-Infinity`` parse to, to be refused with a path."""

    def __init__(self, name: str):
        self.name = name


class _Duplicated(dict):
    """A JSON object that named a key twice, to be refused with a path and a line."""

    duplicate: str = ""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) == len(pairs):
        return out
    seen: set[str] = set()
    dup = _Duplicated(out)
    for key, _ in pairs:
        if key in seen:
            dup.duplicate = key   # the first key named twice
            break
        seen.add(key)
    return dup


def parse_json(text: str, duplicate_keys: bool = False) -> Any:
    """JSON text -> its value, refused as :func:`parse_document` refuses it (nesting, NaN and
    Infinity, numbers out of range, lone surrogates; duplicate keys unless ``duplicate_keys``: then
    the last one counts, as Jackson reads a Marathon request). Text that is not JSON raises
    ``ValueError`` (``json.JSONDecodeError``)."""
    try:
        value = json.loads(text, object_pairs_hook=None if duplicate_keys else _pairs, parse_constant=_NonFinite)
    except RecursionError:
        raise refused(f"nested too deeply (more than {MAX_DEPTH} levels of lists and mappings)") from None
    problem = _json_problem(value, bool(_LONE_SURROGATE_ESCAPE.search(text)))
    if problem is not None:
        loc, message = problem
        if isinstance(message, _Duplicated):
            message = f"duplicate key {message.duplicate!r}{_line_of_key(text, loc, message.duplicate)}"
        raise refused(str(message), loc)
    return value


def _json_problem(value: Any, surrogates: bool) -> tuple[Loc, Any] | None:
    """The first thing in a parsed JSON value that a definition cannot hold, with its path."""
    stack: list[tuple[Any, Loc]] = [(value, ())]
    while stack:
        node, loc = stack.pop()
        if isinstance(node, dict):
            if len(loc) >= MAX_DEPTH:
                return loc[:1], f"nested too deeply (more than {MAX_DEPTH} levels of lists and mappings)"
            if isinstance(node, _Duplicated):
                return loc, node
            for key, child in node.items():
                if surrogates and _lone_surrogate(key):
                    return loc, f"key {key!r} holds a lone UTF-16 surrogate (not valid Unicode)"
                stack.append((child, loc + (key,)))
        elif isinstance(node, list):
            if len(loc) >= MAX_DEPTH:
                return loc[:1], f"nested too deeply (more than {MAX_DEPTH} levels of lists and mappings)"
            stack.extend((child, loc + (i,)) for i, child in enumerate(node))
        elif isinstance(node, float):
            if not math.isfinite(node):
                return loc, "number out of range (not a finite number)"
        elif isinstance(node, _NonFinite):
            return loc, f"{node.name} is not a number JSON allows (not a finite number)"
        elif surrogates and isinstance(node, str) and _lone_surrogate(node):
            return loc, f"{node!r} holds a lone UTF-16 surrogate (not valid Unicode)"
    return None


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _line_of_key(text: str, loc: Loc, key: str) -> str:
    """`` at line N`` of the second ``key`` in the mapping at ``loc`` (JSON is YAML: read again
    with marks, on this error path only); empty when the YAML parser reads the text otherwise."""
    try:
        node = yaml.compose(text, Loader=SAFE_LOADER)
        for part in loc:
            node = node.value[part] if isinstance(part, int) else next(v for k, v in node.value if k.value == part)
        lines = [k.start_mark.line + 1 for k, _ in node.value if k.value == key]
    except (yaml.YAMLError, RecursionError, StopIteration, IndexError, AttributeError, TypeError):
        return ""
    return f" at line {lines[1]}" if len(lines) > 1 else ""
