"""Writes for shops and API keys. Every function that makes a key returns its plaintext exactly once;
only the SHA-256 hash is stored."""

import datetime as dt
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.exceptions import ApplicationError
from integrations.keys import key_generate
from integrations.models import SCOPES, ApiKey, Shop, ShopCustomer
from members.models import Member, User
from members.services import member_preferences_update, member_profile_update, member_signup
from rewards.models import PointEntry
from rewards.services.ledger import Actor, points_adjust

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


# --- members as shops see them ----------------------------------------------------------------------

_UPSERT_ATTEMPTS = 3  # a lost race re-reads what the winner wrote; a third clash means something else


def member_upsert(
    *,
    shop: Shop,
    external_id: str | None = None,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    birthday: dt.date | None = None,
    marketing_consent: bool | None = None,
    referral_code: str | None = None,
) -> tuple[Member, bool]:
    """Find the shop's customer (by its external id, else by e-mail), create the member if neither finds one,
    link it to the shop and apply the given profile fields (None: unchanged). Returns (member, created);
    two identical calls at the same moment make one member and one link.

    The e-mail is the member's login: it finds a member and is set on creation, never changed here.
    `referral_code` is accepted for the contract and not stored yet (referrals come later)."""
    external_id = (external_id or "").strip() or None
    email = (email or "").strip().lower() or None
    if external_id is None and email is None:
        raise ApplicationError(
            "Give the customer's external_id, email or both.",
            code="validation_error",
            status=400,
            extra={"non_field_errors": ["Give external_id, email or both."]},
        )
    for attempt in range(_UPSERT_ATTEMPTS):
        try:
            with transaction.atomic():
                member, created = _member_resolve(shop=shop, external_id=external_id, email=email)
                _member_profile_apply(
                    member,
                    first_name=first_name,
                    last_name=last_name,
                    birthday=birthday,
                    marketing_consent=marketing_consent,
                    created=created,
                )
                return member, created
        except IntegrityError:
            # Another request created the same user or link first (unique constraints on the e-mail, on
            # (shop, external_id) and on (shop, member)); its transaction has committed, so read again.
            if attempt == _UPSERT_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _identity_conflict(message: str, **extra) -> ApplicationError:
    return ApplicationError(message, code="identity_conflict", status=409, extra=extra)


def _member_resolve(*, shop: Shop, external_id: str | None, email: str | None) -> tuple[Member, bool]:
    link = None
    if external_id is not None:
        link = ShopCustomer.objects.select_related("member__user").filter(shop=shop, external_id=external_id).first()
    by_email = None
    if email is not None:
        by_email = Member.objects.select_related("user").filter(user__email__iexact=email).first()

    if link is not None:
        member = link.member
        if by_email is not None and by_email.pk != member.pk:
            raise _identity_conflict(
                "This external_id belongs to another member than this email.", external_id=external_id, email=email
            )
        _require_not_closed(member)
        return member, False

    if by_email is not None:
        member = by_email
        _require_not_closed(member)
        existing = ShopCustomer.objects.filter(shop=shop, member=member).first()
        if existing is None:
            ShopCustomer.objects.create(shop=shop, member=member, external_id=external_id)
        elif external_id is not None:
            if existing.external_id is None:
                existing.external_id = external_id
                existing.save(update_fields=["external_id"])
            elif existing.external_id != external_id:
                raise _identity_conflict(
                    "This email's member is already linked to another external_id of this shop.",
                    external_id=external_id,
                    email=email,
                    linked_external_id=existing.external_id,
                )
        return member, False

    if email is None:
        raise ApplicationError(
            "No member has this external_id; give the customer's email to register them.",
            code="email_required",
            extra={"external_id": external_id},
        )
    # A staff login that is not a member. (A user whose member another request committed since the lookup
    # above does not match: the insert below then clashes on the e-mail and the retry finds that member.)
    if User.objects.filter(email__iexact=email, member__isnull=True).exists():
        raise _identity_conflict("This email belongs to a login that is not a member.", email=email)
    user = User(email=email)
    user.set_unusable_password()  # they set one through "forgot password" if they want to log in
    member = member_signup(user=user, joined_via=shop.name[:64])
    ShopCustomer.objects.create(shop=shop, member=member, external_id=external_id)
    return member, True


def _require_not_closed(member: Member) -> None:
    if member.status == Member.Status.CLOSED:
        raise ApplicationError("This member's account is closed.", code="member_closed", status=422)


def _member_profile_apply(member: Member, *, first_name, last_name, birthday, marketing_consent, created) -> None:
    names = {
        "first_name": member.first_name if first_name is None else first_name.strip(),
        "last_name": member.last_name if last_name is None else last_name.strip(),
        "birthday": member.birthday if birthday is None else birthday,
    }
    if any(getattr(member, name) != value for name, value in names.items()):
        member_profile_update(member=member, **names)
    if marketing_consent is not None:
        member_preferences_update(member=member, marketing_consent=marketing_consent)


def member_points_adjust(*, shop: Shop, member: Member, points: int, reason: str, idempotency_key: str) -> PointEntry:
    """Adjust the member's points on behalf of `shop` (rewards.services.ledger.points_adjust). The key is
    the shop's own: it is namespaced per shop, and replaying it with another body is a 409."""
    reason = (reason or "").strip()
    key = f"shop:{shop.public_id}:adjust:{idempotency_key}"
    entry = points_adjust(
        account=member.points_account,
        points=points,
        reason=reason,
        actor=Actor.shop(str(shop.public_id)),
        idempotency_key=key,
    )
    if entry.reason != reason:  # the ledger compares the points; a different reason is another request too
        raise ApplicationError(
            "This idempotency key was already used for a different adjustment.",
            code="idempotency_conflict",
            status=409,
            extra={"idempotency_key": idempotency_key},
        )
    return entry
