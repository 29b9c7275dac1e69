"""The local Docker registry: Debian's ``docker-registry`` (the CNCF distribution registry) on
``127.0.0.1:5000`` (a cluster on another master port P uses P - 50), its storage in the run dir. ``minimesos/up`` starts it after dockerd and pushes
``local/busybox:1`` there as ``127.0.0.1:5000/busybox:1``; ``minimesos/down`` stops it;
``minimesos/registry start|stop|status`` does only that (a running cluster keeps running).

Docker treats loopback registries as insecure by default: the private dockerd pushes and pulls
over plain HTTP without any flag. With ``up --tls`` the registry serves HTTPS with the local CA's
server certificate (dockerd tries HTTPS first for an insecure registry).
"""
from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Optional

from procs import Proc, port_open, wait_for

HOST, PORT = "127.0.0.1", 5000   # the default cluster's (master on 5050)
BINARY = "/usr/bin/docker-registry"
PUSHED = (("local/busybox:1", "busybox:1"),)   # local image -> its name in the registry


def address(port: int = PORT, host: str = HOST) -> str:
    return f"{host}:{port}"

CONFIG = """version: 0.1
log: {{level: warn, fields: {{service: registry}}}}
storage:
  filesystem: {{rootdirectory: {root}}}
  delete: {{enabled: true}}
http: {{addr: "{address}"}}
"""


def config(root: Path, addr: str, tls=None) -> str:
    """The registry's config.yml; with ``tls`` (``tls.TlsFiles``) it serves HTTPS with the server certificate."""
    text = CONFIG.format(root=root, address=addr)
    if tls is None:
        return text
    return text.replace(f'http: {{addr: "{addr}"}}',
                        f'http: {{addr: "{addr}", tls: {{certificate: {tls.server_cert}, key: {tls.server_key}}}}}')


def proc(run: Path) -> Proc:
    """The registry process (its config and storage under ``run/registry``)."""
    return Proc("registry", [BINARY, "serve", str(run / "registry" / "config.yml")], {},
                run / "logs" / "registry.log", run / "pids" / "registry.pid")


def answering(port: int = PORT, host: str = HOST, tls=None) -> bool:
    """The registry answers its API's base endpoint (``GET /v2/`` -> 200); over HTTPS verified
    against the local CA with ``tls`` (``tls.TlsFiles``)."""
    scheme = "https" if tls is not None else "http"
    context = ssl.create_default_context(cafile=str(tls.ca)) if tls is not None else None
    try:
        with urllib.request.urlopen(f"{scheme}://{address(port, host)}/v2/", timeout=2, context=context) as resp:
            return resp.status == 200
    except (OSError, urllib.error.URLError):
        return False


def start(run: Path, docker: Callable[..., object], port: int = PORT, host: str = HOST, tls=None) -> None:
    """Start the registry (if it is not running) and push the local images to it; ``docker``
    runs the docker CLI against the cluster's dockerd. ``host``: the address it listens on
    (loopback; with ``up --hosts`` the bridge's, which every host reaches)."""
    if not Path(BINARY).exists():
        raise SystemExit(f"{BINARY} is missing: apt-get install docker-registry")
    root = run / "registry"
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "config.yml").write_text(config(root / "data", address(port, host), tls))
    p = proc(run)
    if not p.alive():
        if port_open(host, port):
            raise SystemExit(f"something else listens on {address(port, host)}")
        p.start()
    if not wait_for(lambda: answering(port, host, tls), 30):
        raise SystemExit(f"the registry did not come up; see {p.log}")
    for local, name in PUSHED:
        remote = f"{address(port, host)}/{name}"
        docker("tag", local, remote)
        docker("push", remote)


def stop(run: Path) -> None:
    """Stop the registry (its storage is left for the next start)."""
    proc(run).stop(timeout=10)


def env_line(port: int = PORT, host: str = HOST) -> str:
    return f"REGISTRY={address(port, host)}"


def add_env_line(env_file: Path, port: int = PORT, host: str = HOST) -> None:
    """Add ``REGISTRY=...`` to ``cluster.env`` (once)."""
    lines = env_file.read_text().splitlines() if env_file.exists() else []
    lines = [line for line in lines if not line.startswith("REGISTRY=")] + [env_line(port, host)]
    env_file.write_text("\n".join(lines) + "\n")


def status(port: int = PORT, host: str = HOST, tls: Optional[object] = None) -> str:
    return json.dumps({"registry": address(port, host), "answering": answering(port, host, tls),
                       "scheme": "https" if tls is not None else "http"})
