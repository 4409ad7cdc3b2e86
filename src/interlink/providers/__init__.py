"""Adapters to the outside world. Nothing here imports a domain, the database or FastAPI."""
