"""Reading a request: its JSON body, an app id from its path, an app definition validated."""
from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import Request

from ..errors import Problem, ValidationError
from ..model import AppSpec, normalize_app_id
from ..validation import app_problems


async def body_json(request: Request) -> Any:
    """The body as JSON (``null`` when empty); malformed JSON is a 422."""
    try:
        return json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise ValidationError([Problem("", f"invalid JSON: {exc}")]) from None


def path_id(app_id: str) -> str:
    """An app id from a URL path, normalized; a malformed one is a 422 naming ``id``."""
    try:
        return normalize_app_id(app_id)
    except ValueError as exc:
        raise ValidationError([Problem("id", str(exc))]) from None


def validated_app(raw: Any) -> AppSpec:
    """An app definition as a spec, or a 422 listing every problem."""
    spec, problems = app_problems(raw)
    if problems:
        raise ValidationError(problems)
    return spec


def new_id() -> str:
    """A fresh id the API hands out (deployments)."""
    return str(uuid.uuid4())


def asked_by(request: Request) -> dict[str, Any]:
    """Who asked, and where: ``client_ip`` and ``uri`` of a command (Marathon's ``api_post_event``)."""
    return {"client_ip": request.client.host if request.client else None, "uri": request.url.path}
