"""Writes for shops and API keys. Every function that makes a key returns its plaintext exactly once;
only the SHA-256 hash is stored."""

import datetime as dt
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.exceptions import ApplicationError
from integrations.keys import key_generate
from integrations.models import SCOPES, ApiKey, Shop, widget_secret_new

LAST_USED_RESOLUTION = dt.timedelta(minutes=1)  # last_used_at is written at most this often per key
ROTATION_GRACE_MAX = dt.timedelta(days=7)
_PREFIX_ATTEMPTS = 5  # a prefix clash among 36**8 ids is rare; a few retries make it impossible in practice


def shop_create(
    *,
    name: str,
    kind: str = Shop.Kind.WEB,
    currency: str = "EUR",
    time_zone: str = "UTC",
    allowed_origins: Iterable[str] = (),
    active: bool = True,
) -> Shop:
    """Create a validated shop (unique name, ISO currency, IANA time zone); raises ValidationError otherwise."""
    shop = Shop(
        name=name.strip(),
        kind=kind,
        currency=currency.strip().upper(),
        time_zone=time_zone.strip(),
        allowed_origins=[origin.strip().rstrip("/") for origin in allowed_origins if origin.strip()],
        active=active,
    )
    shop.full_clean()
    shop.save()
    return shop


def _scopes_clean(scopes: Iterable[str]) -> set[str]:
    wanted = {scope.strip() for scope in scopes if scope.strip()}
    unknown = wanted - set(SCOPES)
    if unknown or not wanted:
        raise ApplicationError(
            f"Give one or more of the scopes {', '.join(SCOPES)}.",
            code="invalid_scopes",
            extra={"unknown": sorted(unknown)},
        )
    return wanted


def api_key_create(*, shop: Shop, name: str, scopes: Iterable[str], created_by=None) -> tuple[ApiKey, str]:
    """Make a key for `shop`; returns (key, plaintext). The plaintext is not stored and cannot be shown again."""
    wanted = _scopes_clean(scopes)
    name = name.strip() or "API key"
    return _api_key_insert(shop=shop, name=name, scopes=wanted, created_by=created_by, rotated_from=None)


def _api_key_insert(*, shop, name, scopes, created_by, rotated_from) -> tuple[ApiKey, str]:
    for attempt in range(_PREFIX_ATTEMPTS):
        new = key_generate()
        key = ApiKey(
            shop=shop,
            name=name[:100],
            prefix=new.prefix,
            key_hash=new.key_hash,
            created_by=created_by,
            rotated_from=rotated_from,
            **{f"scope_{scope}": scope in scopes for scope in SCOPES},
        )
        try:
            with transaction.atomic():  # a savepoint, so a clash does not spoil an outer transaction
                key.save()
        except IntegrityError:
            if attempt == _PREFIX_ATTEMPTS - 1 or ApiKey.objects.filter(prefix=new.prefix).first() is None:
                raise  # not a prefix clash, or clashing again and again: something else is wrong
            continue
        return key, new.plaintext
    raise AssertionError("unreachable")


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """The key stops working now; revoking a revoked key changes nothing (and keeps its first revocation time)."""
    now = timezone.now()
    # Conditional UPDATE: a key in a rotation's grace period (revoked_at in the future) is cut short too.
    ApiKey.objects.filter(pk=api_key.pk).filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=now)).update(
        revoked_at=now
    )
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


def api_key_rotate(*, api_key: ApiKey, grace: dt.timedelta = dt.timedelta(0), created_by=None) -> tuple[ApiKey, str]:
    """Replace a live key by a new one with the same shop, name and scopes; the old key keeps working for
    `grace` (0: it stops at once, at most ROTATION_GRACE_MAX). Returns (new key, plaintext). A key is
    rotated at most once: two staff rotating the same key at the same time make one new key, not two."""
    if grace < dt.timedelta(0) or grace > ROTATION_GRACE_MAX:
        raise ApplicationError(
            "The grace period must be between 0 and 7 days.",
            code="invalid_grace_period",
            extra={"max_seconds": int(ROTATION_GRACE_MAX.total_seconds())},
        )
    with transaction.atomic():
        # The row lock makes concurrent rotations of one key queue up; the second sees it rotated and stops.
        old = ApiKey.objects.select_for_update().select_related("shop").get(pk=api_key.pk)
        now = timezone.now()
        if old.is_revoked(now):
            raise ApplicationError(
                "This API key is revoked; create a new key instead.", code="api_key_revoked", status=409
            )
        if ApiKey.objects.filter(rotated_from=old).exists():
            raise ApplicationError(
                "This API key was already rotated; rotate its replacement instead.",
                code="api_key_already_rotated",
                status=409,
            )
        new_key, plaintext = _api_key_insert(
            shop=old.shop, name=old.name, scopes=set(old.scopes), created_by=created_by, rotated_from=old
        )
        ends = now + grace
        if old.revoked_at is None or old.revoked_at > ends:
            old.revoked_at = ends
            old.save(update_fields=["revoked_at"])
    api_key.revoked_at = old.revoked_at
    return new_key, plaintext


def api_key_mark_used(*, api_key: ApiKey, now: dt.datetime | None = None) -> None:
    """Record that the key was used, at most once a minute per key, without a write on every request."""
    now = now or timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return  # fresh enough: no query at all
    # The condition in the WHERE keeps N processes that saw the same stale value from all writing:
    # after the first UPDATE commits, the others' WHERE no longer matches the row.
    ApiKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    api_key.last_used_at = now


def shop_widget_secret_rotate(*, shop: Shop) -> str:
    """Give the shop a new widget secret and return it (shown once); tokens signed with the old one stop working
    at once (they live an hour at most, so a shop's server signs new ones with the new secret right away)."""
    secret = widget_secret_new()
    Shop.objects.filter(pk=shop.pk).update(widget_secret=secret, updated_at=timezone.now())
    shop.widget_secret = secret
    return secret
