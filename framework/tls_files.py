"""The client certificate flags every TLS connection Halyard opens takes (``--zk-tls-*``,
``--mesos-tls-*``): checked the same way, each problem naming its flag."""
from __future__ import annotations

from .errors import Problem, ValidationError


def check_client_files(prefix: str, ca: str | None, cert: str | None, key: str | None) -> None:
    """Raise a ValidationError naming ``--PREFIX-cert``/``--PREFIX-key`` when one comes without the
    other, or the flag of a file that cannot be read."""
    if bool(cert) != bool(key):
        raise ValidationError([Problem(f"--{prefix}-cert" if key else f"--{prefix}-key",
                                       f"--{prefix}-cert and --{prefix}-key go together")])
    for flag, path in ((f"--{prefix}-ca", ca), (f"--{prefix}-cert", cert), (f"--{prefix}-key", key)):
        if path is not None:
            try:
                with open(path, "rb") as f:
                    f.read(1)
            except OSError as exc:
                raise ValidationError([Problem(flag, f"{path}: {exc.strerror or exc}")]) from None
