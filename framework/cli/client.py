"""A small client of Halyard's HTTP API for the command line (``--api`` / ``HALYARD_API``)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import click
import requests

from ..errors import HalyardError
from .client_tls import ClientTls, explain_dropped, explain_tls, tls_options

DEFAULT_API = "http://127.0.0.1:8080"

_API = click.option("--api", envvar="HALYARD_API", default=DEFAULT_API, show_default=True,
                    help="Halyard's API (or set HALYARD_API)")


def API_OPTION(command: Any) -> Any:  # noqa: N802 - a decorator, named as the option it was
    """``--api``, with ``--ca``/``--cert``/``--key`` for an API over HTTPS."""
    return tls_options(_API(command))


class ApiError(HalyardError):
    """The API refused a request (``status``, with its JSON ``body``) or could not be reached
    (``status`` None); ``client`` is the client that asked (to ask more about the refusal)."""

    def __init__(self, message: str, status: int | None = None, body: Any = None, client: Client | None = None):
        super().__init__(message)
        self.status, self.body, self.client = status, body, client

    @property
    def transient(self) -> bool:
        """Worth asking again: no answer, or no leader right now (a failover)."""
        return self.status is None or self.status in (502, 503, 504)

    @property
    def locked_by(self) -> str | None:
        """The deployment that holds the app a change was refused for (409 with ``deployments``)."""
        if self.status != 409 or not isinstance(self.body, dict):
            return None
        deployments = self.body.get("deployments")
        first = deployments[0] if isinstance(deployments, list) and deployments else None
        found = first.get("id") if isinstance(first, dict) else None
        return found if isinstance(found, str) else None


class Client:
    def __init__(self, base: str, timeout: float = 30.0, token: str | None = None, tls: ClientTls | None = None):
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.token = token if token is not None else os.environ.get("HALYARD_TOKEN")
        self.tls = tls if tls is not None else ClientTls.current()

    @property
    def headers(self) -> dict[str, str]:
        """The bearer token's header, when there is a token."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    @contextmanager
    def events(self, params: dict[str, Any] | None = None, read_timeout: float | None = None
               ) -> Iterator[requests.Response]:
        """The open ``/v2/events`` stream (UTF-8 text; an HTTPError if it was refused)."""
        with requests.get(self.base + "/v2/events", params=params, headers=self.headers, stream=True,
                          timeout=(10, read_timeout), **self.tls.requests_options()) as resp:
            resp.raise_for_status()
            resp.encoding = "utf-8"
            yield resp

    @staticmethod
    def lines(resp: requests.Response) -> Iterator[str]:
        """The lines of a stream :meth:`events` opened, as text (it set the encoding)."""
        return cast(Iterator[str], resp.iter_lines(decode_unicode=True))

    def request(self, method: str, path: str, json: Any = None, ok: tuple[int, ...] = (200, 201, 202, 204),
                raw: bool = False, **params: Any) -> Any:
        """The JSON answer (or, with ``raw``, the text); ApiError for any status not in ``ok``."""
        try:
            resp = requests.request(method, self.base + path, json=json, params=params or None, headers=self.headers,
                                    timeout=self.timeout, **self.tls.requests_options())
        except requests.exceptions.SSLError as exc:
            raise ApiError(explain_tls(exc, self.base, self.tls)) from None
        except requests.ConnectionError as exc:
            dropped = explain_dropped(self.base, self.tls) if _hung_up(exc) else None
            raise ApiError(dropped or f"cannot reach Halyard at {self.base}: {exc}") from None
        except requests.RequestException as exc:
            raise ApiError(f"cannot reach Halyard at {self.base}: {exc}") from None
        if resp.status_code not in ok:
            raise ApiError(_explain(resp), resp.status_code, _json(resp), self)
        if raw:
            return resp.text
        return resp.json() if resp.content and resp.headers.get("content-type", "").startswith("application/json") else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, **params)

    def app(self, app_id: str) -> dict | None:
        try:
            return self.get(f"/v2/apps{app_id}")["app"]
        except ApiError as exc:
            if "does not exist" in str(exc):
                return None
            raise


def _hung_up(exc: requests.ConnectionError) -> bool:
    """The server closed the connection without an answer (not: nothing listens)."""
    text = repr(exc)
    return "RemoteDisconnected" in text or "ConnectionResetError" in text or "Connection aborted" in text


def _json(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _explain(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}: {resp.text[:300]}"
    lines = [f"HTTP {resp.status_code}: {body.get('message', '')}"]
    lines += [f"  {p}" for p in body.get("problems", [])]
    return "\n".join(lines)
