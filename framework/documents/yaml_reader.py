"""The YAML half of :mod:`halyard.documents.reader`: libyaml's safe loader, whose composed node graph is
checked (depth, aliases, keys) before anything is constructed, and whose constructor makes only
what JSON holds."""
from __future__ import annotations

import math
from typing import Any

import yaml

from .bounds import MAX_ALIAS_NODES, MAX_DEPTH, SAFE_LOADER, Loc, refused

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"


class _Loader(SAFE_LOADER):
    """The safe loader, whose values are what JSON holds (see the module's docstring)."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            raise yaml.constructor.ConstructorError(
                None, None, f"integer {node.value[:20]}... has too many digits", node.start_mark) from None

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value} is not a finite number", node.start_mark)
        return value

    def construct_as_text(self, node: yaml.ScalarNode) -> str:
        """A timestamp stays the text it was written as (JSON has no dates)."""
        return str(node.value)

    def refuse(self, node: yaml.Node) -> None:
        """A YAML type no JSON value has."""
        raise yaml.constructor.ConstructorError(
            None, None, f"the YAML tag {node.tag} has no JSON value (remove the tag)", node.start_mark)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_as_text)
for _tag in ("binary", "set", "omap", "pairs"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _Loader.refuse)


def parse_yaml(text: str) -> Any:
    """The value of one YAML document, or :class:`ValidationError` (see :mod:`halyard.documents.reader`)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise refused("empty document (the file holds no YAML or JSON value)")
        _check_graph(node)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise refused(f"not valid YAML/JSON: {where}{problem}") from None
    except RecursionError:  # the pure-Python composer, past Python's recursion limit
        raise refused(f"nested too deeply (more than {MAX_DEPTH} levels of lists and mappings)") from None
    finally:
        loader.dispose()


def _check_graph(root: yaml.Node) -> None:
    """Refuse a composed document that is too deep, whose aliases expand too far or refer to
    themselves, or whose mappings repeat a key or have a key that is not a string. Each node is
    visited once (an alias is the same node object again), so a bomb costs no more than its text."""
    size: dict[int, int] = {}  # expanded node count of each node done (capped: no huge integers)
    depth: dict[int, int] = {}  # expanded nesting depth of each node done; -1: under way
    unique = 0
    stack: list[tuple[yaml.Node, Loc, list[tuple[yaml.Node, Loc]] | None]] = [(root, (), None)]
    while stack:
        node, loc, done = stack.pop()
        key = id(node)
        if done is not None:
            size[key] = min(10**12, 1 + sum(size[id(c)] for c, _ in done))
            depth[key] = 1 + max((depth[id(c)] for c, _ in done), default=0)
            if depth[key] > MAX_DEPTH:  # named at its top-level field, at the line where that starts
                deepest, deepest_loc = max(done, key=lambda child: depth[id(child[0])])
                top, where = (node, loc) if loc else (deepest, deepest_loc)
                raise refused(f"line {top.start_mark.line + 1}: nested too deeply (more than {MAX_DEPTH} "
                               "levels of lists and mappings)", where[:1])
            continue
        if key in size:
            continue  # an alias of a node done
        if depth.get(key) == -1:
            raise refused(f"line {node.start_mark.line + 1}: an alias refers to a node that holds it "
                           "(a recursive alias)", loc[:1])
        unique += 1
        if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            size[key], depth[key] = 1, 0
            continue
        depth[key] = -1
        children = _children(node, loc)
        stack.append((node, loc, children))
        stack.extend((c, child_loc, None) for c, child_loc in children if id(c) not in size)
    if size[id(root)] - unique > MAX_ALIAS_NODES:
        raise refused(f"YAML aliases expand to more than {MAX_ALIAS_NODES} nodes beyond the document's "
                       "own (an alias bomb?): refused, not expanded")


def _children(node: yaml.Node, loc: Loc) -> list[tuple[yaml.Node, Loc]]:
    if isinstance(node, yaml.SequenceNode):
        return [(c, loc + (i,)) for i, c in enumerate(node.value)]
    out: list[tuple[yaml.Node, Loc]] = []
    seen: dict[str, int] = {}
    for k, v in node.value:
        if k.tag == _MERGE:
            out.append((v, loc))
            continue
        if k.tag != _STR or not isinstance(k, yaml.ScalarNode):
            shown = k.value if isinstance(k, yaml.ScalarNode) else k.tag.rsplit(":", 1)[-1]
            raise refused(f"line {k.start_mark.line + 1}: the key {shown!r} is not a string "
                           "(quote it)", loc)
        if k.value in seen:
            raise refused(f"line {k.start_mark.line + 1}: duplicate key {k.value!r} "
                           f"(first at line {seen[k.value]})", loc)
        seen[k.value] = k.start_mark.line + 1
        out.append((k, loc + (k.value,)))
        out.append((v, loc + (k.value,)))
    return out
