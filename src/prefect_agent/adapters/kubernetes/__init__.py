"""Kubernetes platform: each flow run as a Job (needs the ``kubernetes`` extra)."""
