"""Stripe: the payment lifecycle through the official SDK."""
