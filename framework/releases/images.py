"""Docker image references (``[registry/]repository[:tag][@digest]``) and content checksums on
fetch URIs. Pure: parsing and formatting only (the registry is asked in ``digests.py``)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

DOCKER_HUB = "registry-1.docker.io"
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference. ``registry`` is the host[:port] to ask (Docker Hub's API host for
    names without one); ``name`` is the repository as written (for the app definition)."""

    registry: str
    repository: str        # as the registry's API names it (``library/busybox`` on Docker Hub)
    name: str              # as written, without tag or digest (``busybox``, ``127.0.0.1:5000/busybox``)
    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What to ask the registry for: the digest if there is one, else the tag (``latest`` by default)."""
        return self.digest or self.tag or "latest"

    def pinned(self, digest: str) -> str:
        """``name@digest``: the image as it runs once pinned."""
        return f"{self.name}@{digest}"

    def __str__(self) -> str:
        return self.name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


def is_digest(text: str) -> bool:
    """``sha256:<64 hex>``."""
    return bool(DIGEST.match(text))


def parse_image(image: str) -> ImageRef:
    """Parse a Docker image reference as Docker does (the first component is a registry when it
    has a '.' or ':' or is ``localhost``)."""
    name, _, digest = image.partition("@")
    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = DOCKER_HUB, name if "/" in name else f"library/{name}"
    return ImageRef(registry, repository, name, tag or None, digest or None)


def with_version(image: str, version: str) -> str:
    """The image with its tag set to ``version``; a ``version`` that is a digest pins the image instead."""
    ref = parse_image(image)
    return ref.pinned(version) if is_digest(version) else f"{ref.name}:{version}"


def short_digest(digest: str | None) -> str:
    """``sha256:0123456789ab`` (12 hex digits), or ``-``."""
    if not digest:
        return "-"
    algo, _, hexa = digest.partition(":")
    return f"{algo}:{hexa[:12]}"


def uri_checksum(uri: str) -> str | None:
    """The sha256 a fetch URI carries (``...?sha256=HEX`` or ``...#sha256:HEX``), lower case, or None."""
    parsed = urlparse(uri)
    if parsed.fragment.startswith("sha256:"):
        value = parsed.fragment[len("sha256:"):].lower()
        return value if SHA256.match(value) else None
    values = parse_qs(parsed.query).get("sha256")
    if values and SHA256.match(values[0].lower()):
        return values[0].lower()
    return None


def uri_checksum_problem(uri: str) -> str | None:
    """Why a checksum on a fetch URI is malformed (None when it has none or a valid one)."""
    parsed = urlparse(uri)
    if parsed.fragment.startswith("sha256:") or "sha256" in parse_qs(parsed.query):
        if uri_checksum(uri) is None:
            return "sha256 must be 64 hexadecimal digits"
    return None
