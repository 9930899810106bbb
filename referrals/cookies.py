"""The two cookies of the referral link, read by the link's view, the sign-up and the member's page.

- ATTRIBUTION_COOKIE: the signed id of the click (referrals.services.referral_click), for `attribution_days`.
  It holds no personal data: only the public id of a `clicked` referral, signed so it cannot be forged.
- DEVICE_COOKIE: a random id for this browser, kept two years, for the same-device check (only its keyed
  hash is ever stored, referrals.checks.keyed_hash).
Both are HttpOnly and SameSite=Lax (set on a top-level navigation from a messaging app, read on our pages),
and Secure when the request came over HTTPS.
"""

import re
import secrets

ATTRIBUTION_COOKIE = "loyalty_ref"
DEVICE_COOKIE = "loyalty_device"
DEVICE_MAX_AGE = 2 * 365 * 24 * 3600
_DEVICE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def client_ip(request) -> str:
    """The address the request came from, as the web server saw it (the proxy sets REMOTE_ADDR)."""
    return request.META.get("REMOTE_ADDR", "") or ""


def attribution_cookie(request) -> str | None:
    return request.COOKIES.get(ATTRIBUTION_COOKIE) or None


def device_id(request) -> str:
    """This browser's device id, or "" when it has none (or a malformed one)."""
    value = request.COOKIES.get(DEVICE_COOKIE, "")
    return value if _DEVICE_RE.match(value) else ""


def device_id_or_new(request) -> tuple[str, bool]:
    """This browser's device id, or a new one (and True: set it with device_cookie_set)."""
    value = device_id(request)
    return (value, False) if value else (secrets.token_urlsafe(18), True)


def device_cookie_set(request, response, value: str) -> None:
    _set(request, response, DEVICE_COOKIE, value, max_age=DEVICE_MAX_AGE)


def device_id_ensure(request, response) -> str:
    """This browser's device id; a new one is set on `response` when it has none."""
    value, new = device_id_or_new(request)
    if new:
        device_cookie_set(request, response, value)
    return value


def attribution_cookie_set(request, response, value: str, *, days: int) -> None:
    _set(request, response, ATTRIBUTION_COOKIE, value, max_age=days * 24 * 3600)


def _set(request, response, name: str, value: str, *, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="Lax", secure=request.is_secure())
