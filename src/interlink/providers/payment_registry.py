"""connection code → payment adapter, for the connections whose lifecycle is built."""

from __future__ import annotations

from interlink.providers.payments import PaymentProvider

PAYMENT_CONNECTIONS = ("sandbox_payment", "stripe", "paypal")


def payment_provider(code: str) -> PaymentProvider | None:
    if code == "sandbox_payment":
        from interlink.providers.sandbox_payments import SandboxPaymentProvider

        return SandboxPaymentProvider()
    if code == "stripe":
        from interlink.providers.stripe.payments import StripePaymentProvider

        return StripePaymentProvider()
    if code == "paypal":
        from interlink.providers.paypal.payments import PayPalPaymentProvider

        return PayPalPaymentProvider()
    return None
