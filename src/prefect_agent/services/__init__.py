"""The agent's use cases: poll for runs, deploy them on time, watch what was launched."""
