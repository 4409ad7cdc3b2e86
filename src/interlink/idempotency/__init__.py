"""Idempotency-Key with Stripe's semantics, once for every state-changing POST."""
