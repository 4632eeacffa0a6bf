"""Container registries: the OCI distribution client, credentials, edge mirrors, the scan gate."""
