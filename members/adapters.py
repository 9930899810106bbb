"""How allauth's sign-up and e-mail confirmation reach the member services.

Orders a shop posted for an e-mail address nobody had joined with are kept unmatched
(integrations.services.orders). A web sign-up gets them only once the member has proved the address is
theirs, by confirming it: otherwise anyone could sign up with someone else's address and take their points.
So the matching runs on allauth's `email_confirmed` signal, not on sign-up. A signal rather than an override
of AccountAdapter.confirm_email, because the signal is the one place every way of verifying an address
passes (the link, a code, a password reset by code, the admin's "mark as verified"); the adapter method is
only on the first two. It is connected in MembersConfig.ready().
"""

import logging

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from django.db import transaction
from django.urls import reverse

from core.exceptions import ApplicationError
from members.models import Member
from members.services import member_signup

logger = logging.getLogger(__name__)


class AccountAdapter(DefaultAccountAdapter):
    """Sign-up goes through members.services.member_signup: user, member, account and bonus together."""

    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=False)
        if not commit:
            return user
        data = form.cleaned_data
        with transaction.atomic():  # the member and their referral together, or neither
            member = member_signup(
                user=user,
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
                birthday=data.get("birthday"),
                marketing_consent=data.get("marketing_consent", False),
                joined_via="web",
            )
            _referral_join(request, member=member, typed=data.get("referral_code", ""))
        return user

    def get_login_redirect_url(self, request):
        # Staff logins without a membership have nothing to see on the member pages: send them to the
        # admin instead of the "no membership" page.
        user = request.user
        if user.is_staff and not Member.objects.filter(user=user).exists():
            return reverse("admin:index")
        return super().get_login_redirect_url(request)


def _referral_join(request, *, member: Member, typed: str) -> None:
    """Credit the friend who invited the new member: the code in the sign-up form wins over the link's
    cookie. The form is filled in with the cookie's code, so the same code left as it was is the link
    (channel "link", the click's own row); another code is typed (channel "code")."""
    from referrals.cookies import attribution_cookie, client_ip, device_id
    from referrals.models import Referral
    from referrals.services import click_from_cookie, code_clean, referral_join

    code, cookie = code_clean(typed), attribution_cookie(request)
    if code and cookie:
        click = click_from_cookie(cookie)
        if click is not None and click.code == code:
            code = ""
    try:
        with transaction.atomic():
            referral_join(
                friend=member,
                code=code or None,
                cookie=cookie,
                channel=Referral.Channel.CODE if code else Referral.Channel.LINK,
                ip=client_ip(request),
                device=device_id(request),
            )
    except ApplicationError as error:
        # The form checked the code; one gone since (a race with staff) does not stop the sign-up.
        logger.warning("Sign-up of member %s without its referral: %s", member.pk, error.message)


def orders_match_on_email_confirmed(*, email_address: EmailAddress, **kwargs) -> None:
    """allauth's `email_confirmed`: the member now owns this address, so they get the unmatched orders placed
    under it (the login's address or a second one they added and confirmed)."""
    # A function-level import: integrations builds on members (its models and services import ours), so
    # members importing integrations at module level would make the two apps import each other.
    from integrations.services.orders import orders_match_for

    member = Member.objects.select_related("user").filter(user_id=email_address.user_id).first()
    if member is None:
        return  # a staff login without a membership
    orders_match_for(member=member, email=email_address.email)
