"""The ServerSet watcher's bookkeeping, driven through a stand-in for kazoo's watch recipes in the
order ZooKeeper may deliver them (the real ZooKeeper runs in tests/integration/test_lb.py)."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Callable

from halyard.store.serverset_format import member_body
from halyard.store.serverset_watch import ServerSetWatcher


class Recipes:
    """Records each DataWatch/ChildrenWatch callback by path; the test calls them as kazoo would."""

    def __init__(self) -> None:
        self.data: dict[str, list[Callable]] = {}
        self.children: dict[str, list[Callable]] = {}

    def DataWatch(self, path: str, func: Callable) -> None:  # noqa: N802 - kazoo's name
        self.data.setdefault(path, []).append(func)

    def ChildrenWatch(self, path: str, func: Callable) -> None:  # noqa: N802 - kazoo's name
        self.children.setdefault(path, []).append(func)


def stat(czxid: int) -> SimpleNamespace:
    return SimpleNamespace(czxid=czxid)


def watcher() -> tuple[Recipes, dict]:
    recipes, seen = Recipes(), {}
    w = ServerSetWatcher(recipes, "/d", lambda app_id, members: seen.__setitem__(app_id, members))
    w.watch({"/a"})
    return recipes, seen


def ports(seen: dict) -> list[int]:
    return sorted(m.service.port for m in seen.get("/a", ()))


def test_a_node_deleted_and_created_again_between_two_reads_is_watched_again():
    """kazoo's ChildrenWatch stops when its node goes; its DataWatch may read only the new node
    (same path, new czxid): the members of the new node must still be followed."""
    recipes, seen = watcher()
    (on_node,) = recipes.data["/d/a"]
    on_node(b"", stat(1))
    (first_children,) = recipes.children["/d/a"]
    first_children(["member_0000000000"])
    recipes.data["/d/a/member_0000000000"][0](member_body("127.0.0.2", 31001, 0), stat(2))
    assert ports(seen) == [31001]
    recipes.data["/d/a/member_0000000000"][0](None, None)  # deleted with its node; the ChildrenWatch stops
    assert ports(seen) == []

    on_node(b"", stat(7))  # the node again, created before the DataWatch read it
    assert len(recipes.children["/d/a"]) == 2
    recipes.children["/d/a"][1](["member_0000000000"])  # names start again in a new node
    recipes.data["/d/a/member_0000000000"][1](member_body("127.0.0.2", 31004, 0), stat(8))
    assert ports(seen) == [31004]


def test_callbacks_of_an_older_node_stop_and_change_nothing():
    recipes, seen = watcher()
    (on_node,) = recipes.data["/d/a"]
    on_node(b"", stat(1))
    old_children = recipes.children["/d/a"][0]
    old_children(["member_0000000000"])
    old_member = recipes.data["/d/a/member_0000000000"][0]
    on_node(b"", stat(5))
    recipes.children["/d/a"][1](["member_0000000000"])
    new_member = recipes.data["/d/a/member_0000000000"][1]
    new_member(member_body("127.0.0.3", 31009, 0), stat(6))
    assert old_member(member_body("127.0.0.2", 31001, 0), stat(2)) is False
    assert old_children([]) is False
    assert ports(seen) == [31009]


def test_a_node_that_goes_drops_its_members_and_the_same_node_reread_changes_nothing():
    recipes, seen = watcher()
    (on_node,) = recipes.data["/d/a"]
    on_node(b"", stat(1))
    on_node(b"x", stat(1))  # data changed: same node, no second ChildrenWatch
    assert len(recipes.children["/d/a"]) == 1
    recipes.children["/d/a"][0](["member_0000000003", "other"])
    recipes.data["/d/a/member_0000000003"][0](member_body("127.0.0.1", 31002, 0), stat(2))
    assert ports(seen) == [31002] and "/d/a/other" not in recipes.data
    on_node(None, None)
    assert ports(seen) == []
