"""Adapters: the ports implemented with real technology (HTTP, processes, Docker, Kubernetes)."""
