"""GraphQL RunSource: the Prefect API (Server or Cloud) over HTTP."""
