"""Deployments of several apps (groups, PUT /v2/apps with a list): steps ordered by dependencies,
later steps held until the earlier ones are deployed, failing and cancelling as a whole."""
from __future__ import annotations

import pytest

from halyard.engine.deployment_plans import dependency_layers, resolve
from halyard.engine.messages import CancelDeployment, ChangeApps, Launch, Offers, PutApp, StatusUpdate, Subscribed, Tick
from halyard.engine.view import EngineView
from halyard.errors import ConflictError, NotFoundError, ValidationError
from halyard.spec.validation import parse_app

from .test_engine import make_engine, offer, status


def spec(app_id, instances=1, **extra):
    return parse_app({"id": app_id, "cmd": "serve", "cpus": 0.1, "mem": 16, "instances": instances, **extra})


@pytest.mark.parametrize("dependency, app_id, expect", [
    ("/db", "/prod/web", "/db"), ("db", "/prod/web", "/prod/db"), ("../shared/db", "/prod/web", "/shared/db"),
    ("./cache", "/prod/web", "/prod/cache"), ("db", "/web", "/db")])
def test_dependencies_are_read_as_marathon_reads_them(dependency, app_id, expect):
    assert resolve(dependency, app_id) == expect


def test_layers_follow_the_longest_chain_of_dependencies_and_groups_mean_their_apps():
    targets = {s.id: s for s in (spec("/p/db"), spec("/p/cache"), spec("/p/api", dependencies=["db", "cache"]),
                                 spec("/p/web", dependencies=["api"]), spec("/p/batch", dependencies=["/p/db"]),
                                 spec("/ui", dependencies=["/p"]))}
    assert dependency_layers(targets, list(targets)) == [["/p/cache", "/p/db"], ["/p/api", "/p/batch"], ["/p/web"],
                                                         ["/ui"]]
    assert dependency_layers(targets, ["/ui", "/p/db"]) == [["/p/db"], ["/ui"]]  # only the affected ones
    assert dependency_layers({"/a": spec("/a", dependencies=["/nothing"])}, ["/a"]) == [["/a"]]


def test_a_cycle_is_refused_and_changes_nothing():
    engine, _ = make_engine()
    with pytest.raises(ValidationError) as refused:
        engine.handle(ChangeApps((spec("/a", dependencies=["/b"]), spec("/b", dependencies=["/a"]))))
    assert str(refused.value.problems[0]) == "dependencies: cyclic dependencies: /a -> /b -> /a"
    assert engine.apps == {}
    engine.handle(PutApp(spec("/a", dependencies=["/b"])))
    with pytest.raises(ValidationError):
        engine.handle(PutApp(spec("/b", dependencies=["/a"])))  # one app closing a cycle, too


def launched(out):
    return [t.task_id for i in out if isinstance(i, Launch) for t in i.tasks]


def run(engine, clock, task_ids):
    for task_id in task_ids:
        clock.now += 0.1
        engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent=engine.tasks[task_id].agent_id,
                                          uuid=f"run-{task_id}")))


def test_an_app_starts_only_after_the_apps_it_depends_on_are_deployed():
    engine, clock = make_engine()
    engine.handle(Subscribed("F1"))
    out = engine.handle(ChangeApps((spec("/g/web", 2, dependencies=["db"]), spec("/g/db")), deployment_id="P1"))
    records = out[0].deployments
    assert sorted((d.app_id, d.id, d.step, d.held) for d in records) == [
        ("/g/db", "P1", 0, False), ("/g/web", "P1", 1, True)]
    assert set(engine.apps) == {"/g/db", "/g/web"}  # both defined at once, as in Marathon
    assert engine.pending(engine.apps["/g/web"]) == 0
    first = launched(engine.handle(Offers((offer(1), offer(2)))))
    assert {engine.tasks[t].app_id for t in first} == {"/g/db"}  # web waits for db
    run(engine, clock, first)
    assert engine.deployment_of("/g/db") is None and not engine.deployment_of("/g/web").held
    second = launched(engine.handle(Offers((offer(1), offer(2)))))
    assert sorted(engine.tasks[t].app_id for t in second) == ["/g/web", "/g/web"]
    run(engine, clock, second)
    assert engine.deployments == {}
    assert [(d.app_id, d.status) for d in engine.deployment_book.plan("P1")] == [
        ("/g/db", "succeeded"), ("/g/web", "succeeded")]


