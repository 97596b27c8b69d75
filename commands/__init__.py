"""Intents (pydantic models) and their handlers; the one Application that stores events."""
