"""Member emails (docs/emails.md): collected after the fact from append-only rows, set-based, then sent.

The order intake and the ledger know nothing of emails. emails_collect() reads, per source, the rows written
since that source's cursor, in id order, a chunk per transaction, and inserts one MemberEmail per event with
bulk_create(ignore_conflicts=True) on the unique (kind, source_key): a second run, or two runs at once, add
nothing. The cursor row is locked for the chunk, so two collectors take turns.

Rows are read only once they are `lag` old (as accounting.services.posting does): a transaction that took
its id earlier may commit later, and reading past it would skip it for good.

Consent is decided when an email is sent, not when it is collected, so a member who turns a category off
in between gets nothing; a skipped email keeps its reason for support.
"""

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import TruncDate
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from core.db import rows_older_than
from integrations.models import Order
from members.models import Member
from notifications.models import Category, EmailCursor, EmailPreferences, MemberEmail
from referrals.models import ReferralReward
from rewards.models import PointEntry, PointLot, PointMovement, Redemption, TierChange
from rewards.selectors import program_get

Kind = MemberEmail.Kind
Status = MemberEmail.Status

CHUNK_SIZE = 1000
SEND_CHUNK_SIZE = 500
MAX_ATTEMPTS = 5
LEASE = dt.timedelta(minutes=10)  # a claimed row is retried after this if its worker died mid-send
COLLECT_LAG = dt.timedelta(seconds=getattr(settings, "EMAIL_COLLECT_LAG_SECONDS", 45))
EXPIRING_EVERY = dt.timedelta(hours=1)
UNSUBSCRIBE_SALT = "notifications.unsubscribe"
ALL = "all"  # an unsubscribe token's category: every category but `account`

CATEGORY_OF = {
    Kind.WELCOME: Category.ACCOUNT,
    Kind.REWARD_REDEEMED: Category.ACCOUNT,
    Kind.POINTS_EARNED: Category.ACTIVITY,
    Kind.POINTS_RELEASED: Category.ACTIVITY,
    Kind.TIER_UP: Category.ACTIVITY,
    Kind.TIER_DOWN: Category.ACTIVITY,
    Kind.REFERRAL_REWARD: Category.ACTIVITY,
    Kind.BIRTHDAY: Category.MARKETING,
    Kind.POINTS_EXPIRING: Category.MARKETING,
}


# --- collecting --------------------------------------------------------------------------------------------


def _email(member_id: int, kind: str, key: str, **context) -> MemberEmail:
    return MemberEmail(member_id=member_id, kind=kind, source_key=key, context=context)


def _members_chunk(cursor: EmailCursor, *, cutoff, chunk_size: int) -> tuple[int, list[MemberEmail]]:
    rows = rows_older_than(
        list(Member.objects.filter(id__gt=cursor.last_id).order_by("id").values("id", "created_at")[:chunk_size]),
        cutoff,
    )
    emails = [_email(row["id"], Kind.WELCOME, f"member:{row['id']}") for row in rows]
    return (rows[-1]["id"] if rows else 0), emails


def _entries_chunk(cursor: EmailCursor, *, cutoff, chunk_size: int) -> tuple[int, list[MemberEmail]]:
    # By id alone (the primary key's index), cut at the first young entry; every kind is read so the cursor
    # moves past redemptions and expiries too.
    rows = rows_older_than(
        list(
            PointEntry.objects.filter(id__gt=cursor.last_id)
            .order_by("id")
            .values("id", "kind", "created_at", "available_change", "pending_change", "account__member_id")[:chunk_size]
        ),
        cutoff,
    )
    if not rows:
        return 0, []
    earn_ids = [row["id"] for row in rows if row["kind"] == PointEntry.Kind.EARN]
    lots = {
        m["entry_id"]: m
        for m in PointMovement.objects.filter(
            entry_id__in=earn_ids, lot__source__in=[PointLot.Source.ORDER, PointLot.Source.EVENT]
        ).values("entry_id", "lot_id", "lot__source", "lot__source_ref", "lot__available_at")
    }
    order_lot_ids = [m["lot_id"] for m in lots.values() if m["lot__source"] == PointLot.Source.ORDER]
    orders = {
        o["lot_id"]: o
        for o in Order.objects.filter(lot_id__in=order_lot_ids).values(
            "lot_id", "external_id", "total", "currency", "shop__name"
        )
    }
    emails: dict[tuple[str, str], MemberEmail] = {}
    for row in rows:
        member_id, points = row["account__member_id"], row["available_change"] + row["pending_change"]
        if row["kind"] == PointEntry.Kind.RELEASE and row["available_change"] > 0:
            key = (Kind.POINTS_RELEASED, f"entry:{row['id']}")
            emails[key] = _email(member_id, *key, points=row["available_change"])
            continue
        lot = lots.get(row["id"])
        if lot is None or points <= 0:
            continue
        if lot["lot__source"] == PointLot.Source.ORDER:
            order = orders.get(lot["lot_id"], {})
            key = (Kind.POINTS_EARNED, f"entry:{row['id']}")
            emails[key] = _email(
                member_id,
                *key,
                points=points,
                pending=row["pending_change"] > 0,
                available_at=lot["lot__available_at"].isoformat(),
                order=order.get("external_id", lot["lot__source_ref"]),
                total=str(order["total"]) if order else "",
                currency=order.get("currency", ""),
                shop=order.get("shop__name", ""),
            )
        elif lot["lot__source_ref"].startswith("birthday:"):
            # One birthday can pay a rule and a tier's perk: one email for the day, with the points added up.
            key = (Kind.BIRTHDAY, lot["lot__source_ref"])
            if key in emails:
                emails[key].context["points"] += points
            else:
                emails[key] = _email(member_id, *key, points=points)
    return rows[-1]["id"], list(emails.values())


