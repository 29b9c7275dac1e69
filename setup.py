"""Build hook: everything declarative lives in setup.cfg; this adds one computed dependency.

pymesos depends on http-parser 0.9.0, whose published C file does not compile on CPython >= 3.11.
On those interpreters the build makes a working wheel first (build-support/http-parser-wheel.sh:
parser.c regenerated from the sdist's parser.pyx with Cython 3, cached per interpreter under
``$XDG_CACHE_HOME/halyard/wheels``) and requires http-parser from that file, so pip never tries
to compile the broken sdist. ``pip install .`` then works on a fresh machine.
"""
import configparser
import os
import subprocess
import sys
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent


def _declared() -> list:
    cfg = configparser.ConfigParser()
    cfg.read(HERE / "setup.cfg")
    lines = cfg.get("options", "install_requires").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def _http_parser_wheel() -> Path:
    wheelhouse = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "halyard" / "wheels"
    subprocess.run(["bash", str(HERE / "build-support" / "http-parser-wheel.sh")], check=True,
                   env={**os.environ, "PYTHON": sys.executable, "WHEELHOUSE": str(wheelhouse)},
                   stdout=sys.stderr)
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    return sorted(wheelhouse.glob(f"http_parser-0.9.0-{tag}-*.whl"))[-1]


requires = _declared()
if sys.version_info >= (3, 11):
    requires = [r for r in requires if not r.startswith("http-parser")]
    requires.append(f"http-parser @ {_http_parser_wheel().as_uri()}")
setup(install_requires=requires)
