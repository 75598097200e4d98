"""The Vertex AI platform: each flow run as a custom job (the ``vertex`` extra)."""