def _redemptions_chunk(cursor: EmailCursor, *, cutoff, chunk_size: int) -> tuple[int, list[MemberEmail]]:
    # The coupon is read in the same query (the reverse one-to-one that redemption_coupon() follows per row).
    rows = rows_older_than(
        list(
            Redemption.objects.filter(id__gt=cursor.last_id)
            .order_by("id")
            .values(
                "id",
                "created_at",
                "member_id",
                "points",
                "kind",
                "value",
                "currency",
                "reward__title",
                "coupon__code",
                "coupon__expires_at",
            )[:chunk_size]
        ),
        cutoff,
    )
    emails = [
        _email(
            row["member_id"],
            Kind.REWARD_REDEEMED,
            f"redemption:{row['id']}",
            reward=row["reward__title"],
            points=row["points"],
            code=row["coupon__code"] or "",
            code_expires_at=row["coupon__expires_at"].isoformat() if row["coupon__expires_at"] else "",
            value=str(row["value"]) if row["value"] is not None else "",
            currency=row["currency"],
        )
        for row in rows
    ]
    return (rows[-1]["id"] if rows else 0), emails


def _tiers_chunk(cursor: EmailCursor, *, cutoff, chunk_size: int) -> tuple[int, list[MemberEmail]]:
    rows = rows_older_than(
        list(
            TierChange.objects.filter(id__gt=cursor.last_id)
            .order_by("id")
            .values(
                "id",
                "created_at",
                "account__member_id",
                "from_tier__name",
                "from_tier__rank",
                "to_tier__name",
                "to_tier__rank",
            )[:chunk_size]
        ),
        cutoff,
    )
    emails = []
    for row in rows:
        from_rank = row["from_tier__rank"]
        if from_rank is not None and from_rank == row["to_tier__rank"]:
            continue
        kind = Kind.TIER_UP if from_rank is None or row["to_tier__rank"] > from_rank else Kind.TIER_DOWN
        emails.append(
            _email(
                row["account__member_id"],
                kind,
                f"tierchange:{row['id']}",
                tier=row["to_tier__name"],
                from_tier=row["from_tier__name"] or "",
            )
        )
    return (rows[-1]["id"] if rows else 0), emails


def _referrals_chunk(cursor: EmailCursor, *, cutoff, chunk_size: int) -> tuple[int, list[MemberEmail]]:
    # Not append-only: read by (granted_at, id) after the cursor; a reward granted and reversed within the lag
    # is not announced, and the unique (kind, source_key) keeps a re-read from sending twice.
    granted = ReferralReward.objects.filter(status=ReferralReward.Status.GRANTED, granted_at__lte=cutoff)
    if cursor.last_at is not None:
        granted = granted.filter(Q(granted_at__gt=cursor.last_at) | Q(granted_at=cursor.last_at, id__gt=cursor.last_id))
    rows = list(
        granted.order_by("granted_at", "id").values(
            "id", "granted_at", "member_id", "side", "kind", "points", "amount", "currency", "reward__title"
        )[:chunk_size]
    )
    if not rows:
        return 0, []
    emails = [
        _email(
            row["member_id"],
            Kind.REFERRAL_REWARD,
            f"referralreward:{row['id']}",
            side=row["side"],
            points=row["points"],
            amount=str(row["amount"]) if row["amount"] is not None else "",
            currency=row["currency"],
            reward=row["reward__title"] or "",
        )
        for row in rows
    ]
    cursor.last_at = rows[-1]["granted_at"]
    return rows[-1]["id"], emails


