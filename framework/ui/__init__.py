"""The web dashboard's files (package data): plain ES modules, HTML and CSS, no build step.

``static/index.html`` loads ``app.js`` (the shell: router, API client, the one event stream,
token and confirm dialogs); ``static/views/NAME.js`` are the views it mounts. ``api/ui.py``
serves them at ``/ui/``.
"""
from __future__ import annotations

from pathlib import Path

#: the directory served at ``/ui/``
STATIC_DIR = Path(__file__).resolve().parent / "static"
