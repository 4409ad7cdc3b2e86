"""Outbound webhooks: endpoints, signed deliveries with retries, attempt history and recovery."""