def test_removed_apps_stop_first_and_an_unchanged_app_is_not_part_of_the_deployment():
    engine, _ = make_engine()
    engine.handle(ChangeApps((spec("/g/a"), spec("/g/old")), deployment_id="P0", force=True))
    engine.handle(CancelDeployment("P0", force=True))
    out = engine.handle(ChangeApps((spec("/g/a"), spec("/g/b")), deletes=("/g/old",), deployment_id="P1"))
    last = {d.key: d for d in out[0].deployments}  # written in order: the last write of each record wins
    assert sorted((d.app_id, d.kind, d.step, d.status) for d in last.values()) == [
        ("/g/b", "start", 1, "running"), ("/g/old", "stop", 0, "succeeded")]
    # /g/old had no tasks: removed at once, which released /g/b (first written held, then not)
    assert [d.held for d in out[0].deployments if d.app_id == "/g/b"] == [True, False]
    assert "/g/old" not in engine.apps and not engine.deployment_of("/g/b").held


def test_a_change_of_one_app_is_an_ordinary_deployment_and_nothing_to_do_is_no_deployment():
    engine, _ = make_engine()
    out = engine.handle(ChangeApps((spec("/a"),), deployment_id="P1"))
    assert [(d.id, d.key, d.step) for d in out[0].deployments] == [("P1", "P1", None)]
    engine.handle(CancelDeployment("P1", force=True))
    assert engine.handle(ChangeApps((spec("/a"),), deployment_id="P2")) == []


def test_every_id_and_conflict_is_checked_before_anything_changes():
    engine, _ = make_engine()
    engine.handle(PutApp(spec("/busy"), deployment_id="D0"))
    with pytest.raises(ConflictError):
        engine.handle(ChangeApps((spec("/new"), spec("/busy", 2))))
    with pytest.raises(NotFoundError):
        engine.handle(ChangeApps((spec("/new"),), deletes=("/nope",)))
    with pytest.raises(ValidationError):
        engine.handle(ChangeApps((spec("/x"), spec("/x", 2))))
    assert set(engine.apps) == {"/busy"}


def test_one_app_failing_fails_the_deployment_and_puts_every_app_back():
    engine, clock = make_engine(deployment_failures=1)
    engine.handle(Subscribed("F1"))
    engine.handle(PutApp(spec("/g/web", 1, env={"V": "1"}), deployment_id="D0"))
    run(engine, clock, launched(engine.handle(Offers((offer(1),)))))
    assert engine.deployments == {}
    before = engine.apps["/g/web"]
    engine.handle(ChangeApps((spec("/g/db"), spec("/g/web", 1, env={"V": "2"}, dependencies=["db"])),
                             deployment_id="P1"))
    db_task = launched(engine.handle(Offers((offer(2),))))[0]
    clock.now += 1
    engine.handle(StatusUpdate(status(db_task, "TASK_FAILED", agent=engine.tasks[db_task].agent_id, uuid="f")))
    assert [(d.app_id, d.status) for d in engine.deployment_book.plan("P1")] == [
        ("/g/db", "failed"), ("/g/web", "failed")]
    web = engine.apps["/g/web"]
    assert web.spec.env == {"V": "1"} and web.config_version == before.config_version  # held: untouched
    assert "/g/db" not in engine.apps or engine.apps["/g/db"].deleting  # new: removed


def test_cancelling_a_deployment_of_several_apps_by_its_id():
    engine, _ = make_engine()
    engine.handle(ChangeApps((spec("/a"), spec("/b", dependencies=["/a"])), deployment_id="P1"))
    with pytest.raises(NotFoundError):
        engine.handle(CancelDeployment("P1:/a"))
    engine.handle(CancelDeployment("P1", rollback_id="R1"))
    assert engine.deployment_book.running_of("P1") == []
    assert {d.app_id for d in engine.deployments.values()} <= {"/a"}  # /a's rollback (removal), if any


def test_a_step_that_never_ends_times_out_and_fails_the_deployment_while_held_apps_wait_without_a_clock():
    engine, clock = make_engine(deployment_timeout=60)
    engine.handle(Subscribed("F1"))
    engine.handle(ChangeApps((spec("/a"), spec("/b", dependencies=["/a"])), deployment_id="P1"))
    clock.now += 30
    engine.handle(Tick())
    assert engine.deployment_of("/b").held  # waiting for /a: no timeout of its own meanwhile
    clock.now += 31
    engine.handle(Tick())  # /a found no offer for 61 s: the whole deployment fails
    assert [(d.app_id, d.status) for d in engine.deployment_book.plan("P1")] == [("/a", "failed"), ("/b", "failed")]
    assert engine.deployment_book.plan("P1")[0].failures == ("not done after 60s",)


