"""``python -m halyard_executor``: what a Mesos agent launches (it needs the agent's MESOS_* environment)."""
from .mesos import main

main()
