"""Writes for members: sign-up, profile, preferences, closure."""

import secrets
import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.exceptions import ApplicationError
from members.models import Member, User
from rewards.models import PointLot, PointsAccount
from rewards.selectors import program_get
from rewards.services.events import event_sign_up_record
from rewards.services.ledger import Actor, points_earn, points_expire

NUMBER_DIGITS = 12  # 11 random digits and a Luhn check digit, printed as three groups of four


def luhn_check_digit(digits: str) -> str:
    """The digit that makes `digits` + it pass the Luhn check (the one payment cards use)."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2 == 0:  # doubled: these become the odd positions once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return number.isdigit() and len(number) > 1 and luhn_check_digit(number[:-1]) == number[-1]


def member_number_new() -> str:
    """A random member number; random (not sequential) so that numbers cannot be guessed from one another."""
    body = str(secrets.randbelow(9 * 10 ** (NUMBER_DIGITS - 2)) + 10 ** (NUMBER_DIGITS - 2))
    return body + luhn_check_digit(body)


def member_signup(
    *,
    user: User,
    first_name: str = "",
    last_name: str = "",
    birthday=None,
    marketing_consent: bool = False,
    joined_via: str = "web",
) -> Member:
    """Save the new user and create its member, points account and sign-up bonus in one transaction."""
    now = timezone.now()
    with transaction.atomic():
        user.email = user.email.strip().lower()
        user.save()
        member = _member_create(
            user=user,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            birthday=birthday,
            marketing_consent=marketing_consent,
            marketing_consent_at=now if marketing_consent else None,
            joined_via=joined_via,
            joined_at=now,
        )
        # Joining counts as activity: the inactivity expiry policy counts from here.
        account = PointsAccount.objects.create(member=member, last_activity_at=now)
        bonus = program_get().signup_bonus
        if bonus:
            points_earn(
                account=account,
                points=bonus,
                source=PointLot.Source.SIGNUP,
                actor=Actor.system("signup"),
                idempotency_key=f"signup:{member.public_id}",
                reason="Welcome bonus",
            )
        event_sign_up_record(member=member)  # the sign_up event rules, beside the program's bonus
    return member


def _member_create(**fields) -> Member:
    # A clash of random 12-digit numbers is rare; retry inside a savepoint when it happens.
    for _ in range(5):
        try:
            with transaction.atomic():
                return Member.objects.create(number=member_number_new(), **fields)
        except IntegrityError:
            if Member.objects.filter(user=fields["user"]).exists():
                raise
    raise ApplicationError("Could not allocate a member number; please try again.", code="number_exhausted")


def member_profile_update(*, member: Member, first_name: str, last_name: str, birthday) -> Member:
    """Change the member's names and birthday."""
    _require_open(member)
    before = {"first_name": member.first_name, "last_name": member.last_name, "birthday": member.birthday}
    member.first_name, member.last_name, member.birthday = first_name.strip(), last_name.strip(), birthday
    with transaction.atomic():
        member.save(update_fields=["first_name", "last_name", "birthday", "updated_at"])
        _member_updated_publish(member, [name for name, old in before.items() if getattr(member, name) != old])
    return member


def member_preferences_update(*, member: Member, marketing_consent: bool) -> Member:
    """Give or withdraw marketing consent, remembering when."""
    _require_open(member)
    if member.marketing_consent != marketing_consent:
        member.marketing_consent = marketing_consent
        member.marketing_consent_at = timezone.now()
        with transaction.atomic():
            member.save(update_fields=["marketing_consent", "marketing_consent_at", "updated_at"])
            _member_updated_publish(member, ["marketing_consent"])
    return member


def _member_updated_publish(member: Member, changed: list[str]) -> None:
    """Webhook `member.updated` to the member's shops, in the caller's transaction (nothing when unchanged)."""
    # Imported here: webhooks imports integrations, whose services import this module.
    from webhooks.services import member_updated_publish

    if changed:
        member_updated_publish(member=member, changed=changed)


def member_close(*, member: Member, actor: Actor) -> Member:
    """Close the account: forfeit the points (recorded in the ledger), anonymise personal data, block
    the login. The ledger is kept, so the program's accounts still add up."""
    from allauth.account.models import EmailAddress

    _require_open(member)
    with transaction.atomic():
        account = PointsAccount.objects.select_for_update(no_key=True).get(member=member)
        if account.available or account.pending:
            points_expire(
                account=account,
                actor=actor,
                idempotency_key=f"close:{member.public_id}",
                reason="Account closed",
                everything=True,
            )
        user = member.user
        EmailAddress.objects.filter(user=user).delete()
        user.email = f"closed-{uuid.uuid4().hex}@invalid"
        user.is_active = False
        user.set_unusable_password()
        user.save(update_fields=["email", "is_active", "password"])
        member.first_name = member.last_name = ""
        member.birthday = None
        member.marketing_consent = False
        member.marketing_consent_at = timezone.now()
        member.status = Member.Status.CLOSED
        member.save()
        _member_updated_publish(member, ["status", "email", "first_name", "last_name", "birthday", "marketing_consent"])
    return member


def _require_open(member: Member) -> None:
    if member.status == Member.Status.CLOSED:
        raise ApplicationError("This account is closed.", code="member_closed", status=409)
