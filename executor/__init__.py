"""Halyard's custom Mesos executor for short-lived jobs (import package ``halyard_executor``).

Built in a later issue; the package exists so the layout and install are final.
"""
