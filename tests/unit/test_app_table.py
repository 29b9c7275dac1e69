"""The engine's app table notes every write, so discovery looks only at the apps that changed."""
from __future__ import annotations

import pytest

from halyard.engine.app_records import AppRecord
from halyard.engine.app_table import AppTable
from halyard.spec.app import AppSpec


def record(app_id: str) -> AppRecord:
    return AppRecord(spec=AppSpec.model_validate({"id": app_id, "cmd": "sleep 1"}), version=1.0, config_version=1.0)


def test_sets_removals_and_reloads_are_noted_once_each_and_taken_once():
    table = AppTable()
    table["/a"] = record("/a")
    table["/b"] = record("/b")
    assert table.take_changed() == {"/a", "/b"} and table.take_changed() == set()
    del table["/a"]
    assert table.take_changed() == {"/a"}
    table.clear()
    table.update({"/c": record("/c")})
    assert table.take_changed() == {"/b", "/c"} and set(table) == {"/c"}


def test_writes_that_would_go_unnoted_are_refused():
    table = AppTable()
    table["/a"] = record("/a")
    for write in (lambda: table.pop("/a"), lambda: table.setdefault("/b", record("/b")), table.popitem):
        with pytest.raises(TypeError):
            write()
    assert set(table) == {"/a"}