SOURCES: dict[str, Callable] = {
    "members": _members_chunk,
    "point_entries": _entries_chunk,
    "redemptions": _redemptions_chunk,
    "tier_changes": _tiers_chunk,
    "referral_rewards": _referrals_chunk,
}


def _expiring_collect(*, now: dt.datetime, days: int) -> int:
    """One points-expiring email per member per expiry date (the program's day) for the available points
    that expire by the end of the day `days` days ahead; one grouped query and one insert."""
    zone = ZoneInfo(program_get().time_zone)
    target = now.astimezone(zone).date() + dt.timedelta(days=days + 1)
    end = dt.datetime(target.year, target.month, target.day, tzinfo=zone)
    groups = (
        PointLot.objects.filter(state=PointLot.State.AVAILABLE, expires_at__gt=now, expires_at__lt=end)
        .annotate(day=TruncDate("expires_at", tzinfo=zone))
        .values("account__member_id", "day")
        .annotate(points=Sum("remaining"))
        .order_by()
    )
    emails = [
        _email(
            g["account__member_id"],
            Kind.POINTS_EXPIRING,
            f"expiring:{g['account__member_id']}:{g['day'].isoformat()}",
            points=g["points"],
            date=g["day"].isoformat(),
        )
        for g in groups
    ]
    return len(MemberEmail.objects.bulk_create(emails, ignore_conflicts=True, batch_size=CHUNK_SIZE))


def emails_collect(
    *,
    lag: dt.timedelta = COLLECT_LAG,
    chunk_size: int = CHUNK_SIZE,
    now: dt.datetime | None = None,
    expiring_days: int | None = None,
) -> int:
    """Queue one email per event written since each source's cursor and older than `lag`, once per event;
    set-based, idempotent, safe to run twice at once. Returns how many rows it tried to insert."""
    now = now or timezone.now()
    cutoff = now - lag
    queued = 0
    for source, step in SOURCES.items():
        EmailCursor.objects.get_or_create(source=source)
        while True:
            with transaction.atomic():
                cursor = EmailCursor.objects.select_for_update().get(source=source)
                last_id, emails = step(cursor, cutoff=cutoff, chunk_size=chunk_size)
                if not last_id:
                    break
                MemberEmail.objects.bulk_create(emails, ignore_conflicts=True)
                cursor.last_id = last_id
                cursor.save(update_fields=["last_id", "last_at"])
            queued += len(emails)
    # Expiring points: not a stream of facts but a look ahead, taken at most once an hour.
    EmailCursor.objects.get_or_create(source="points_expiring")
    with transaction.atomic():
        cursor = EmailCursor.objects.select_for_update().get(source="points_expiring")
        if cursor.last_at is None or cursor.last_at <= now - EXPIRING_EVERY:
            days = settings.EMAIL_EXPIRING_DAYS if expiring_days is None else expiring_days
            queued += _expiring_collect(now=now, days=days)
            cursor.last_at = now
            cursor.save(update_fields=["last_at"])
    return queued


# --- consent -----------------------------------------------------------------------------------------------


def email_preferences_get(*, member: Member) -> EmailPreferences:
    """The member's preferences; an unsaved default row (every category on) if the member never changed them."""
    try:
        return member.email_preferences
    except EmailPreferences.DoesNotExist:
        return EmailPreferences(member=member)


def email_preferences_update(*, member: Member, activity: bool | None = None, marketing: bool | None = None):
    """Set the categories given (None leaves one as it is); made on first change; idempotent."""
    prefs, _created = EmailPreferences.objects.get_or_create(member=member)
    changed = []
    for name, value in (("activity", activity), ("marketing", marketing)):
        if value is not None and getattr(prefs, name) != value:
            setattr(prefs, name, value)
            changed.append(name)
    if changed:
        prefs.save(update_fields=[*changed, "updated_at"])
    member.email_preferences = prefs
    return prefs


def email_skip_reason(*, member: Member, kind: str, prefs: EmailPreferences) -> str:
    """Why this member must not get this email now, or "" if it may be sent (the table in docs/emails.md)."""
    if member.status != Member.Status.ACTIVE:
        return f"member is {member.status}"
    if not member.user.email or not member.user.is_active:
        return "no e-mail address"
    category = CATEGORY_OF[kind]
    if category == Category.ACTIVITY and not prefs.activity:
        return "activity emails turned off"
    if category == Category.MARKETING:
        if not member.marketing_consent:
            return "no marketing consent"
        if not prefs.marketing:
            return "offers and reminders turned off"
    return ""


# --- unsubscribe -------------------------------------------------------------------------------------------


