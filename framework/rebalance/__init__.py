"""Rebalancing: the planner of moves (pure), its cluster state and triggers, and the live rebalance over the Backend."""
