from __future__ import annotations

from interlink.errors import AuthenticationFailed, NotFound, ValidationFailed


class MissingApiKey(AuthenticationFailed):
    code = "missing_api_key"


class MalformedApiKey(AuthenticationFailed):
    code = "malformed_api_key"


class RevokedApiKey(AuthenticationFailed):
    code = "api_key_revoked"


class ExpiredApiKey(AuthenticationFailed):
    code = "api_key_expired"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"


class UnknownScope(ValidationFailed):
    code = "unknown_scope"
