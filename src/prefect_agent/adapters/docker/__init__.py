"""Docker platform: each flow run in a container (needs the ``docker`` extra)."""
