"""Health reporting over HTTP: liveness, readiness, poke and metrics."""
