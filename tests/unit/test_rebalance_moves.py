"""Running rebalance moves (engine/rebalance_moves.py): events in, instructions out."""
from __future__ import annotations

from halyard.engine.messages import CancelDeployment, Kill, Launch, Offers, Persist, Revive, StartRebalance, StatusUpdate, Tick
from halyard.rebalance.planner import Move

from .test_engine import offer, status
from .test_rolling_upgrade import checked_app, healthy_app, serving, update


def _move(engine, task_id, to=3):
    task = engine.tasks[task_id]
    return Move("/web", task_id, task.agent_id, task.hostname, f"S{to}", f"127.0.0.{to}", "test", "spread", 2, 0)


def _setup(**strategy):
    engine, clock, old = healthy_app(checked_app(**strategy))
    victim = sorted(old)[0]
    return engine, clock, old, victim


def test_a_move_starts_the_new_instance_on_the_target_then_kills_the_old_once_it_is_healthy():
    engine, clock, old, victim = _setup()
    out = engine.handle(StartRebalance((("/web", "R1", (_move(engine, victim),)),)))
    assert engine.deployment_of("/web").kind == "rebalance"
    assert any(isinstance(i, Revive) for i in out)  # the target's decline filters cleared
    out = engine.handle(Offers((offer(1), offer(2), offer(3))))
    launches = [i for i in out if isinstance(i, Launch)]
    assert [(i.agent_id, len(i.tasks)) for i in launches] == [("S3", 1)]  # pinned to the target, nothing else
    new = launches[0].tasks[0].task_id
    assert update(engine, new, "TASK_RUNNING") == []  # not healthy yet: nothing killed
    clock.now += 30
    assert not [i for i in engine.handle(Tick()) if isinstance(i, Kill)]
    assert serving(engine) == 3
    assert update(engine, new, "TASK_RUNNING", healthy=True) == [victim]
    assert serving(engine) == 3 and engine.deployment_of("/web") is not None
    update(engine, victim, "TASK_KILLED")
    engine.handle(Tick())
    assert engine.deployment_of("/web") is None
    ended = engine.deployment_book.ended("R1")
    assert ended.status == "succeeded" and ended.moves[0].startswith(f"moved {victim}")
    live = [t for t in engine.tasks.values() if t.live]
    assert len(live) == 3 and engine.tasks[new].agent_id == "S3"


def test_a_target_that_no_longer_fits_drops_the_move_with_the_reason():
    engine, clock, old, victim = _setup()
    engine.handle(StartRebalance((("/web", "R1", (_move(engine, victim),)),)))
    out = engine.handle(Offers((offer(3, cpus=0.1),)))
    assert not [i for i in out if isinstance(i, Launch)]
    engine.handle(Tick())
    ended = engine.deployment_book.ended("R1")
    assert ended.status == "succeeded" and "127.0.0.3 no longer fits" in ended.moves[0]
    assert victim in engine.tasks and engine.tasks[victim].live


def test_cancelling_stops_the_moves_and_the_extra_instance_goes():
    engine, clock, old, victim = _setup()
    moves = (_move(engine, victim), _move(engine, sorted(old)[1]))
    engine.handle(StartRebalance((("/web", "R1", moves),)))
    out = engine.handle(Offers((offer(3),)))
    new = [t.task_id for i in out if isinstance(i, Launch) for t in i.tasks][0]
    update(engine, new, "TASK_RUNNING")
    out = engine.handle(CancelDeployment("R1"))
    assert engine.deployment_book.ended("R1").status == "cancelled"
    killed = [i.task_id for i in out if isinstance(i, Kill)]
    assert killed == [new]  # the surplus is the youngest; the old ones stay
    assert all(engine.tasks[t].live for t in old)


def test_without_room_above_instances_the_old_one_stops_first_and_the_floor_holds():
    engine, clock, old, victim = _setup(mhc=0.5, moc=0.0)
    out = engine.handle(StartRebalance((("/web", "R1", (_move(engine, victim),)),)))
    assert [i.task_id for i in out if isinstance(i, Kill)] == [victim]
    assert not [i for i in engine.handle(Offers((offer(1), offer(2), offer(3)))) if isinstance(i, Launch)]
    update(engine, victim, "TASK_KILLED")
    out = engine.handle(Offers((offer(1), offer(2), offer(3))))
    launches = [i for i in out if isinstance(i, Launch)]
    assert [(i.agent_id, len(i.tasks)) for i in launches] == [("S3", 1)]
    new = launches[0].tasks[0].task_id
    update(engine, new, "TASK_RUNNING", healthy=True)
    engine.handle(Tick())
    assert engine.deployment_book.ended("R1").status == "succeeded"


def test_a_failed_new_instance_fails_the_deployment_and_the_old_stays():
    engine, clock, old, victim = _setup()
    engine.handle(StartRebalance((("/web", "R1", (_move(engine, victim),)),)))
    new = [t.task_id for i in engine.handle(Offers((offer(3),))) if isinstance(i, Launch) for t in i.tasks][0]
    engine.handle(StatusUpdate(status(new, "TASK_FAILED", agent="S3", uuid="f1")))
    engine.handle(Tick())
    ended = engine.deployment_book.ended("R1")
    assert ended.status == "failed" and ended.moves[0].startswith("failed")
    assert engine.tasks[victim].live


def test_the_old_instance_is_withdrawn_then_drained_before_its_kill():
    from halyard.engine.members import Announce, Withdraw

    from .test_discovery import CHECK, found, started, web
    from .test_discovery import update as discovery_update

    engine, clock = started(web(2, healthChecks=[CHECK], drainSeconds=5))
    victim = sorted(engine.tasks)[0]
    engine.handle(StartRebalance((("/web", "R1", (_move(engine, victim),)),)))
    new = [t.task_id for i in engine.handle(Offers((offer(3),))) if isinstance(i, Launch) for t in i.tasks][0]
    discovery_update(engine, new, "TASK_RUNNING")
    out = discovery_update(engine, new, "TASK_RUNNING", healthy=True)
    assert [a.member.task_id for a in found(out, Announce)] == [new]  # the new member first...
    assert [w.member.task_id for w in found(out, Withdraw)] == [victim]  # ...then the old one's withdrawn
    assert found(out, Kill) == []  # and drained before its kill
    clock.now += 3
    assert found(engine.handle(Tick()), Kill) == []
    clock.now += 2.5
    assert [k.task_id for k in found(engine.handle(Tick()), Kill)] == [victim]
    discovery_update(engine, victim, "TASK_KILLED")
    assert engine.deployment_book.ended("R1").status == "succeeded"


def test_a_new_leader_ends_a_rebalance_it_did_not_start_as_failed_with_the_reason():
    from halyard.engine.app_records import Snapshot

    from .test_engine import make_engine

    engine, clock, old, victim = _setup()
    engine.handle(StartRebalance((("/web", "R1", (_move(engine, victim),)),)))
    snapshot = Snapshot(framework_id="F1", apps=dict(engine.apps), tasks=dict(engine.tasks),
                        deployments={d.key: d for d in engine.deployments.values()})
    successor, _ = make_engine()
    successor.load(snapshot)
    out = successor.handle(Tick())
    ended = successor.deployment_book.ended("R1")
    assert ended.status == "failed" and ended.moves == ("moves lost with the leader that started them",)
    assert [d for p in out if isinstance(p, Persist) for d in p.deployments] == [ended]   # saved with the first event
    assert successor.tasks[victim].live
