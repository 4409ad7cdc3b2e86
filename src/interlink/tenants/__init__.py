"""Tenants: the platform's customers, each with its own keys, integrations and data."""
