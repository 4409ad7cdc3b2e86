"""Inbound provider webhooks: verified, de-duplicated, stored, processed asynchronously."""
