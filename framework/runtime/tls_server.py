"""The API's HTTPS: the server's TLS context (certificate, key, and the CA of the client
certificates it requires), its reload on SIGHUP, and a uvicorn protocol that does the handshake
itself so that a refused one is logged with the peer and the reason.

uvicorn's own ``ssl_*`` settings hand the socket to asyncio's TLS layer, which drops a failed
handshake silently (it logs only in asyncio's debug mode). Here each connection starts plain,
``loop.start_tls`` upgrades it, and only a completed handshake reaches the HTTP protocol: a
refused client never reaches the app, so it gets no answer, makes no audit line and changes
nothing.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from typing import Any

from ..errors import HalyardError

log = logging.getLogger(__name__)

HANDSHAKE_SECONDS = 10.0


class TlsFileError(HalyardError):
    """A certificate, key or CA file that cannot be used (missing, unreadable, or not what it should be)."""


@dataclass(frozen=True)
class ServerTls:
    """``--tls-cert``, ``--tls-key`` and, for client certificates (mTLS), ``--tls-client-ca``."""

    cert: str
    key: str
    client_ca: str | None = None


def _readable(path: str, what: str) -> None:
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as exc:
        raise TlsFileError(f"{what} {path}: {exc.strerror or exc}") from None


def _load_chain(context: ssl.SSLContext, tls: ServerTls) -> None:
    _readable(tls.cert, "--tls-cert")
    _readable(tls.key, "--tls-key")
    try:
        context.load_cert_chain(tls.cert, tls.key)
    except ssl.SSLError as exc:
        what = ("the key does not belong to the certificate" if exc.reason == "KEY_VALUES_MISMATCH"
                else "not a PEM certificate and its key")
        raise TlsFileError(f"--tls-cert {tls.cert} / --tls-key {tls.key}: {what} ({exc.reason or exc})") from None


def server_context(tls: ServerTls) -> ssl.SSLContext:
    """The server's context (TLS 1.2+); with a client CA, a client certificate it signed is required.
    Raises :class:`TlsFileError` naming the file that cannot be used."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_chain(context, tls)
    if tls.client_ca:
        _readable(tls.client_ca, "--tls-client-ca")
        try:
            context.load_verify_locations(cafile=tls.client_ca)
        except ssl.SSLError as exc:
            raise TlsFileError(f"--tls-client-ca {tls.client_ca}: no CA certificate ({exc.reason or exc})") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def reload_chain(context: ssl.SSLContext, tls: ServerTls) -> bool:
    """SIGHUP: read the certificate and key again into the live context (new handshakes use them;
    open connections keep theirs). A bad pair keeps the one in force and is logged."""
    try:
        _load_chain(context, tls)
    except TlsFileError as exc:
        log.error("TLS certificate not reloaded, the previous one stays in force: %s", exc)
        return False
    log.info("TLS certificate reloaded from %s", tls.cert)
    return True


def refusal_reason(exc: BaseException) -> str:
    """Why a handshake failed, in words (the peer's alert, or what was wrong with its certificate)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"client certificate refused: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        known = {"HTTP_REQUEST": "plain HTTP sent to the HTTPS port",
                 "PEER_DID_NOT_RETURN_A_CERTIFICATE": "no client certificate (one is required)",
                 "WRONG_VERSION_NUMBER": "not TLS (or an unsupported version)",
                 "UNSUPPORTED_PROTOCOL": "TLS version below 1.2",
                 "TLSV1_ALERT_UNKNOWN_CA": "the client does not trust this server's CA",
                 "SSLV3_ALERT_BAD_CERTIFICATE": "the client refused this server's certificate",
                 "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "the client refused this server's certificate"}
        return known.get(reason, reason)
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return f"no handshake within {HANDSHAKE_SECONDS:.0f} s"
    return str(exc) or type(exc).__name__


def https_protocol(base: type, context: ssl.SSLContext) -> type:
    """A subclass of uvicorn's HTTP protocol ``base`` that serves over TLS with ``context``."""

    class HttpsProtocol(base):  # uvicorn's protocol class, chosen at run time
        _tls_ready = False

        def connection_made(self, transport: Any) -> None:
            self._early: list[bytes] = []
            transport.pause_reading()  # nothing is read before the handshake takes the socket
            asyncio.get_running_loop().create_task(self._handshake(transport))

        async def _handshake(self, transport: Any) -> None:
            peer = transport.get_extra_info("peername")
            where = f"{peer[0]}:{peer[1]}" if peer else "unknown peer"
            try:
                secured = await asyncio.get_running_loop().start_tls(
                    transport, self, context, server_side=True, ssl_handshake_timeout=HANDSHAKE_SECONDS)
            except (OSError, ssl.SSLError, asyncio.TimeoutError, ConnectionError) as exc:
                log.warning("TLS handshake with %s refused: %s", where, refusal_reason(exc))
                transport.abort()
                return
            if secured is None:  # the peer went away during the handshake
                return
            self._tls_ready = True
            super().connection_made(secured)
            early, self._early = self._early, []
            for data in early:  # what arrived with the handshake's last flight, before start_tls returned
                super().data_received(data)

        def data_received(self, data: bytes) -> None:
            if self._tls_ready:
                super().data_received(data)
            else:
                self._early.append(data)

        def eof_received(self) -> bool | None:
            return super().eof_received() if self._tls_ready else None

        def connection_lost(self, exc: Exception | None) -> None:
            if self._tls_ready:
                super().connection_lost(exc)

    return HttpsProtocol
