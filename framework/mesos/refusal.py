"""Which subscription failures are refusals: answers the master would give to every retry.

A Mesos 1.11 master with ``--authenticate_http_frameworks`` refuses a SUBSCRIBE in one of two ways:

* before the stream starts, with an HTTP status: **401** when the basic credentials are missing,
  name an unknown principal or carry a wrong secret (the master cannot tell these apart), **400**
  when ``FrameworkInfo.principal`` is not the authenticated one, **403** for a principal it cannot
  use. pymesos' IO thread then dies with ``RuntimeError("Failed with HTTP 401: ...")``;
* after ``200 OK``, with an ERROR event and the end of the stream, when the ACLs
  (``register_frameworks``) do not let the principal register in the role: ``"Not authorized to
  register framework ... with roles { web }"``. pymesos hands it to ``Scheduler.error``.

Both become a :class:`~halyard.errors.FrameworkRefusedError` that names the principal. Anything else
(an unreachable master, 503 while it recovers, a stream that ends) is not a refusal: it is retried.
Pure functions of the text pymesos gives, so they are unit tested without a master.
"""
from __future__ import annotations

import re

from ..errors import FrameworkRefusedError

#: pymesos' message for a SUBSCRIBE answered with another status than 200, 307 or 503.
_HTTP_FAILURE = re.compile(r"Failed with HTTP (\d{3}): ?(.*)", re.S)
#: HTTP statuses of a SUBSCRIBE that no retry changes.
REFUSING_STATUSES = frozenset({400, 401, 403})
#: Starts of ERROR event messages by which the master's authorizer refuses a subscription.
_NOT_AUTHORIZED = ("Not authorized to",)


def _who(principal: str | None) -> str:
    return f"framework principal {principal!r}" if principal else "a framework without a principal"


def _detail(body: str) -> str:
    """The master's own words from pymesos' rendering of the body (``b'...'``), if any."""
    text = body.strip()
    match = re.fullmatch(r"b(['\"])(.*)\1( \.\.\.)?", text, re.S)
    if match:
        text = match.group(2).encode().decode("unicode_escape", errors="replace").strip()
    return text


def refusal_from_failure(exc: BaseException, principal: str | None) -> FrameworkRefusedError | None:
    """The refusal that ended pymesos' IO thread with ``exc``, or None if ``exc`` is no refusal."""
    match = _HTTP_FAILURE.match(str(exc))
    if not match or int(match.group(1)) not in REFUSING_STATUSES:
        return None
    status, detail = int(match.group(1)), _detail(match.group(2))
    if status == 401 and principal:
        why = "wrong secret or unknown principal"
    elif status == 401:
        why = "the master requires framework authentication; start the scheduler with --principal and --secret-file"
    elif status == 403:
        why = f"not allowed: {detail}" if detail else "not allowed"
    else:
        why = detail or "the subscription was invalid"
    return FrameworkRefusedError(f"the master refused {_who(principal)}: {why} ({status})", principal, status)


def refusal_from_error_event(message: str, principal: str | None) -> FrameworkRefusedError | None:
    """The refusal an ERROR event on the subscription stream says, or None if it says something else."""
    text = str(message).strip()
    if not text.startswith(_NOT_AUTHORIZED):
        return None
    return FrameworkRefusedError(f"the master refused {_who(principal)}: not allowed by its ACLs ({text})", principal)
