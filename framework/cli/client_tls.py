"""The command line's TLS to Halyard's API: ``--ca``/``--cert``/``--key`` (or ``HALYARD_CA``,
``HALYARD_CERT``, ``HALYARD_KEY``), and a refused handshake said in words: which certificate
failed (the server's, or this client's) and why."""
from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from typing import Any

import click
import requests

TLS_KEY = "halyard.client_tls"


@dataclass(frozen=True)
class ClientTls:
    """The CA that verifies the API's certificate (None: the system's), and the client
    certificate and key presented when the API requires one (mTLS)."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None

    @classmethod
    def from_env(cls) -> ClientTls:
        return cls(os.environ.get("HALYARD_CA") or None, os.environ.get("HALYARD_CERT") or None,
                   os.environ.get("HALYARD_KEY") or None)

    @classmethod
    def current(cls) -> ClientTls:
        """The command's ``--ca``/``--cert``/``--key`` (they default to the environment)."""
        ctx = click.get_current_context(silent=True)
        found = ctx.meta.get(TLS_KEY) if ctx is not None else None
        return found if isinstance(found, ClientTls) else cls.from_env()

    def requests_options(self) -> dict[str, Any]:
        """``verify`` and ``cert`` for requests (they matter only for https:// URLs)."""
        cert = (self.cert, self.key) if self.cert and self.key else self.cert
        return {"verify": self.ca or True, "cert": cert}


def _store(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    tls = ctx.meta.get(TLS_KEY, ClientTls())
    ctx.meta[TLS_KEY] = ClientTls(**{**tls.__dict__, str(param.name): value})
    return value


def _checked(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not os.path.isfile(value):
        raise click.BadParameter(f"{value}: no such file", ctx=ctx, param=param)
    return _store(ctx, param, value)


def tls_options(command: Any) -> Any:
    """``--ca``, ``--cert`` and ``--key`` (from the environment when not given)."""
    for name, env, text in (("key", "HALYARD_KEY", "the client certificate's key (or set HALYARD_KEY)"),
                            ("cert", "HALYARD_CERT", "client certificate, for an API that requires one "
                                                     "(or set HALYARD_CERT)"),
                            ("ca", "HALYARD_CA", "CA file that verifies the API's HTTPS certificate "
                                                 "(or set HALYARD_CA; default: the system's)")):
        command = click.option(f"--{name}", envvar=env, default=None, expose_value=False, is_eager=True, metavar="FILE",
                               callback=_checked, help=text)(command)
    return command


def explain_tls(exc: requests.exceptions.SSLError, url: str, tls: ClientTls) -> str:
    """Which certificate a failed handshake refused, and why."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ssl.SSLError):
        cause = cause.__context__ or cause.__cause__ or (cause.args[0] if cause.args and
                                                          isinstance(cause.args[0], BaseException) else None)
    trust = f"the CA in {tls.ca}" if tls.ca else "the system's CAs"
    if isinstance(cause, ssl.SSLCertVerificationError):
        return (f"TLS handshake with {url} failed: the server's certificate was refused: "
                f"{cause.verify_message} (verified against {trust}; --ca or HALYARD_CA)")
    reason = getattr(cause, "reason", None) or str(exc)
    if reason in ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_HANDSHAKE_FAILURE") and not tls.cert:
        return (f"TLS handshake with {url} failed: the server requires a client certificate and none was given "
                f"(--cert/--key or HALYARD_CERT/HALYARD_KEY)")
    if reason in ("TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_BAD_CERTIFICATE", "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
                  "TLSV13_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_CERTIFICATE_EXPIRED", "TLSV1_ALERT_DECRYPT_ERROR"):
        return f"TLS handshake with {url} failed: the server refused this client's certificate {tls.cert}: {reason}"
    if reason == "WRONG_VERSION_NUMBER":
        return f"TLS handshake with {url} failed: the server does not speak TLS there (try http://)"
    return f"TLS handshake with {url} failed: {reason}"


def explain_dropped(url: str, tls: ClientTls) -> str | None:
    """An HTTPS server that hangs up right after the handshake (TLS 1.3 checks the client's
    certificate last, and the refusal may reach the client only as a closed connection): the
    likely reason, or None for a plain URL."""
    if not url.startswith("https://"):
        return None
    if not tls.cert:
        return (f"TLS handshake with {url} failed: the server closed the connection; it requires a client "
                f"certificate and none was given (--cert/--key or HALYARD_CERT/HALYARD_KEY)")
    return (f"TLS handshake with {url} failed: the server closed the connection; it refused this client's "
            f"certificate {tls.cert} (not signed by a CA it trusts, expired, or not for client use)")
