"""Persistence of the scheduler's state (ZooKeeper) and leader election."""
