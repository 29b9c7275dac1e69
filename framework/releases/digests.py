"""Docker image digests from a registry's HTTP API v2: ``HEAD /v2/<name>/manifests/<tag>`` with
the manifest-list, OCI-index and v2 manifest Accept headers; the answer's ``Docker-Content-Digest``
(or, if a registry leaves it out, the sha256 of the manifest ``GET`` returns).

Runs in the scheduler (the one place that must reach the registry). Credentials, when a registry
needs them, come from a Docker ``config.json``-style file (``--registry-credentials``):
``{"auths": {"HOST[:PORT]": {"auth": base64("user:password")}}}`` (or ``username``/``password``);
Basic and Bearer-token (``WWW-Authenticate: Bearer realm=...``) challenges are answered. Loopback
registries are spoken to over plain HTTP (as Docker treats them as insecure), others over HTTPS.
"""
from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from ..errors import Problem, UpstreamError, ValidationError
from .images import ImageRef

ACCEPT = ", ".join([
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
])
IMAGE_PATH = "container.docker.image"


class RegistryUnreachableError(UpstreamError):
    """The registry could not be asked (network, TLS, 5xx): a 502, like an unanswering Mesos master."""


@dataclass(frozen=True)
class Resolved:
    digest: str
    seconds: float   # how long the registry took to answer


def read_credentials(path: str | None) -> dict[str, tuple[str, str]]:
    """``{"auths": {host: {"auth": b64} | {"username", "password"}}}`` -> host -> (user, password)."""
    if not path:
        return {}
    data = json.loads(Path(path).read_text())
    out: dict[str, tuple[str, str]] = {}
    for host, entry in (data.get("auths") or {}).items():
        host = re.sub(r"^https?://", "", host).rstrip("/")
        if "auth" in entry:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        else:
            user, password = entry.get("username", ""), entry.get("password", "")
        out[host] = (user, password)
    return out


def scheme_for(registry: str) -> str:
    """``http`` for loopback registries (insecure by default, as in Docker), ``https`` otherwise."""
    if registry.startswith("["):
        host = registry[1:registry.find("]")]
    else:
        host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
    if host == "localhost":
        return "http"
    try:
        return "http" if ipaddress.ip_address(host).is_loopback else "https"
    except ValueError:
        return "https"


class RegistryResolver:
    """Resolves image tags to digests (see the module docstring)."""

    def __init__(self, credentials: dict[str, tuple[str, str]] | None = None, timeout: float = 10.0,
                 session: requests.Session | None = None):
        self.credentials = credentials or {}
        self.timeout = timeout
        self.session = session or requests.Session()

    def resolve(self, ref: ImageRef) -> Resolved:
        """The digest of ``ref``'s tag. ValidationError (at ``container.docker.image``) when the
        registry does not know it; RegistryUnreachableError when the registry cannot be asked."""
        t0 = time.monotonic()
        url = f"{scheme_for(ref.registry)}://{ref.registry}/v2/{ref.repository}/manifests/{ref.reference}"
        resp = self._request("HEAD", url, ref)
        if resp.status_code == 400 and url.startswith("http://") and self._speaks_https(url, ref):
            # A loopback registry that serves HTTPS (minimesos/up --tls): Docker tries HTTPS first.
            url = "https://" + url.removeprefix("http://")
            resp = self._request("HEAD", url, ref)
        if resp.status_code == 200 and not resp.headers.get("Docker-Content-Digest"):
            resp = self._request("GET", url, ref)
            if resp.status_code == 200:
                return Resolved("sha256:" + hashlib.sha256(resp.content).hexdigest(), time.monotonic() - t0)
        if resp.status_code == 200:
            return Resolved(resp.headers["Docker-Content-Digest"], time.monotonic() - t0)
        if resp.status_code >= 500:
            raise RegistryUnreachableError(f"registry {ref.registry} answered HTTP {resp.status_code} for {ref}")
        raise ValidationError([Problem(IMAGE_PATH, f"{ref}: registry {ref.registry} answered "
                                       f"{self._answer(resp, url, ref)}")])

    def _speaks_https(self, url: str, ref: ImageRef) -> bool:
        """Whether a plain request's 400 is an HTTPS server's answer to plain HTTP (Go's TLS server
        says so in the body; a HEAD has none, so the GET is asked)."""
        return "HTTP request to an HTTPS server" in self._request("GET", url, ref).text

    def _answer(self, resp: requests.Response, url: str, ref: ImageRef) -> str:
        """The registry's answer in words: the status and its error codes (a HEAD has no body: GET it)."""
        text = f"HTTP {resp.status_code}"
        if resp.request.method == "HEAD":
            try:
                resp = self._request("GET", url, ref)
            except RegistryUnreachableError:
                return text
        try:
            errors = resp.json().get("errors") or []
        except ValueError:
            errors = []
        details = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict))
        return f"{text} ({details})" if details else text

    def _request(self, method: str, url: str, ref: ImageRef) -> requests.Response:
        headers = {"Accept": ACCEPT}
        try:
            resp = self.session.request(method, url, headers=headers, timeout=self.timeout)
            if resp.status_code == 401:
                auth = self._authorization(resp.headers.get("WWW-Authenticate", ""), ref)
                if auth:
                    resp = self.session.request(method, url, headers={**headers, "Authorization": auth},
                                                timeout=self.timeout)
        except requests.RequestException as exc:
            raise RegistryUnreachableError(f"cannot reach registry {ref.registry} for {ref}: {exc}") from None
        return resp

    def _authorization(self, challenge: str, ref: ImageRef) -> str | None:
        """The Authorization header answering a 401's challenge (None: nothing to answer with)."""
        creds = self.credentials.get(ref.registry)
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            return "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode() if creds else None
        if scheme.lower() != "bearer":
            return None
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        realm = fields.pop("realm", None)
        if not realm:
            return None
        fields.setdefault("scope", f"repository:{ref.repository}:pull")
        resp = self.session.get(realm, params=fields, auth=creds, timeout=self.timeout)
        if resp.status_code != 200:
            return None
        body = resp.json()
        token = body.get("token") or body.get("access_token")
        return f"Bearer {token}" if token else None
