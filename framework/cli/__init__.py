"""Halyard's command line (``halyard``)."""
