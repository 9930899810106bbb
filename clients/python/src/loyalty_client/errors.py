"""The errors the client raises: one class per kind of answer, each carrying the API's error body."""

from __future__ import annotations

from typing import Any


class LoyaltyError(Exception):
    """An error answer of the API, `{"error": {"code", "message", "details"}}`, or a failed request.

    `status` is the HTTP status (None when no answer came), `code` the API's stable error code (program
    against it), `message` the text for people, `details` the facts of the error (may be empty).
    """

    def __init__(
        self, message: str, *, status: int | None = None, code: str = "error", details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}

    def __str__(self) -> str:
        where = f"{self.status} " if self.status is not None else ""
        return f"{where}{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r})"


class ValidationError(LoyaltyError):
    """400: the body is not JSON or a field is invalid (`details` maps fields to messages); also 405 and 415."""


class AuthError(LoyaltyError):
    """401 (no key, unknown or revoked key, inactive shop) or 403 (the key lacks the scope)."""


class NotFound(LoyaltyError):
    """404: no such member, order, reward, coupon or page among the shop's own."""


class Conflict(LoyaltyError):
    """409: an idempotency key reused with another body, a customer who is someone else, a used coupon."""


class BusinessRuleError(LoyaltyError):
    """422: the request is well-formed but a rule says no (`insufficient_points`, `coupon_expired`, ...)."""


class RateLimited(LoyaltyError):
    """429: the key's rate limit; send the same request again after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(LoyaltyError):
    """5xx: the platform failed; the same request with the same idempotency key is safe to send again."""


class TransportError(LoyaltyError):
    """No answer: the connection failed or timed out (`status` is None); safe to retry like a 5xx."""


_BY_STATUS: dict[int, type[LoyaltyError]] = {
    400: ValidationError,
    401: AuthError,
    403: AuthError,
    404: NotFound,
    405: ValidationError,
    409: Conflict,
    415: ValidationError,
    422: BusinessRuleError,
    429: RateLimited,
}


def error_for(status: int, body: Any, *, retry_after: float | None = None, text: str = "") -> LoyaltyError:
    """The exception for an error answer; a body without the API's error shape (a proxy's 502 page) still
    gives the status, with the code `http_<status>`."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or f"http_{status}")
        message = str(error.get("message") or "")
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
    else:
        code, message, details = f"http_{status}", (text.strip()[:200] or f"HTTP {status}"), {}
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else LoyaltyError)
    if cls is RateLimited:
        return RateLimited(message, status=status, code=code, details=details, retry_after=retry_after)
    return cls(message, status=status, code=code, details=details)
