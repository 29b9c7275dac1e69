"""The scheduler process: the leader loop (contend, lead, serve), its wiring and config, the Backend, probes, webhooks, secrets."""
