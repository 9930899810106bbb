"""How the storefront widget's endpoints (/api/v1/widget/<widget_key>/...) know the shop and the shopper.

- The shop: its public `widget_key`, in the path (not a header: a CORS preflight carries no custom headers,
  and the guest's GET then needs no preflight at all). Unknown key, switched-off widget or inactive shop:
  404 `widget_not_found`.
- The shopper: `Authorization: Bearer <token>`, a JWT (HS256) that the shop's server signs with the shop's
  `widget_secret` (docs/widget.md): `iss` the widget key, `sub` the shop's customer id, `email`, `iat` and
  `exp` at most an hour later. Forged, expired, too long-lived, other-shop or other-algorithm tokens are a
  401 `invalid_token` (`details.reason` says which). No header: a guest.
- The browser's origin: a request with an `Origin` header is answered only for the shop's allowed origins
  (exact match); others get a 403 `origin_not_allowed` and no CORS headers, so the browser hides even that.
- A rate limit per (widget key, client address), in the shared cache: 429 `throttled` with Retry-After.
"""

import datetime as dt
import math
from dataclasses import dataclass

import jwt
from django.conf import settings
from django.core.cache import cache as default_cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from rest_framework.authentication import BaseAuthentication
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from core.exceptions import ApplicationError
from integrations.api_auth import _clock, _window_count, rate_parse
from integrations.models import Shop

TOKEN_ALGORITHM = "HS256"  # noqa: S105  an algorithm name, not a password
TOKEN_LIFETIME_MAX = dt.timedelta(hours=1)
CLOCK_LEEWAY = dt.timedelta(seconds=60)  # shop servers' clocks drift a little
SUBJECT_MAX = 200  # ShopCustomer.external_id
ALLOWED_HEADERS = "Authorization, Content-Type, Idempotency-Key"
PREFLIGHT_MAX_AGE = 600


@dataclass(frozen=True)
class Shopper:
    """A verified token's claims: the shop's customer id and the e-mail the shop vouches for."""

    external_id: str
    email: str | None


@dataclass(frozen=True)
class WidgetAuth:
    shop: Shop
    shopper: Shopper | None  # None: a guest


def _refused(reason: str, message: str) -> ApplicationError:
    return ApplicationError(message, code="invalid_token", status=401, extra={"reason": reason})


def shopper_token_verify(token: str, *, shop: Shop, now: dt.datetime | None = None) -> Shopper:
    """The shopper a token names, if `shop`'s secret signed it with HS256 for this shop, less than an hour
    ago and not expired; raises AuthenticationFailed (`reason`: forged, expired, too_long, other_shop, ...)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError:
        raise _refused("malformed", "The shopper token is not a JWT.") from None
    if header.get("alg") != TOKEN_ALGORITHM:
        raise _refused("algorithm", "Sign shopper tokens with HS256.")
    try:
        claims = jwt.decode(
            token,
            shop.widget_secret,
            algorithms=[TOKEN_ALGORITHM],
            issuer=shop.widget_key,
            leeway=CLOCK_LEEWAY,
            options={"require": ["iss", "sub", "iat", "exp"]},
        )
    except jwt.ExpiredSignatureError:
        raise _refused("expired", "The shopper token has expired; the shop's page needs a fresh one.") from None
    except jwt.ImmatureSignatureError:
        raise _refused("not_yet_valid", "The shopper token was issued in the future.") from None
    except jwt.InvalidIssuerError:
        raise _refused("other_shop", "The shopper token was made for another shop.") from None
    except jwt.InvalidSignatureError:
        raise _refused("forged", "The shopper token's signature is wrong.") from None
    except jwt.MissingRequiredClaimError as error:
        raise _refused("missing_claim", f"The shopper token lacks the '{error.claim}' claim.") from None
    except jwt.PyJWTError:
        raise _refused("malformed", "The shopper token is not valid.") from None
    issued, expires = claims["iat"], claims["exp"]
    if not isinstance(issued, int | float) or not isinstance(expires, int | float):
        raise _refused("malformed", "iat and exp must be numbers (seconds since 1970).")
    if expires - issued > TOKEN_LIFETIME_MAX.total_seconds():
        raise _refused("too_long", "A shopper token may live an hour at most (exp - iat <= 3600).")
    if issued > (now or dt.datetime.now(dt.UTC)).timestamp() + CLOCK_LEEWAY.total_seconds():
        raise _refused("not_yet_valid", "The shopper token was issued in the future.")
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject.strip() or len(subject.strip()) > SUBJECT_MAX:
        raise _refused("malformed", f"sub must be the shop's customer id (1 to {SUBJECT_MAX} characters).")
    email = claims.get("email")
    if email is not None:
        try:
            validate_email(email)
        except (ValidationError, TypeError):
            raise _refused("malformed", "email is not an e-mail address.") from None
    return Shopper(external_id=subject.strip(), email=email.strip().lower() if email else None)


def widget_shop_get(widget_key: str) -> Shop:
    shop = Shop.objects.filter(widget_key=widget_key, widget_enabled=True, active=True).first()
    if shop is None:
        raise ApplicationError(
            "No shop has this widget key, or its widget is off.", code="widget_not_found", status=404
        )
    return shop


class ShopperTokenAuthentication(BaseAuthentication):
    """Sets request.auth to a WidgetAuth (the shop from the path, the shopper from the token, or a guest)."""

    def authenticate(self, request):
        view = request.parser_context["view"]
        shop = view.widget_shop
        raw = request.headers.get("Authorization") or ""
        if not raw:
            return (None, WidgetAuth(shop=shop, shopper=None))
        scheme, _, token = raw.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _refused("malformed", "Send the shopper token as 'Authorization: Bearer <token>'.")
        return (None, WidgetAuth(shop=shop, shopper=shopper_token_verify(token.strip(), shop=shop)))

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="widget"'


def client_address(request) -> str:
    """The client's address as the web server saw it (behind a proxy, the proxy sets REMOTE_ADDR)."""
    return request.META.get("REMOTE_ADDR", "") or "unknown"


