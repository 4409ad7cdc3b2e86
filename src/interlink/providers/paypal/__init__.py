"""PayPal: Orders v2 / Payments v2 over the client layer."""
