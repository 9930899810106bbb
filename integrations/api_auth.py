"""How API v1 knows the calling shop: the `X-Api-Key` header, scopes and a rate limit per key.

Views for shops subclass `ShopAPIView` and name the scope they need:

    class OrderCreateApi(ShopAPIView):
        permission_classes = [HasScope("write")]

`request.auth` is then the ApiKey and `request.auth.shop` the shop; `request.user` stays None (a shop is
not a login). Errors: 401 `not_authenticated` (no key) or `invalid_api_key` (unknown, revoked, inactive
shop); 403 `insufficient_scope`; 429 `throttled` with Retry-After.
"""

import math
import re
import time

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache import cache as default_cache
from django.core.cache.backends.redis import RedisCache
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from integrations.models import SCOPES, ApiKey
from integrations.selectors import api_key_authenticate
from integrations.services.shops import api_key_mark_used

API_KEY_HEADER = "X-Api-Key"


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticates a shop by its API key; no header means "not this authenticator" (401 if required)."""

    def authenticate(self, request):
        raw = request.headers.get(API_KEY_HEADER)
        if raw is None:
            return None
        api_key = api_key_authenticate(raw)
        if api_key is None:
            raise exceptions.AuthenticationFailed(
                "The API key is unknown or revoked, or its shop is inactive.", code="invalid_api_key"
            )
        api_key_mark_used(api_key=api_key)
        return (None, api_key)

    def authenticate_header(self, request) -> str:
        # Its presence makes DRF answer 401 (not 403) when the key is missing or refused.
        return f'ApiKey header="{API_KEY_HEADER}"'


class HasScope(BasePermission):
    """`permission_classes = [HasScope("write")]`: the calling key must carry that scope.

    An instance stands in for a class: DRF calls each entry of permission_classes, and calling this
    returns itself. It is shared by every request, so it must never keep per-request state.
    """

    code = "insufficient_scope"

    def __init__(self, scope: str):
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}; use one of {SCOPES}")
        self.scope = scope
        self.message = f"This API key lacks the '{scope}' scope."

    def __call__(self):
        return self

    def __repr__(self) -> str:
        return f"HasScope({self.scope!r})"

    def has_permission(self, request, view) -> bool:
        # No key: DRF answers 401 not_authenticated (an authenticator was tried), not this 403.
        api_key = request.auth
        return isinstance(api_key, ApiKey) and api_key.has_scope(self.scope)


def _clock() -> float:
    return time.time()


_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])[a-z]*\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_parse(rate: str) -> tuple[int, int]:
    """'600/min' -> (600, 60); also '10/s', '1000/hour', '50/5min', '10000/day'."""
    match = _RATE_RE.match(rate)
    if not match:
        raise ValueError(f"API_RATE_LIMIT {rate!r}: write it as <count>/<period>, e.g. 600/min")
    count, multiple, unit = match.groups()
    return int(count), int(multiple or 1) * _SECONDS[unit]


def _window_count(cache, key: str, *, timeout: int) -> int:
    """Count one more request in the window's counter and return the count.

    On Django's Redis cache this is one round trip: a pipeline of SET NX EX (the window's first request
    starts the counter with its expiry) and INCR. Other caches (LocMem in tests) use add/incr.
    """
    backend = caches[DEFAULT_CACHE_ALIAS] if cache is default_cache else cache  # the proxy hides the class
    if isinstance(backend, RedisCache):
        cache_key = backend.make_and_validate_key(key)
        pipe = backend._cache.get_client(cache_key, write=True).pipeline(transaction=False)
        pipe.set(cache_key, 0, ex=timeout, nx=True)
        pipe.incr(cache_key)
        return int(pipe.execute()[1])
    try:
        return cache.incr(key)
    except ValueError:  # the window's first request: start its counter, unless another process just did
        return 1 if cache.add(key, 1, timeout=timeout) else cache.incr(key)


class ApiKeyRateThrottle(BaseThrottle):
    """At most settings.API_RATE_LIMIT requests per key per window (fixed windows, a counter in the cache).

    The counter is one atomic `incr` in the shared cache (Redis in production), so every web process
    counts against the same limit; unlike DRF's SimpleRateThrottle it keeps no per-request timestamp list
    and two processes cannot overwrite each other's counts. A fixed window lets a client burst up to twice
    the rate across a window boundary; for protecting the service that is fine.
    Requests without an API key are not counted here (they are refused before).
    """

    cache = default_cache

    def allow_request(self, request, view) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return True
        limit, period = rate_parse(settings.API_RATE_LIMIT)
        now = _clock()
        window = int(now // period)
        key = f"api-rate:{api_key.public_id}:{period}:{window}"
        count = _window_count(self.cache, key, timeout=period + 1)
        self._wait = (window + 1) * period - now
        return count <= limit

    def wait(self) -> float:
        return max(1, math.ceil(self._wait))


class ShopAPIView(APIView):
    """Base of every API view that shops call with their key."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasScope("read")]
    throttle_classes = [ApiKeyRateThrottle]
