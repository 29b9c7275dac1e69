"""Environments, releases and their rules, image references and digests, and the scheduler's release desk."""
