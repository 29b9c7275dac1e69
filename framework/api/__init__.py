"""Halyard's HTTP API: Marathon's v2 shapes over the scheduler service."""
