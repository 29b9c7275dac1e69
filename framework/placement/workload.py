"""What the planner places: :class:`~halyard.spec.app.Workload`, a demand neutral of apps and jobs.

An app (:meth:`halyard.spec.app.AppSpec.workload`) and a job run
(:meth:`halyard.jobs.spec.JobSpec.workload`) both turn into one; the planner and its plugins see
nothing else. It is defined beside the specs that produce it (``model.py``) and exported here.
"""
from __future__ import annotations

from ..spec.app import KINDS, Workload, WorkloadKind

__all__ = ["KINDS", "Workload", "WorkloadKind"]
