"""A ``requests`` transport that calls an ASGI app in-process, so that clients built on requests
(marathon-python, Halyard's own CLI client) talk to the API with no server and no scheduler.

    session.mount("http://halyard", AsgiAdapter(create_app(backend)))
"""
from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict


class AsgiAdapter(BaseAdapter):
    """Sends each request to ``app`` (one ASGI call, the whole body at once) and builds the
    :class:`requests.Response` from what it sent back. Streams are not supported."""

    def __init__(self, app: Any, client: tuple[str, int] = ("127.0.0.1", 1234)):
        super().__init__()
        self.app, self.client = app, client

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None, verify: Any = True,
             cert: Any = None, proxies: Any = None) -> requests.Response:
        url = urlsplit(request.url or "")
        body = request.body or b""
        payload = body.encode() if isinstance(body, str) else bytes(body)
        headers = [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]
        if not any(k == b"host" for k, _ in headers):
            headers.append((b"host", (url.netloc or "test").encode()))
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": request.method,
                 "scheme": url.scheme or "http", "path": url.path or "/", "raw_path": (url.path or "/").encode(),
                 "root_path": "", "query_string": url.query.encode(), "headers": headers, "client": self.client,
                 "server": (url.hostname or "test", url.port or 80)}
        sent: list[dict] = []
        received = [{"type": "http.request", "body": payload, "more_body": False}]

        async def receive() -> dict:
            return received.pop(0) if received else {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)

        asyncio.run(self.app(scope, receive, send))
        start = next(m for m in sent if m["type"] == "http.response.start")
        response = requests.Response()
        response.status_code = start["status"]
        response.headers = CaseInsensitiveDict({k.decode(): v.decode() for k, v in start.get("headers", [])})
        response._content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        response.reason = ""
        return response

    def close(self) -> None:
        pass


def session_for(app: Any, base: str = "http://halyard") -> requests.Session:
    """A session whose requests to ``base`` go to ``app`` in-process."""
    session = requests.Session()
    session.mount(base, AsgiAdapter(app))
    return session


def route_cli_to(monkeypatch: Any, app: Any, base: str = "http://halyard") -> str:
    """Send the CLI's requests (``halyard.cli.client``) to ``app`` in-process; the ``--api`` to give."""
    import halyard.cli.client

    session = session_for(app, base)
    monkeypatch.setattr(halyard.cli.client.requests, "request", session.request)
    return base
