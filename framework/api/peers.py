"""How a standby reaches its leader: over HTTPS (verified against a CA, presenting this
scheduler's own certificate when the leader requires client certificates) when the schedulers
serve HTTPS, else plain HTTP. Every scheduler of one ``--zk`` serves the same way."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Peers:
    """``verify``: the CA file that verifies the leader (True: the system's); ``cert``: the
    certificate and key presented to it."""

    https: bool = False
    verify: str | bool = True
    cert: tuple[str, str] | None = None

    def url(self, address: str, path: str) -> str:
        """The leader's URL for ``path`` (``address`` is its HOST:PORT)."""
        return f"{'https' if self.https else 'http'}://{address}{path}"

    def requests_options(self) -> dict[str, Any]:
        """What ``requests`` needs to reach a peer."""
        return {"verify": self.verify, "cert": self.cert} if self.https else {}
