"""Checking that a webhook delivery came from the platform: `X-Loyalty-Signature: v1=<hex>` is the
HMAC-SHA256 of "<X-Loyalty-Timestamp>.<body>" keyed with the endpoint's secret (`whsec_...`)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

TIMESTAMP_HEADER = "X-Loyalty-Timestamp"
SIGNATURE_HEADER = "X-Loyalty-Signature"
DEFAULT_TOLERANCE = 300  # seconds


class WebhookVerificationError(ValueError):
    """The delivery is not genuine, or too old (or too far in the future) to trust."""


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)  # Django's request.headers and httpx's are case-insensitive already
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return value


def webhook_verify(
    secret: str,
    body: bytes | str,
    *,
    headers: Mapping[str, str] | None = None,
    timestamp: str | int | None = None,
    signature: str | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> dict[str, Any]:
    """Return the event (the parsed body) if the delivery is genuine and fresh; raise
    WebhookVerificationError otherwise.

    Give the request's `headers` (any mapping), or the `timestamp` and `signature` header values. `body`
    must be the exact bytes received, before any JSON parsing. A timestamp more than `tolerance` seconds
    from `now` is refused, so a captured delivery cannot be replayed later. The signature header may hold
    several comma-separated `v1=` values (one matching is enough); the comparison is constant-time.
    """
    if headers is not None:
        timestamp = _header(headers, TIMESTAMP_HEADER) if timestamp is None else timestamp
        signature = _header(headers, SIGNATURE_HEADER) if signature is None else signature
    if timestamp is None or signature is None:
        raise WebhookVerificationError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}")
    try:
        sent_at = int(str(timestamp).strip())
    except ValueError:
        raise WebhookVerificationError("the timestamp is not a whole number of seconds") from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        raise WebhookVerificationError("the timestamp is outside the tolerance")
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    expected = hmac.new(secret.encode("utf-8"), str(sent_at).encode() + b"." + raw, hashlib.sha256).hexdigest()
    candidates = [part.strip()[3:] for part in signature.split(",") if part.strip().startswith("v1=")]
    # compare_digest on every candidate (no early exit), so the time taken says nothing about the secret
    matched = [hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in candidates]
    if not any(matched):
        raise WebhookVerificationError("the signature does not match")
    try:
        event = json.loads(raw)
    except ValueError:
        raise WebhookVerificationError("the body is not JSON") from None
    if not isinstance(event, dict):
        raise WebhookVerificationError("the body is not a JSON object")
    return event