# --- what a dry run promises is what the engine then does ------------------------------------------

def engine_with(*specs):
    """An engine holding ``specs``, with no deployment under way."""
    engine, _ = make_engine()
    if specs:
        engine.handle(ChangeApps(specs, deployment_id="P0", force=True))
        engine.handle(CancelDeployment("P0", force=True))
    return engine


def promised_and_done(engine, puts, deletes=()):
    """The steps the view promises for a change, and those of the deployment the engine then made
    (app id and kind by step; a deployment of one app is its step 0)."""
    promised = [[(a.app_id, a.kind) for a in step] for step in EngineView(engine).deployment_steps(puts, deletes)]
    out = engine.handle(ChangeApps(puts, deletes, deployment_id="P1", force=True))
    steps = {}
    for record in (engine.deployment_book.plan("P1") if out else []):
        steps.setdefault(record.step or 0, []).append((record.app_id, record.kind))
    return promised, [sorted(steps[n]) for n in sorted(steps)]


@pytest.mark.parametrize("before, puts, deletes, expected", [
    pytest.param((), (spec("/g/db"), spec("/g/cache"), spec("/g/web", dependencies=["db"]),
                      spec("/g/api", dependencies=["web", "cache"])), (),
                 [[("/g/cache", "start"), ("/g/db", "start")], [("/g/web", "start")], [("/g/api", "start")]],
                 id="dependencies"),
    pytest.param((spec("/g/a"), spec("/g/b"), spec("/g/old")),
                 (spec("/g/a"), spec("/g/b", env={"V": "2"}), spec("/g/new", dependencies=["b"])), ("/g/old",),
                 [[("/g/old", "stop")], [("/g/b", "deploy")], [("/g/new", "start")]], id="removals first"),
    pytest.param((spec("/g/a"), spec("/g/b")), (spec("/g/a", 3), spec("/g/b")), (), [[("/g/a", "scale")]],
                 id="scale only"),
    pytest.param((spec("/g/db"),), (spec("/g/db"), spec("/g/web", dependencies=["/g/db"])), (),
                 [[("/g/web", "start")]], id="on an app left as it is"),
    pytest.param((spec("/g/a"), spec("/g/b")), (spec("/g/a"), spec("/g/b")), (), [], id="nothing to do"),
    pytest.param((spec("/g/a"), spec("/g/b")), (), ("/g/a", "/g/b"), [[("/g/a", "stop"), ("/g/b", "stop")]],
                 id="a group removed"),
])
def test_the_dry_run_s_steps_are_the_deployment_the_engine_makes(before, puts, deletes, expected):
    promised, done = promised_and_done(engine_with(*before), puts, deletes)
    assert promised == done == expected


@pytest.mark.parametrize("before, puts, refusal", [
    ((), (spec("/a", dependencies=["/b"]), spec("/b", dependencies=["/a"])), ValidationError),
    ((spec("/a", dependencies=["/b"]),), (spec("/b", dependencies=["/a"]), spec("/c")), ValidationError),
    ((), (spec("/x"), spec("/x", 2)), ValidationError),
])
def test_a_change_the_engine_refuses_is_refused_by_the_dry_run_the_same_way(before, puts, refusal):
    engine = engine_with(*before)
    with pytest.raises(refusal) as promised:
        EngineView(engine).deployment_steps(puts)
    with pytest.raises(refusal) as done:
        engine.handle(ChangeApps(puts, force=True))
    assert [str(p) for p in promised.value.problems] == [str(p) for p in done.value.problems]


def test_a_dry_run_does_not_promise_a_change_of_an_app_being_deleted():
    engine, clock = make_engine()
    engine.handle(Subscribed("F1"))
    engine.handle(PutApp(spec("/g/a"), deployment_id="D0"))
    run(engine, clock, launched(engine.handle(Offers((offer(1),)))))
    engine.handle(ChangeApps((), ("/g/a",), deployment_id="P2"))
    assert engine.apps["/g/a"].deleting  # until its task is gone
    with pytest.raises(ConflictError) as promised:
        EngineView(engine).deployment_steps((spec("/g/a", 2),))
    with pytest.raises(ConflictError) as done:
        engine.handle(ChangeApps((spec("/g/a", 2),), force=True))
    assert str(promised.value) == str(done.value) == "App '/g/a' is being deleted"
