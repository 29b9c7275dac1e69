"""The Mesos master over TLS (``--master https://HOST:PORT``, ``--mesos-tls-ca``, ``--mesos-tls-cert``,
``--mesos-tls-key``): the one place that says how Halyard's connections to the master are made
secure. pymesos 0.3.15 opens plain sockets; ``driver.py`` wraps its subscription stream, its calls
and its version probe with :meth:`MasterTls.context`, ``sender.py`` its lanes, and ``master.py``
(requests: master reads and the operator API) passes :meth:`MasterTls.requests_options`.
"""
from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

from ..errors import Problem, ValidationError
from ..tls_files import check_client_files

#: seconds a TLS handshake with the master may take
HANDSHAKE_TIMEOUT = 10.0


@dataclass(frozen=True)
class MasterTls:
    """The CA that verifies the master (None: the system's CAs), and this client's certificate and
    key (both or neither), for a master that requires client certificates."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None

    @classmethod
    def of(cls, master: str, ca: str | None, cert: str | None, key: str | None) -> MasterTls | None:
        """The settings for ``master`` and the three flags (None: plain). TLS when the master is
        given as ``https://`` or with ``--mesos-tls-ca``; a ValidationError names the flag when a
        certificate comes without its key, a file cannot be read, or ``--master`` says ``http://``."""
        if not (master.startswith("https://") or ca or cert or key):
            return None
        if master.startswith("http://"):
            raise ValidationError([Problem("--master", f"{master} is plain HTTP; give https://... with "
                                                       "--mesos-tls-ca/--mesos-tls-cert/--mesos-tls-key")])
        check_client_files("mesos-tls", ca, cert, key)
        tls = cls(ca, cert, key)
        try:
            tls.context()
        except (ssl.SSLError, OSError) as exc:
            raise ValidationError([Problem("--mesos-tls-ca" if ca else "--mesos-tls-cert",
                                           f"cannot be used: {exc}")]) from None
        return tls

    def context(self) -> ssl.SSLContext:
        """A client context verifying the master's certificate and name against :attr:`ca`."""
        context = ssl.create_default_context(cafile=self.ca)
        if self.cert and self.key:
            context.load_cert_chain(self.cert, self.key)
        return context

    def requests_options(self) -> dict[str, Any]:
        """``verify`` and ``cert`` for requests."""
        return {"verify": self.ca or True, "cert": (self.cert, self.key) if self.cert and self.key else None}


def master_url(address: str, tls: MasterTls | None) -> str:
    """``host:port`` or a URL -> the URL to reach it at (``https://`` with TLS)."""
    bare = address.removeprefix("http://").removeprefix("https://").rstrip("/")
    return f"{'https' if tls is not None else 'http'}://{bare}"


def handshake_problem(address: str, exc: BaseException) -> str:
    """A failed handshake said in words: which master, and the certificate problem."""
    reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS handshake with master {address} failed: its certificate was refused ({reason}; {exc})"
    return f"TLS handshake with master {address} failed: {exc}"
