"""`pip install .` works on this interpreter, pymesos and its http-parser included (setup.py)."""
from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_pip_install_dot_into_a_fresh_venv(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    proc = subprocess.run([str(py), "-m", "pip", "install", "-q", str(ROOT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    check = subprocess.run([str(py), "-c", "import pymesos, http_parser.parser, kazoo, halyard.placement; "
                            "print(http_parser.parser.HttpParser)"], capture_output=True, text=True)
    assert check.returncode == 0 and "HttpParser" in check.stdout, check.stderr
    ui = subprocess.run([str(py), "-c", "from halyard.ui import STATIC_DIR as d; "
                         "print(all((d / f).is_file() for f in ('index.html', 'style.css', 'app.js', 'yaml.js', "
                         "'views/cluster.js', 'views/apps.js', 'views/app.js', 'views/task_states.js')))"],
                        capture_output=True, text=True, cwd=tmp_path)
    assert ui.stdout.strip() == "True", ui.stderr  # the dashboard's files are package data
    version = subprocess.run([str(env_dir / "bin" / "halyard"), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and "0.1.0" in version.stdout
    assert sys.version_info >= (3, 10)
