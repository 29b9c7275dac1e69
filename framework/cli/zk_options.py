"""``--zk-tls-ca``, ``--zk-tls-cert`` and ``--zk-tls-key``: ZooKeeper over TLS, for every command
that opens ``--zk`` (``halyard scheduler``, ``halyard lb``)."""
from __future__ import annotations

from typing import Any

import click


def ZK_TLS_OPTIONS(command: Any) -> Any:  # noqa: N802 - a decorator, named as the options it adds
    """The three options (a file each; all unset: a plain connection)."""
    for name, text in (("key", "this client's key for ZooKeeper (with --zk-tls-cert)"),
                       ("cert", "client certificate for ZooKeeper's TLS port (ssl.clientAuth; with --zk-tls-key)"),
                       ("ca", "connect to ZooKeeper over TLS (its secureClientPort), verifying the servers against "
                              "this CA file")):
        command = click.option(f"--zk-tls-{name}", default=None, metavar="FILE", help=text)(command)
    return command


def zk_tls(ca: str | None, cert: str | None, key: str | None) -> Any:
    """The settings (``store.zk_tls.ZkTls``, or None for plain); a bad combination or an unreadable
    file is a usage error naming the option."""
    from ..errors import ValidationError
    from ..store.zk_tls import ZkTls

    try:
        return ZkTls.of(ca, cert, key)
    except ValidationError as exc:
        problem = exc.problems[0]
        raise click.BadParameter(problem.message, param_hint=problem.path) from None
