"""ZooKeeper over TLS (``--zk-tls-ca``, ``--zk-tls-cert``, ``--zk-tls-key``): what kazoo needs to
open a verified TLS connection to a server's ``secureClientPort``, presenting a client
certificate when the server requires one (ZooKeeper's ``ssl.clientAuth``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import Problem, ValidationError
from ..tls_files import check_client_files


@dataclass(frozen=True)
class ZkTls:
    """The CA that verifies the servers, and this client's certificate and key (both or neither)."""

    ca: str
    cert: str | None = None
    key: str | None = None

    @classmethod
    def of(cls, ca: str | None, cert: str | None, key: str | None) -> ZkTls | None:
        """The settings from the three flags (None: plain); a certificate without its key, or a
        client certificate without a CA, is a ValidationError naming the flag."""
        if not (ca or cert or key):
            return None
        if not ca:
            raise ValidationError([Problem("--zk-tls-ca", "needed with --zk-tls-cert/--zk-tls-key (the CA that "
                                                          "verifies ZooKeeper's servers)")])
        check_client_files("zk-tls", ca, cert, key)
        return cls(ca, cert, key)

    def kazoo_options(self) -> dict[str, Any]:
        """KazooClient's TLS keyword arguments (kazoo 2.8+)."""
        return {"use_ssl": True, "verify_certs": True, "ca": self.ca, "certfile": self.cert, "keyfile": self.key}


def kazoo_tls(tls: ZkTls | None) -> dict[str, Any]:
    """KazooClient's keyword arguments for ``tls`` (none for a plain connection)."""
    return tls.kazoo_options() if tls is not None else {}
