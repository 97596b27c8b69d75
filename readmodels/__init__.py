"""The read side: DuckDB schemas of the read models and every query the API serves."""
