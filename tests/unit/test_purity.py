"""Who may import what: the pure core no I/O at all; pymesos only in mesos/, kazoo only in store/;
arrows never run back up (the core into the API, CLI or wiring; the API into the CLI).

Checked on the source (every import statement, function-level ones too, relative ones resolved)
and, for the core, on what importing it actually loads.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Iterator

FRAMEWORK = Path(__file__).resolve().parents[2] / "framework"
PACKAGE = "halyard"
PURE = ["model.py", "validation.py", "app_parts.py", "app_rules.py", "app_constraints.py", "app_container.py",
        "app_checks.py", "app_lifecycle.py", "spec_base.py", "marathon_compat.py", "cluster.py", "ranges.py", "errors.py", "mesos_types.py", "timestamps.py",
        "environments.py", "releases.py",
        "lb/__init__.py", "lb/labels.py", "lb/members.py", "lb/services.py", "lb/render.py", "lb/runner.py",
        "placement", "engine", "jobs"]
FORBIDDEN = {"pymesos", "kazoo", "requests", "http", "urllib", "socket", "docker", "aiohttp",
             "httpx", "fastapi", "uvicorn", "starlette", "subprocess", "addict"}
ABOVE_THE_CORE = ("halyard.api", "halyard.cli", "halyard.service", "halyard.app", "halyard.mesos", "halyard.store",
                  "halyard.webhooks", "halyard.backend", "halyard.config", "halyard.release_desk", "halyard.digests")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(FRAMEWORK).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


def imports(path: Path) -> Iterator[str]:
    """Every module an import statement in ``path`` names (``from a import b``: ``a`` and ``a.b``)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - (node.level - 1)] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def files(*entries: str) -> list[Path]:
    out: list[Path] = []
    for entry in entries:
        path = FRAMEWORK / entry
        out += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return out


def within(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def offenders(paths: list[Path], forbidden: set[str] = frozenset(), internal: tuple[str, ...] = ()) -> list[str]:
    return sorted({f"{module_name(p)} imports {m}" for p in paths for m in imports(p)
                   if m.split(".")[0] in forbidden or within(m, *internal)})


def test_the_import_resolver_resolves_relative_imports():
    found = set(imports(FRAMEWORK / "api" / "server.py"))
    assert {"halyard", "halyard.backend", "halyard.api.apps", "halyard.api.openapi.openapi_document"} <= found


def test_the_core_imports_no_io_and_nothing_above_it():
    assert offenders(files(*PURE), FORBIDDEN, ABOVE_THE_CORE) == []


def test_only_mesos_imports_pymesos():
    outside = [p for p in files(".") if "mesos" not in p.relative_to(FRAMEWORK).parts[:1]]
    assert offenders(outside, {"pymesos"}) == []


def test_only_store_imports_kazoo():
    outside = [p for p in files(".") if "store" not in p.relative_to(FRAMEWORK).parts[:1]]
    assert offenders(outside, {"kazoo"}) == []


def test_the_api_does_not_import_the_cli_or_the_wiring():
    assert offenders(files("api"), internal=("halyard.cli", "halyard.app", "halyard.service")) == []


def test_the_service_reaches_mesos_and_zookeeper_only_through_what_it_is_given():
    assert offenders(files("service.py"), {"pymesos", "kazoo", "requests", "fastapi", "uvicorn"},
                     ("halyard.api", "halyard.cli", "halyard.app", "halyard.mesos")) == []


def test_importing_the_core_loads_no_io_library():
    code = ("import sys, halyard.placement, halyard.validation, halyard.cluster, halyard.engine.engine;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in %r))" % (FORBIDDEN - {"http", "socket", "urllib", "subprocess"}))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_api_and_the_cli_load_neither_pymesos_nor_kazoo():
    code = ("import sys, halyard.api.server, halyard.cli.main;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pymesos', 'kazoo')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
