"""The chaos soak's parts (``bench/soak.py`` runs them): a private cluster and scheduler
processes (``procs``), what is read every second (``observe``), the workload (``workload``), the
fault injector (``faults``), the pure invariant checks (``invariants``) and the table (``report``).

Nothing here imports ``tests/``; ``invariants`` and ``report`` are pure (no I/O) and unit-tested
on recorded snapshots (tests/unit/test_soak_invariants.py).
"""
