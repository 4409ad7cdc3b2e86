"""What an adapter raises. The integrations domain maps each to an HTTP error; adapters know no
HTTP status of ours."""

from __future__ import annotations


class ProviderFailure(Exception):
    """Base of every adapter error. ``message`` is safe to show: it never contains credentials."""

    def __init__(self, message: str, *, retry_after: float | None = None, param: str | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.param = param


class ProviderDeclined(ProviderFailure):
    """The provider refused the operation on its merits (card declined, address rejected)."""


class ProviderConflict(ProviderFailure):
    """The provider's state does not allow the operation (already refunded, already submitted)."""


class ProviderRejectedRequest(ProviderFailure):
    """The provider says our request is invalid (its 4xx other than auth and rate limit)."""


class ProviderAuthFailed(ProviderFailure):
    """The credentials were refused: the integration needs new ones."""


class ProviderUnavailable(ProviderFailure):
    """The provider could not be reached, timed out, answered 5xx, or throttled us. The outcome of
    a non-idempotent call that ends here is unknown."""


class AddressRefused(ProviderUnavailable):
    """The provider's address is one the outbound address policy refuses (never retried)."""


class CircuitOpen(ProviderUnavailable):
    """Calls to this integration are paused after repeated failures."""


class NotAvailableYet(ProviderFailure):
    """The catalog declares this capability but its adapter is not built yet."""
