"""The HTTP API (FastAPI) and the `crm` command line: thin entrypoints, no business rules."""
