from __future__ import annotations

from interlink.errors import Conflict, NotFound, ValidationFailed


class EventNotFound(NotFound):
    code = "event_missing"


class UnknownEventType(ValidationFailed):
    code = "unknown_event_type"


class EventTypeExists(Conflict):
    code = "event_type_exists"


class InvalidEventData(ValidationFailed):
    code = "invalid_event_data"


class InvalidSchema(ValidationFailed):
    code = "invalid_schema"
