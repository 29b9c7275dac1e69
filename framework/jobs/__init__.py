"""Short-lived jobs: definitions, runs, schedules; run on Halyard's own executor."""
