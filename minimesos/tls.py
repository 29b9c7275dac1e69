"""``minimesos/up --tls``: a local certificate authority and the certificates of every listener.
Standard library only (certificates are made with the ``openssl`` command line).

Everything is in ``.run/tls/`` (keys mode 0600):

* ``ca.pem`` / ``ca.key``: the local CA (10 years), which signs the others;
* ``server.pem`` / ``server.key``: one server certificate for every local listener (ZooKeeper's
  secure port, the registry, ``halyard scheduler --tls-cert``); its
  names (SANs) are ``localhost``, this machine's name and every loopback address the cluster uses
  (``127.0.0.1`` .. ``127.0.0.20``: the agents' hosts); it is good for ``serverAuth`` and
  ``clientAuth``, so a scheduler that forwards to its leader presents it as a client certificate;
* ``client.pem`` / ``client.key``: a client certificate (``CN=halyard``) for ZooKeeper's
  client-certificate authentication and for an API that requires client certificates;
* ``zk-server.pem``: ZooKeeper's key store (``ssl.keyStore.type=PEM``: the key and its chain in one file).
"""
from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

DAYS = 825
LOOPBACK_HOSTS = 20


@dataclass(frozen=True)
class TlsFiles:
    root: Path

    @property
    def ca(self) -> Path:
        return self.root / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.root / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.root / "server.key"

    @property
    def client_cert(self) -> Path:
        return self.root / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.root / "client.key"

    @property
    def zk_keystore(self) -> Path:
        return self.root / "zk-server.pem"

    def env_lines(self) -> list[str]:
        """``cluster.env``'s lines: the CA, the client certificate, and the server's (for a scheduler)."""
        return [f"TLS_CA={self.ca}", f"TLS_CERT={self.client_cert}", f"TLS_KEY={self.client_key}",
                f"TLS_SERVER_CERT={self.server_cert}", f"TLS_SERVER_KEY={self.server_key}"]


def server_names() -> list[str]:
    """The SANs of the server certificate."""
    names = ["DNS:localhost", f"DNS:{socket.gethostname()}"]
    fqdn = socket.getfqdn()
    if fqdn not in ("localhost", socket.gethostname()):
        names.append(f"DNS:{fqdn}")
    return names + [f"IP:127.0.0.{k}" for k in range(1, LOOPBACK_HOSTS + 1)] + ["IP:::1"]


def _openssl(*args: str) -> None:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"openssl {args[0]} failed: {done.stderr.strip()[-500:]}")


def _key(path: Path) -> None:
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(path))
    path.chmod(0o600)


def _sign(files: TlsFiles, key: Path, cert: Path, subject: str, extensions: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        csr, ext = Path(tmp, "req.csr"), Path(tmp, "ext.cnf")
        ext.write_text(extensions)
        _openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(files.ca), "-CAkey", str(files.ca_key),
                 "-CAcreateserial", "-CAserial", str(Path(tmp, "serial")), "-days", str(DAYS), "-sha256",
                 "-extfile", str(ext), "-out", str(cert))


def ensure(run: Path) -> TlsFiles:
    """The CA and the certificates in ``run/tls`` (made once; kept across restarts of the cluster)."""
    files = TlsFiles(run / "tls")
    if files.zk_keystore.exists():
        return files
    files.root.mkdir(parents=True, exist_ok=True)
    os.chmod(files.root, 0o700)
    _key(files.ca_key)
    _openssl("req", "-x509", "-new", "-key", str(files.ca_key), "-sha256", "-days", "3650",
             "-subj", "/CN=minimesos local CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", str(files.ca))
    _key(files.server_key)
    _sign(files, files.server_key, files.server_cert, "/CN=localhost",
          "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
          "extendedKeyUsage=serverAuth,clientAuth\n"
          f"subjectAltName={','.join(server_names())}\n")
    _key(files.client_key)
    _sign(files, files.client_key, files.client_cert, "/CN=halyard",
          "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
          "extendedKeyUsage=clientAuth\n")
    keystore = files.server_key.read_text() + files.server_cert.read_text()
    fd = os.open(files.zk_keystore, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(keystore)
    return files


# The master and the agents stay plain. The PyPI libmesos was built with libprocess' SSL
# (LibeventSSLSocketImpl, LIBPROCESS_SSL_* flags) against OpenSSL 1.0, which Debian 12 does not
# ship: install.py links stubs for libssl/libcrypto 1.0 that abort when called, and the launcher
# refuses LIBPROCESS_SSL_ENABLED. See docs/security.md.
