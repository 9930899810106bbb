"""Shopper tokens for the storefront widget: a JWT (HS256) that the shop's server signs with the shop's
widget secret and puts on the page for a logged-in customer. Standard library only."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from typing import Any

DEFAULT_TTL = dt.timedelta(minutes=55)
MAX_TTL = dt.timedelta(hours=1)  # the server refuses a token that lives longer


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def shopper_token(
    widget_key: str,
    widget_secret: str,
    customer_id: str,
    email: str,
    *,
    ttl: dt.timedelta | int = DEFAULT_TTL,
    now: float | None = None,
) -> str:
    """A signed token saying "this shop's customer `customer_id`, with `email`", valid for `ttl` (a
    timedelta or seconds; at most an hour, default 55 minutes) from `now` (Unix seconds, default the clock).

    Claims: `iss` the shop's public widget key, `sub` your customer id, `email`, `iat` and `exp`.
    """
    seconds = int(ttl.total_seconds()) if isinstance(ttl, dt.timedelta) else int(ttl)
    if not 0 < seconds <= MAX_TTL.total_seconds():
        raise ValueError("ttl must be more than 0 and at most 1 hour")
    if not widget_key or not widget_secret:
        raise ValueError("widget_key and widget_secret are required")
    if not str(customer_id) or not email:
        raise ValueError("customer_id and email are required")
    issued = int(time.time() if now is None else now)
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"iss": widget_key, "sub": str(customer_id), "email": email, "iat": issued, "exp": issued + seconds}
    signing_input = _b64url(_json(header)) + "." + _b64url(_json(claims))
    signature = hmac.new(widget_secret.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64url(signature)
