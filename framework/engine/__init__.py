"""The scheduler's pure core: events in, instructions out. No I/O, no pymesos, no kazoo.

:class:`~halyard.engine.engine.Engine` holds the desired state (apps, jobs) and what it knows of
the actual state (tasks, runs); the runtime feeds it events from Mesos, the API and a clock, and
carries out the instructions it returns, in order (a ``Persist`` always comes before the launches,
acknowledgements and published events that depend on it). ``docs/architecture.md`` maps its parts.
"""
