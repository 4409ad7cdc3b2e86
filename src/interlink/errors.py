"""The one error shape: every failure the API reports is an AppError rendered by one handler."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    type: str
    code: str
    message: str
    param: str | None = None
    request_id: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class AppError(Exception):
    status: ClassVar[int] = 500
    type: ClassVar[str] = "internal"
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = headers or {}
        if code is not None:
            self.code = code  # type: ignore[misc]  # per-instance override of the class default
        if status is not None:
            self.status = status  # type: ignore[misc]

    def body(self, request_id: str | None) -> dict[str, Any]:
        detail: dict[str, Any] = {"type": self.type, "code": self.code, "message": self.message}
        if self.param is not None:
            detail["param"] = self.param
        if request_id is not None:
            detail["request_id"] = request_id
        return {"error": detail}


class InvalidRequest(AppError):
    status = 400
    type = "invalid_request"
    code = "invalid_request"


class ValidationFailed(InvalidRequest):
    status = 422
    code = "validation_error"


class PayloadTooLarge(InvalidRequest):
    status = 413
    code = "payload_too_large"


class AuthenticationFailed(AppError):
    status = 401
    type = "authentication"
    code = "invalid_api_key"


class PermissionDenied(AppError):
    status = 403
    type = "permission"
    code = "missing_scope"


class NotFound(AppError):
    status = 404
    type = "not_found"
    code = "resource_missing"


class Conflict(AppError):
    status = 409
    type = "conflict"
    code = "conflict"


class IdempotencyError(AppError):
    status = 422
    type = "idempotency"
    code = "idempotency_key_reused"


class RateLimited(AppError):
    status = 429
    type = "rate_limit"
    code = "rate_limited"


class ProviderError(AppError):
    status = 502
    type = "provider"
    code = "provider_error"


class ServiceUnavailable(AppError):
    status = 503
    type = "internal"
    code = "service_unavailable"
