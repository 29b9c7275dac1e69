"""The pure core imports no pymesos, kazoo, HTTP or Docker code."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

FRAMEWORK = Path(__file__).resolve().parents[2] / "framework"
PURE = ["model.py", "validation.py", "cluster.py", "ranges.py", "errors.py", "placement", "engine", "jobs"]
FORBIDDEN = {"pymesos", "kazoo", "requests", "http", "urllib", "socket", "docker", "aiohttp",
             "httpx", "fastapi", "uvicorn", "subprocess", "addict"}


def _pure_files():
    for entry in PURE:
        path = FRAMEWORK / entry
        yield from (sorted(path.rglob("*.py")) if path.is_dir() else [path])


def test_pure_modules_import_nothing_that_does_io():
    offenders = []
    for path in _pure_files():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_the_core_loads_no_io_library():
    code = ("import sys, halyard.placement, halyard.validation, halyard.cluster, halyard.engine.engine;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in %r))" % (FORBIDDEN - {"http", "socket", "urllib", "subprocess"}))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
