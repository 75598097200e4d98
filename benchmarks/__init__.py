"""On-demand benchmarks of the local agent against the embedded API (not tests)."""
