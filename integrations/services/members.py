"""Writes for members as shops see them: register or update a customer, adjust their points."""

import datetime as dt

from django.db import IntegrityError, transaction

from core.exceptions import ApplicationError
from integrations.models import Shop, ShopCustomer
from integrations.services.orders import orders_match_for
from members.models import Member, User
from members.services import member_preferences_update, member_profile_update, member_signup
from referrals.models import Referral, ReferralCode
from referrals.selectors import referral_program_cached
from referrals.services import code_clean, referral_join
from rewards.models import PointEntry
from rewards.services.ledger import Actor, points_adjust
from webhooks.services import event_publish, member_data

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
    `referral_code` (while the referral program runs): the member is referred by that code's owner
    (referrals.services.referral_join: a new member as a friend who joined, an existing one as already a
    member, which the checks reject with that reason); an unknown code is a 422 `unknown_referral_code`
    before anything is written."""
    external_id = (external_id or "").strip() or None
    email = (email or "").strip().lower() or None
    if external_id is None and email is None:
        raise ApplicationError(
            "Give the customer's external_id, email or both.",
            code="validation_error",
            status=400,
            extra={"non_field_errors": ["Give external_id, email or both."]},
        )
    referral_code = code_clean(referral_code)
    if referral_code and not referral_program_cached().active:
        referral_code = ""  # the program is off: the code is ignored, as before there was one
    if referral_code and not ReferralCode.objects.filter(code=referral_code).exists():
        raise ApplicationError(
            "No member has this referral code.", code="unknown_referral_code", extra={"referral_code": referral_code}
        )
    for attempt in range(_UPSERT_ATTEMPTS):
        try:
            with transaction.atomic():
                profile = {
                    "first_name": first_name,
                    "last_name": last_name,
                    "birthday": birthday,
                    "marketing_consent": marketing_consent,
                }
                member, created = _member_resolve(shop=shop, external_id=external_id, email=email, profile=profile)
                _member_profile_apply(
                    member,
                    first_name=first_name,
                    last_name=last_name,
                    birthday=birthday,
                    marketing_consent=marketing_consent,
                    created=created,
                )
            break
        except IntegrityError:
            # Another request created the same user or link first (unique constraints on the e-mail, on
            # (shop, external_id) and on (shop, member)); its transaction has committed, so read again.
            if attempt == _UPSERT_ATTEMPTS - 1:
                raise
    # After the upsert's own transaction: a failure here leaves the orders unmatched for the next call.
    orders_match_for(member=member, shop=shop)
    # A known member referred (or refused) before keeps that: sending the same request again stores nothing more.
    if referral_code and (created or not Referral.objects.filter(friend=member).exists()):
        # After the orders are matched: a customer whose earlier orders were kept unmatched is not new.
        referral_join(friend=member, code=referral_code, channel=Referral.Channel.API, existed=not created)
    return member, created


def _identity_conflict(message: str, **extra) -> ApplicationError:
    return ApplicationError(message, code="identity_conflict", status=409, extra=extra)


def _member_created_publish(*, shop: Shop, member: Member, external_id: str | None) -> None:
    """Webhook `member.created` to the shop that has just got this customer, in the link's transaction."""
    data = {"member": {**member_data(member), "external_id": external_id}}
    event_publish(shop=shop, event="member.created", data=data)


def _member_resolve(*, shop: Shop, external_id: str | None, email: str | None, profile: dict) -> tuple[Member, bool]:
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
            _member_created_publish(shop=shop, member=member, external_id=external_id)
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
    # The profile goes in at sign-up: a new customer is one member.created, not also a member.updated.
    given = {name: value for name, value in profile.items() if value is not None}
    member = member_signup(user=user, joined_via=shop.name[:64], **given)
    ShopCustomer.objects.create(shop=shop, member=member, external_id=external_id)
    _member_created_publish(shop=shop, member=member, external_id=external_id)
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
    conflict = ApplicationError(
        "This idempotency key was already used for a different adjustment.",
        code="idempotency_conflict",
        status=409,
        extra={"idempotency_key": idempotency_key},  # the key as the shop sent it, not as the ledger stores it
    )
    try:
        entry = points_adjust(
            account=member.points_account,
            points=points,
            reason=reason,
            actor=Actor.shop(str(shop.public_id)),
            idempotency_key=key,
        )
    except ApplicationError as error:
        if error.code == "idempotency_conflict":
            raise conflict from None
        raise
    if entry.reason != reason:  # the ledger compares the points; a different reason is another request too
        raise conflict
    return entry
