"""Halyard's executor as one file an agent can fetch and run: a zipapp of ``halyard_executor`` and
the pure-Python code it needs (pymesos, addict, six, http-parser's Python parser).

An agent needs nothing installed but ``python3``: the scheduler serves the file
(``GET /v1/executor/<digest>/halyard-executor.pyz``), the ExecutorInfo fetches it into the sandbox
(cached by the agent's fetcher: the digest in the URL changes with the content) and runs
``python3 halyard-executor.pyz``. Built once per process, in memory, deterministically.
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "halyard-executor.pyz"
PACKAGES = ("halyard_executor", "pymesos", "addict", "http_parser")
MODULES = ("six",)
MAIN = b"from halyard_executor.mesos import main\nmain()\n"
_EPOCH = (2020, 1, 1, 0, 0, 0)  # fixed timestamps: the same code gives the same digest


@dataclass(frozen=True)
class Artifact:
    data: bytes
    digest: str          # sha256, hex

    @property
    def path(self) -> str:
        """Where the scheduler's API serves it."""
        return f"/v1/executor/{self.digest[:16]}/{FILE_NAME}"


def _origin(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"cannot find the module {name!r} to package the executor")
    return Path(spec.origin)


def build() -> Artifact:
    """Zip the executor and its pure-Python dependencies (compiled extensions are left out:
    http-parser then uses its Python parser, which pymesos supports)."""
    files: dict[str, bytes] = {"__main__.py": MAIN}
    for package in PACKAGES:
        root = _origin(package).parent
        for path in sorted(root.rglob("*.py")):
            if "__pycache__" not in path.parts:
                files[f"{package}/{path.relative_to(root).as_posix()}"] = path.read_bytes()
    for module in MODULES:
        path = _origin(module)
        files[path.name] = path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            archive.writestr(zipfile.ZipInfo(name, _EPOCH), files[name], zipfile.ZIP_DEFLATED)
    data = b"#!/usr/bin/env python3\n" + buffer.getvalue()
    return Artifact(data, hashlib.sha256(data).hexdigest())


_cached: Artifact | None = None
_lock = threading.Lock()


def executor_artifact() -> Artifact:
    """The artifact, built on first use."""
    global _cached
    with _lock:
        if _cached is None:
            _cached = build()
        return _cached
