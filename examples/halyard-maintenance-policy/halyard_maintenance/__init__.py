"""Example Halyard placement plugin (see policy.py)."""
