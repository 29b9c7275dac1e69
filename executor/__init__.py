"""Halyard's own Mesos executor for short-lived jobs (import package ``halyard_executor``).

``runner`` runs one job's command to completion (its own process group, timeout, kill with a grace
period then SIGKILL to the whole group) and is testable without Mesos; ``mesos`` is the pymesos
executor around it; ``python -m halyard_executor`` is what an agent launches.
"""
