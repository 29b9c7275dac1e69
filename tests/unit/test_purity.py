"""Who may import what, stated by package: the pure core does no I/O and imports nothing above it;
pymesos only in mesos/, kazoo only in store/, lb only in lb/ and cli/; the API reaches the engine
only through its view, messages, domain events and records; arrows never run back up.

Checked on the source (every import statement, function-level ones too, relative ones resolved)
and, for the core, on what importing it actually loads. Each rule is a function of the source tree,
and a test plants a violation in a copy of the tree to show that the rule catches it.
"""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

FRAMEWORK = Path(__file__).resolve().parents[2] / "framework"
PACKAGE = "halyard"

# The layers, by package (a top-level module counts as its own package).
CORE = ("spec", "documents", "cluster", "placement", "engine", "jobs", "rebalance", "errors", "timestamps")
PURE_INPUTS = ("spec", "documents", "cluster", "placement")  # what a dry run and the CLI's plan read
ADAPTERS = ("mesos", "store")
ABOVE_THE_CORE = ("api", "cli", "runtime", "lb", "ui", "releases", "tls_files", *ADAPTERS)
IO = {"pymesos", "kazoo", "requests", "http", "urllib", "socket", "docker", "aiohttp", "httpx", "fastapi",
      "uvicorn", "starlette", "subprocess", "addict", "threading", "asyncio"}
# What the API may import of the engine: the read side (view), the commands (messages), what happened
# (domain events) and the records the view hands out.
API_SEES_OF_ENGINE = ("view", "messages", "domain_events", "app_records")
# The leader loop's modules in runtime/: given the store, the session, the Mesos driver and the master,
# they import none of them (the API reaches them only through runtime/backend.py's protocol).
LEADER_LOOP = ("service", "scheduler_backend", "signals", "step_down", "instructions", "agent_listing")


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


def imports(root: Path, path: Path) -> Iterator[str]:
    """Every module an import statement in ``path`` names (``from a import b``: ``a`` and ``a.b``)."""
    name = module_name(root, path)
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


def package_of(root: Path, path: Path) -> str:
    return path.relative_to(root).with_suffix("").parts[0]


def in_packages(root: Path, *packages: str) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if package_of(root, p) in packages)


def outside(root: Path, *packages: str) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if package_of(root, p) not in packages)


def within(module: str, *packages: str) -> bool:
    return any(module == f"{PACKAGE}.{p}" or module.startswith(f"{PACKAGE}.{p}.") for p in packages)


def offenders(root: Path, paths: list[Path], libraries: set[str] = frozenset(),
              internal: tuple[str, ...] = ()) -> list[str]:
    return sorted({f"{module_name(root, p)} imports {m}" for p in paths for m in imports(root, p)
                   if m.split(".")[0] in libraries or within(m, *internal)})


# The rules: each returns its violations in the tree at ``root``.

def core_is_pure(root: Path) -> list[str]:
    """The core imports no I/O library and nothing above it."""
    return offenders(root, in_packages(root, *CORE), IO, ABOVE_THE_CORE)


def inputs_are_pure(root: Path) -> list[str]:
    """Nothing under spec/, documents/, cluster/ or placement/ imports I/O, nor the engine."""
    return offenders(root, in_packages(root, *PURE_INPUTS), IO, ("engine", "rebalance", *ABOVE_THE_CORE))


def only_mesos_imports_pymesos(root: Path) -> list[str]:
    return offenders(root, outside(root, "mesos"), {"pymesos"})


def only_store_imports_kazoo(root: Path) -> list[str]:
    return offenders(root, outside(root, "store"), {"kazoo"})


def only_lb_and_cli_import_lb(root: Path) -> list[str]:
    return offenders(root, outside(root, "lb", "cli"), internal=("lb",))


def api_reaches_the_engine_through_its_view(root: Path) -> list[str]:
    """The API imports of the engine only its view, messages, domain events and records; never the
    CLI, the wiring or the leader loop."""
    seen = tuple(f"engine.{m}" for m in API_SEES_OF_ENGINE)
    return sorted({f"{module_name(root, p)} imports {m}" for p in in_packages(root, "api") for m in imports(root, p)
                   if (within(m, "engine") and m != f"{PACKAGE}.engine" and not within(m, *seen))
                   or within(m, "cli", "runtime.wiring", *(f"runtime.{stem}" for stem in LEADER_LOOP))})


def the_leader_loop_reaches_mesos_and_zookeeper_only_through_what_it_is_given(root: Path) -> list[str]:
    loop = [p for p in in_packages(root, "runtime") if p.stem in LEADER_LOOP]
    return offenders(root, loop, {"pymesos", "kazoo", "requests", "fastapi", "uvicorn"}, ("api", "cli", "mesos"))


