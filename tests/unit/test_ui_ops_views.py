"""The Deployments and Jobs views' files: served at /ui/views/, each exports the view contract's
``mount``, and every module they import is there (no build step would catch a missing one)."""
from __future__ import annotations

import re

from halyard.api.server import create_app
from halyard.ui import STATIC_DIR

from .test_api import FakeBackend
from .test_ui_api import get_file

VIEWS = ("views/deployments.js", "views/jobs.js", "views/job.js")
IMPORT = re.compile(r'''^\s*(?:import|export)\b[^;]*?\bfrom\s+"(\./[^"]+)"''', re.M)


def test_the_views_are_served_and_export_mount():
    api = create_app(FakeBackend())
    for name in (*VIEWS, "views/ops_common.js"):
        status, text = get_file(api, "/ui/" + name)
        assert status == 200 and text == (STATIC_DIR / name).read_text(), name
    for name in VIEWS:
        text = (STATIC_DIR / name).read_text()
        assert re.search(r"export (function mount\(|\{ mount \} from)", text), name


def test_every_module_a_view_imports_exists():
    seen = 0
    for name in (*VIEWS, "views/ops_common.js"):
        path = STATIC_DIR / name
        for target in IMPORT.findall(path.read_text()):
            assert (path.parent / target).resolve().is_file(), f"{name} imports {target}"
            seen += 1
    assert seen >= 3
