"""Fixtures shared by the unit tests."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Iterator

import pytest

from halyard.api.server import create_app

from .fake_agent import FakeAgent
from .test_api import FakeBackend
from .test_versions import VersionedBackend


@pytest.fixture
def status_server() -> Iterator[int]:
    """A local HTTP server answering each GET with the status code in its path (/102, /204,
    /503, ...); yields its port."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(int(self.path.strip("/")))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def backend() -> FakeBackend:
    """The API's fake backend (``test_api.FakeBackend``: a real engine behind an EngineView)."""
    return FakeBackend()


@pytest.fixture
def api(backend):
    """The API over ``backend``, called in-process with ``test_api.call``."""
    return create_app(backend)


@pytest.fixture
def both():
    """A versioned backend (``test_versions.VersionedBackend``) and the API over it."""
    backend = VersionedBackend()
    return backend, create_app(backend)


@pytest.fixture
def agent(tmp_path) -> Iterator[FakeAgent]:
    """A stand-in Mesos agent for the stand-in executors (``fake_agent.FakeAgent``), closed after."""
    fake = FakeAgent(tmp_path)
    yield fake
    fake.close()