RULES: list[Callable[[Path], list[str]]] = [
    core_is_pure, inputs_are_pure, only_mesos_imports_pymesos, only_store_imports_kazoo,
    only_lb_and_cli_import_lb, api_reaches_the_engine_through_its_view,
    the_leader_loop_reaches_mesos_and_zookeeper_only_through_what_it_is_given,
]


def test_the_import_resolver_resolves_relative_imports():
    found = set(imports(FRAMEWORK, FRAMEWORK / "api" / "server.py"))
    assert {"halyard", "halyard.runtime.backend", "halyard.api.apps", "halyard.api.openapi.openapi_document"} <= found


def test_the_leader_loop_modules_named_exist():
    """A module of the leader loop renamed must be renamed here too, or the rules stop reading it."""
    assert {stem for stem in LEADER_LOOP if not (FRAMEWORK / "runtime" / f"{stem}.py").exists()} == set()


def test_every_package_is_in_a_layer():
    """A new package must be placed in a layer here (and in setup.cfg, or the wheel drops it)."""
    packages = {p.name for p in FRAMEWORK.iterdir() if (p / "__init__.py").exists()}
    modules = {p.stem for p in FRAMEWORK.glob("*.py") if p.stem != "__init__"}
    assert packages | modules <= set(CORE) | set(ABOVE_THE_CORE)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
def test_the_tree_keeps_the_rule(rule):
    assert rule(FRAMEWORK) == []


# (rule, file to plant in, the line planted, what the rule must report)
PLANTED = [
    (core_is_pure, "engine/converge.py", "import requests", "halyard.engine.converge imports requests"),
    (core_is_pure, "jobs/cron.py", "from ..runtime import config", "halyard.jobs.cron imports halyard.runtime"),
    (inputs_are_pure, "spec/rules.py", "from ..engine import view", "halyard.spec.rules imports halyard.engine"),
    (inputs_are_pure, "placement/filters.py", "import socket", "halyard.placement.filters imports socket"),
    (only_mesos_imports_pymesos, "store/zk.py", "import pymesos", "halyard.store.zk imports pymesos"),
    (only_store_imports_kazoo, "runtime/service.py", "import kazoo", "halyard.runtime.service imports kazoo"),
    (only_lb_and_cli_import_lb, "spec/app.py", "from ..lb import render", "halyard.spec.app imports halyard.lb"),
    (api_reaches_the_engine_through_its_view, "api/apps.py", "from ..engine.converge import capacity_bounds",
     "halyard.api.apps imports halyard.engine.converge"),
    (api_reaches_the_engine_through_its_view, "api/tasks.py", "from ..runtime import service",
     "halyard.api.tasks imports halyard.runtime.service"),
    (api_reaches_the_engine_through_its_view, "api/leader.py", "from ..runtime.scheduler_backend import OfferLatencies",
     "halyard.api.leader imports halyard.runtime.scheduler_backend"),
    (the_leader_loop_reaches_mesos_and_zookeeper_only_through_what_it_is_given, "runtime/service.py",
     "from ..mesos import driver", "halyard.runtime.service imports halyard.mesos"),
    (the_leader_loop_reaches_mesos_and_zookeeper_only_through_what_it_is_given, "runtime/instructions.py",
     "import requests", "halyard.runtime.instructions imports requests"),
    (the_leader_loop_reaches_mesos_and_zookeeper_only_through_what_it_is_given, "runtime/agent_listing.py",
     "from ..mesos.master import MesosMaster", "halyard.runtime.agent_listing imports halyard.mesos.master"),
]


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted") / "framework"
    shutil.copytree(FRAMEWORK, root, ignore=shutil.ignore_patterns("__pycache__", "ui"))
    return root


@pytest.mark.parametrize("rule,where,line,report", PLANTED, ids=[f"{r.__name__}:{w}" for r, w, _, _ in PLANTED])
def test_each_rule_catches_a_planted_violation(tree_copy, rule, where, line, report):
    path = tree_copy / where
    original = path.read_text()
    before = set(rule(tree_copy))
    path.write_text(original + f"\n{line}\n")
    try:
        assert report in set(rule(tree_copy)) - before
    finally:
        path.write_text(original)


def test_importing_the_core_loads_no_io_library():
    code = ("import sys, halyard.placement, halyard.spec.validation, halyard.cluster.agents, halyard.engine.engine,"
            " halyard.rebalance.planner, halyard.documents.reader;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in %r))"
            % (IO - {"http", "socket", "urllib", "subprocess", "threading", "asyncio"}))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_api_and_the_cli_load_neither_pymesos_nor_kazoo():
    code = ("import sys, halyard.api.server, halyard.cli.main;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pymesos', 'kazoo')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