class WidgetRateThrottle(BaseThrottle):
    """At most settings.WIDGET_RATE_LIMIT (default 120/min) requests per widget key and client address, in
    fixed windows counted in the shared cache (as integrations.api_auth.ApiKeyRateThrottle)."""

    cache = default_cache

    def allow_request(self, request, view) -> bool:
        limit, period = rate_parse(getattr(settings, "WIDGET_RATE_LIMIT", "120/min"))
        now = _clock()
        window = int(now // period)
        key = f"widget-rate:{view.widget_shop.widget_key}:{client_address(request)}:{period}:{window}"
        count = _window_count(self.cache, key, timeout=period + 1)
        self._wait = (window + 1) * period - now
        return count <= limit

    def wait(self) -> float:
        return max(1, math.ceil(self._wait))


class WidgetAPIView(APIView):
    """Base of the widget's endpoints: the shop from the path, the origin check, CORS, the rate limit."""

    authentication_classes = [ShopperTokenAuthentication]
    permission_classes = []
    throttle_classes = []  # the rate limit is checked in initial(), before the token costs anything
    widget_shop: Shop | None = None
    allowed_origin: str | None = None

    def initial(self, request, *args, **kwargs):
        self.widget_shop = widget_shop_get(kwargs["widget_key"])
        origin = request.headers.get("Origin")
        if origin is not None:
            if origin not in self.widget_shop.allowed_origins:
                raise ApplicationError(
                    "This page's origin is not among the shop's allowed origins.",
                    code="origin_not_allowed",
                    status=403,
                    extra={"origin": origin},
                )
            self.allowed_origin = origin
        throttle = WidgetRateThrottle()
        if not throttle.allow_request(request, self):
            self.throttled(request, throttle.wait())
        super().initial(request, *args, **kwargs)

    def options(self, request, *args, **kwargs):
        """A CORS preflight: the headers the widget sends, allowed for the shop's origins only."""
        response = Response()
        if self.allowed_origin:
            response["Access-Control-Allow-Methods"] = ", ".join(m for m in self.allowed_methods if m != "OPTIONS")
            response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.allowed_origin:  # set only after the origin passed; errors after that are readable too
            response["Access-Control-Allow-Origin"] = self.allowed_origin
            response["Access-Control-Expose-Headers"] = "Retry-After"
        response["Vary"] = "Origin" if not response.get("Vary") else response["Vary"] + ", Origin"
        return response
