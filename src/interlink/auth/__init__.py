"""Tenants' API keys: issuing, authenticating, scopes, rotation, usage and rate limits."""
