from __future__ import annotations

from interlink.errors import Conflict, InvalidRequest, NotFound


class InboundIntegrationNotFound(NotFound):
    code = "integration_missing"


class SignatureRejected(InvalidRequest):
    code = "invalid_signature"


class InboundEventNotFound(NotFound):
    code = "inbound_event_missing"


class InboundEventNotReplayable(Conflict):
    code = "inbound_event_not_replayable"
