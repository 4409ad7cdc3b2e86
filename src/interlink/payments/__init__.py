"""Payments: checkout snapshots, payment intents and their ledger, provider-agnostic."""
