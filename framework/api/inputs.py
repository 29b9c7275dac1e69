"""Reading a request: its JSON body, an app id from its path, an app definition validated."""
from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from ..documents.reader import decode, parse_json
from ..errors import Problem, ValidationError
from ..spec.app import AppSpec, normalize_app_id
from ..spec.marathon_compat import sent_paths
from ..spec.validation import SecretInputs, app_problems, as_sent


@dataclass(frozen=True)
class AppInputs:
    """What the API needs, beyond the definition, to turn an app definition into a spec: the
    scheduler's secret store (source -> value, read on each use; None: it has none) and the
    Mesos role it subscribes with (an app's ``role`` must be it)."""

    secrets: Mapping[str, str] | None = None
    role: str = "*"


def app_inputs(request: Request) -> AppInputs:
    """The :class:`AppInputs` the API was created with (``create_app``)."""
    return getattr(request.app.state, "app_inputs", None) or AppInputs()


async def body_json(request: Request) -> Any:
    """The body as JSON (``null`` when empty); malformed JSON is a 422, and so are what
    :func:`halyard.documents.reader.parse_json` refuses (nesting past 100 levels, NaN and Infinity, numbers
    out of range, lone surrogates, text that is not UTF-8), each with its path. A key given twice:
    the last counts, as Marathon (Jackson) reads it."""
    body = await request.body()
    try:
        return parse_json(decode(body) if body else "null", duplicate_keys=True)
    except ValueError as exc:
        raise ValidationError([Problem("", f"invalid JSON: {exc}")]) from None


def path_id(app_id: str) -> str:
    """An app id from a URL path, normalized; a malformed one is a 422 naming ``id``."""
    try:
        return normalize_app_id(app_id)
    except ValueError as exc:
        raise ValidationError([Problem("id", str(exc))]) from None


def validated_app(raw: Any, inputs: AppInputs = AppInputs(), previous: AppSpec | None = None) -> AppSpec:
    """An app definition as a spec, or a 422 listing every problem.

    Secret references are resolved from ``inputs.secrets``; a masked ``{secret: true}`` keeps the
    value ``previous`` (the stored app, on an update) has under that key.
    """
    previous_env = (previous.to_json().get("env") or {}) if previous is not None else {}
    spec, problems = app_problems(raw, secrets=SecretInputs(inputs.secrets, previous_env))
    if spec is not None and spec.role is not None and spec.role != inputs.role:
        problems = [Problem("role", f"not supported by Halyard: this scheduler runs every task under its "
                                    f"Mesos role {inputs.role!r}, not {spec.role!r}", ("role",))]
    if problems or spec is None:
        raise ValidationError(problems)
    return spec


@contextmanager
def named_as_sent(definition: Any) -> Iterator[None]:
    """Problems the scheduler finds in an app definition it was sent (a service port another app
    uses) named where ``definition``, as sent, has them: ``ports[1]``, not ``portDefinitions[1].port``."""
    try:
        yield
    except ValidationError as exc:
        if not isinstance(definition, Mapping):
            raise
        sent = sent_paths(definition)
        raise ValidationError([as_sent(p, sent) for p in exc.problems], exc.source) from None


def new_id() -> str:
    """A fresh id the API hands out (deployments)."""
    return str(uuid.uuid4())


def asked_by(request: Request) -> dict[str, Any]:
    """Who asked, and where: ``client_ip`` and ``uri`` of a command (Marathon's ``api_post_event``)."""
    return {"client_ip": request.client.host if request.client else None, "uri": request.url.path}
