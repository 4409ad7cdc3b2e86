"""Interlink: a self-hosted integrations service."""

__version__ = "0.1.0"
