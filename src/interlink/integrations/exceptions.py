from __future__ import annotations

from interlink.errors import Conflict, NotFound, PermissionDenied, ProviderError, ValidationFailed


class ConnectionNotFound(NotFound):
    code = "connection_missing"


class CapabilityNotFound(NotFound):
    code = "capability_missing"


class IntegrationNotFound(NotFound):
    code = "integration_missing"


class LinkNotFound(NotFound):
    code = "link_missing"


class InvalidCredentials(ValidationFailed):
    code = "invalid_credentials"


class InvalidSettings(ValidationFailed):
    code = "invalid_settings"


class InvalidParameters(ValidationFailed):
    code = "invalid_parameters"


class EnvironmentMismatch(PermissionDenied):
    code = "environment_mismatch"


class DefaultAlreadySet(Conflict):
    code = "default_already_set"


class NoIntegrationConfigured(Conflict):
    code = "no_integration_configured"


class IntegrationNotUsable(Conflict):
    code = "integration_not_usable"


class ProviderDeclinedError(ProviderError):
    status = 402
    code = "provider_declined"


class ProviderConflictError(ProviderError):
    status = 409
    code = "provider_conflict"


class ProviderRejectedError(ProviderError):
    status = 400
    code = "provider_rejected_request"


class ProviderAuthError(ProviderError):
    status = 502
    code = "provider_auth_failed"


class ProviderUnavailableError(ProviderError):
    status = 503
    code = "provider_unavailable"


class CapabilityNotAvailable(ProviderError):
    status = 501
    code = "capability_not_available"
