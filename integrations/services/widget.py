"""Writes for the storefront widget: the shopper a verified token names becomes (or is) a member."""

from core.exceptions import ApplicationError
from integrations.models import Shop, ShopCustomer
from integrations.services.members import member_upsert
from integrations.widget_auth import Shopper
from members.models import Member


def widget_member_get_or_join(*, shop: Shop, shopper: Shopper) -> Member:
    """The shop's customer `shopper.external_id` as a member; made (integrations.services.members.member_upsert,
    by external id and e-mail) on first use when the shop's widget lets shoppers join, else a 403."""
    link = (
        ShopCustomer.objects.select_related("member__user", "member__points_account")
        .filter(shop=shop, external_id=shopper.external_id)
        .first()
    )
    if link is None:
        if not shop.widget_auto_join:
            raise ApplicationError(
                "This shopper is not a member yet, and this shop does not let the widget enrol them.",
                code="not_a_member",
                status=403,
            )
        if shopper.email is None:
            raise ApplicationError(
                "To enrol a new member the shopper token needs the 'email' claim.", code="email_required", status=403
            )
        member, _ = member_upsert(shop=shop, external_id=shopper.external_id, email=shopper.email)
        member = Member.objects.select_related("user", "points_account").get(pk=member.pk)
    else:
        member = link.member
    if member.status == Member.Status.CLOSED:  # a suspended member still sees their points (not redeem)
        raise ApplicationError("This membership is closed.", code="member_closed", status=403)
    return member
