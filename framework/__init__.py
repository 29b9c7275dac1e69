"""Halyard: an Apache Mesos framework for long-running Docker apps and short-lived jobs.

The import package ``halyard`` lives in the repository's ``framework/`` directory.
"""

__version__ = "0.1.0"
