"""Commands of this module are attached to the groups in ``cli.groups`` (not built yet)."""
