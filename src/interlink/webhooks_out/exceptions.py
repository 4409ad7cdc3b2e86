from __future__ import annotations

from interlink.errors import Conflict, NotFound, ValidationFailed


class WebhookNotFound(NotFound):
    code = "webhook_missing"


class DeliveryNotFound(NotFound):
    code = "delivery_missing"


class InvalidWebhookUrl(ValidationFailed):
    code = "invalid_url"


class UnknownEventType(ValidationFailed):
    code = "unknown_event_type"


class InvalidHeader(ValidationFailed):
    code = "invalid_header"


class DeliveryPending(Conflict):
    code = "delivery_pending"


class EndpointDisabled(Conflict):
    code = "webhook_disabled"
