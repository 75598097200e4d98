"""Adapters to the operating system itself (the real clock)."""