def unsubscribe_token(*, member: Member, category: str) -> str:
    return signing.dumps({"m": str(member.public_id), "c": category}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_read(token: str) -> tuple[Member, str] | None:
    """The member and category a token names, or None for a forged, damaged or stale one."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        category = data["c"]
        if category not in (Category.ACTIVITY, Category.MARKETING, ALL):
            return None
        return Member.objects.select_related("user").get(public_id=data["m"]), category
    except (signing.BadSignature, KeyError, TypeError, ValueError, Member.DoesNotExist):
        return None


def email_unsubscribe(*, member: Member, category: str) -> EmailPreferences:
    """Turn the category off (`all`: activity and marketing); account emails cannot be turned off. Idempotent."""
    off = {"activity": False, "marketing": False} if category == ALL else {category: False}
    return email_preferences_update(member=member, **off)


# --- sending -----------------------------------------------------------------------------------------------


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def email_render(email: MemberEmail, *, program=None) -> tuple[str, str, str, dict]:
    """(subject, text, html, headers) of one email; pure apart from reading the program."""
    program = program or program_get()
    member = email.member
    category = CATEGORY_OF[email.kind]
    unsubscribe_url = ""
    headers = {}
    if category != Category.ACCOUNT:
        token = unsubscribe_token(member=member, category=category)
        unsubscribe_url = _absolute(reverse("notifications:unsubscribe", args=[token]))
        headers = {"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    context = {
        **email.context,
        "kind": email.kind,
        "member": member,
        "name": member.first_name,
        "program": program.name,
        "currency": email.context.get("currency") or program.currency,
        "site_url": settings.SITE_URL.rstrip("/"),
        "dashboard_url": _absolute(reverse("members:dashboard")),
        "preferences_url": _absolute(reverse("members:preferences")),
        "unsubscribe_url": unsubscribe_url,
        "category": category,
    }
    for name in ("available_at", "code_expires_at"):
        if context.get(name):
            context[name] = dt.datetime.fromisoformat(context[name])
    if context.get("date"):
        context["date"] = dt.date.fromisoformat(context["date"])
    base = f"notifications/email/{email.kind}"
    with timezone.override(ZoneInfo(program.time_zone)):
        subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
        text = render_to_string(f"{base}.txt", context)
        html = render_to_string(f"{base}.html", context)
    return subject, text, html, headers


def _claim(email_id: int, *, now: dt.datetime) -> MemberEmail | None:
    """Lease one due row to this worker (the row lock keeps two workers from taking it at once)."""
    with transaction.atomic():
        email = (
            MemberEmail.objects.select_for_update(skip_locked=connection.features.has_select_for_update_skip_locked)
            .filter(pk=email_id, status=Status.QUEUED, next_attempt_at__lte=now)
            .first()
        )
        if email is None:
            return None
        MemberEmail.objects.filter(pk=email_id).update(next_attempt_at=now + LEASE, attempts=F("attempts") + 1)
    return MemberEmail.objects.select_related("member__user").get(pk=email_id)


def email_send(*, email_id: int, now: dt.datetime | None = None) -> str:
    """Send one queued email, once (also with two workers), if the member's settings allow it; record why
    not otherwise, and retry a failure with backoff. Returns the row's status afterwards ("" if not due)."""
    now = now or timezone.now()
    email = _claim(email_id, now=now)
    if email is None:
        return ""
    member = email.member
    reason = email_skip_reason(member=member, kind=email.kind, prefs=email_preferences_get(member=member))
    if reason:
        MemberEmail.objects.filter(pk=email.pk).update(status=Status.SKIPPED, reason=reason, updated_at=now)
        return Status.SKIPPED
    try:
        subject, text, html, headers = email_render(email)
        message = EmailMultiAlternatives(
            subject, text, settings.DEFAULT_FROM_EMAIL, [member.user.email], headers=headers
        )
        message.attach_alternative(html, "text/html")
        message.send()  # outside any transaction: a slow mail server holds no lock
    except Exception as error:  # noqa: BLE001 - any failure is recorded on the row and retried
        failed = email.attempts >= MAX_ATTEMPTS
        MemberEmail.objects.filter(pk=email.pk).update(
            status=Status.FAILED if failed else Status.QUEUED,
            reason=f"{type(error).__name__}: {error}"[:500],
            next_attempt_at=now + dt.timedelta(minutes=2**email.attempts),
            updated_at=now,
        )
        return Status.FAILED if failed else Status.QUEUED
    MemberEmail.objects.filter(pk=email.pk).update(
        status=Status.SENT, sent_at=timezone.now(), to_email=member.user.email, subject=subject[:300], reason=""
    )
    return Status.SENT


def emails_due(*, now: dt.datetime | None = None, limit: int = SEND_CHUNK_SIZE) -> list[int]:
    """The ids of queued emails due now, oldest first."""
    now = now or timezone.now()
    return list(
        MemberEmail.objects.filter(status=Status.QUEUED, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )
