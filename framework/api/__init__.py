"""The HTTP API: Marathon's v2 paths and JSON shapes, Halyard's /v1 additions (``server.create_app``)."""
