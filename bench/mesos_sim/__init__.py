"""A simulated Mesos master (v1 scheduler HTTP API) for measuring Halyard at a scale this machine
cannot run for real, as Marathon measured itself with its ``mesos-simulation`` module.

    recordio.py    the event stream's framing
    resources.py   scalars and port ranges, as the master accounts them
    filters.py     offer filters (refuse_seconds) and suppression, per framework
    updates.py     reliable status updates: per-task streams, retried until acknowledged
    cluster.py     the agents: resources, attributes, fault domains
    records.py     what the master keeps: agents, offers, tasks, frameworks
    master.py      the master: subscriptions, calls, offers, tasks, faults (no I/O)
    operator_json.py  /master/state, /master/slaves, /master/frameworks
    server.py      HTTP on asyncio: the master's endpoints, the event streams, the clock
    null_framework.py  the simplest framework, for the simulator's own ceiling
    harness.py     ZooKeeper, the simulator, schedulers and the null framework as processes
    __main__.py    ``python -m mesos_sim``

docs/simulator.md says what it models and what it does not.
"""
