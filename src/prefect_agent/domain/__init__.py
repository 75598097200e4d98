"""The agent's domain: flow runs, run configs, labels, launch specs. Pure: no I/O, no clock."""
