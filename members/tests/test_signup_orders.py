"""A shopper who signs up on the web gets the orders a shop posted under their e-mail before they joined,
but only once they have confirmed that address (members/adapters.py): a sign-up alone proves nothing."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from integrations.models import Order
from integrations.services.orders import order_record
from integrations.services.shops import shop_create
from members.models import Member
from members.tests.test_signup import signup_data
from rewards.models import EarningRule, PointLot
from rewards.selectors import ledger_audit, program_get


@pytest.fixture
def shop(db):
    EarningRule.objects.all().delete()
    EarningRule.objects.create(name="Base rate", kind="base_rate", currency="EUR", points=1, amount=1)
    return shop_create(name="Webshop NL", currency="EUR", time_zone="Europe/Amsterdam")


@pytest.fixture(autouse=True)
def _audit(db):
    yield
    assert ledger_audit() == []


def unmatched_order(shop, external_id: str, email: str, total: str = "80.00") -> Order:
    order, _ = order_record(
        shop=shop,
        data={
            "external_id": external_id,
            "email": email,
            "currency": "EUR",
            "total": Decimal(total),
            "placed_at": timezone.now() - dt.timedelta(days=1),
        },
    )
    assert order.status == Order.Status.UNMATCHED and order.points == 0
    return order


def confirm_link(outbox_index: int = -1) -> str:
    return re.search(r"https?://[^/]+(/accounts/confirm-email/\S+)", mail.outbox[outbox_index].body).group(1)


def account_points(member: Member) -> tuple[int, int]:
    member.points_account.refresh_from_db()
    return member.points_account.available, member.points_account.pending


@pytest.mark.parametrize("pending_days, expected", [(0, (80, 0)), (14, (0, 80))])
def test_mandatory_verification_matches_when_the_address_is_confirmed(client, settings, shop, pending_days, expected):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    program = program_get()
    program.pending_days = pending_days
    program.save()
    order = unmatched_order(shop, "o-1", "ada@example.com")

    client.post(reverse("account_signup"), signup_data(email="Ada@Example.com"))
    member = Member.objects.get(user__email="ada@example.com")
    order.refresh_from_db()
    assert order.status == Order.Status.UNMATCHED and account_points(member) == (0, 0)  # not yet: unproven

    client.post(confirm_link())
    order.refresh_from_db()
    assert order.status == Order.Status.AWARDED and order.member == member and order.points == 80
    assert account_points(member) == expected
    assert order.lot.state == (PointLot.State.PENDING if pending_days else PointLot.State.AVAILABLE)


def test_an_unverified_sign_up_gets_nothing_until_it_confirms(client, shop):
    # Optional verification (the local default): the sign-up signs in at once, unverified.
    order = unmatched_order(shop, "o-1", "ada@example.com")
    response = client.post(reverse("account_signup"), signup_data(email="ada@example.com"))
    assert response.status_code == 302 and "_auth_user_id" in client.session
    member = Member.objects.get()
    assert not EmailAddress.objects.get(user=member.user).verified
    order.refresh_from_db()
    assert order.status == Order.Status.UNMATCHED and account_points(member) == (0, 0)
    assert client.get(reverse("members:dashboard")).status_code == 200  # browsing does not match either
    order.refresh_from_db()
    assert order.status == Order.Status.UNMATCHED

    client.post(confirm_link())
    order.refresh_from_db()
    assert order.status == Order.Status.AWARDED and account_points(member) == (80, 0)

    client.post(confirm_link())  # the link again: nothing twice
    assert account_points(member) == (80, 0)


def test_confirming_a_second_address_matches_its_orders(client, shop):
    client.post(reverse("account_signup"), signup_data(email="ada@example.com"))
    client.post(confirm_link())
    member = Member.objects.get()
    work = unmatched_order(shop, "o-work", "ada@work.example.com", total="25.00")
    someone_else = unmatched_order(shop, "o-other", "bob@example.com")

    client.post(reverse("account_email"), {"action_add": "", "email": "Ada@Work.Example.com"})
    assert EmailAddress.objects.filter(user=member.user, email="ada@work.example.com", verified=False).exists()
    work.refresh_from_db()
    assert work.status == Order.Status.UNMATCHED  # added, not yet confirmed

    client.post(confirm_link())
    work.refresh_from_db()
    someone_else.refresh_from_db()
    assert work.status == Order.Status.AWARDED and work.member == member
    assert someone_else.status == Order.Status.UNMATCHED
    assert account_points(member) == (25, 0)


def test_an_address_staff_mark_as_verified_matches_too(admin_client, shop):
    from members.tests.factories import member_create

    order = unmatched_order(shop, "o-1", "grace@example.com")
    member = member_create(email="grace@example.com")
    address = EmailAddress.objects.create(user=member.user, email="grace@example.com", primary=True, verified=False)
    admin_client.post(
        "/admin/account/emailaddress/", {"action": "make_verified", "_selected_action": [address.pk]}, follow=True
    )
    order.refresh_from_db()
    assert order.status == Order.Status.AWARDED and account_points(member) == (80, 0)


def test_a_staff_login_without_a_membership_confirming_an_address_is_left_alone(shop):
    from allauth.account.signals import email_confirmed

    from members.models import User

    user = User.objects.create_user("staff@example.com", "pw-12345678", is_staff=True)
    address = EmailAddress.objects.create(user=user, email="staff@example.com", verified=True)
    order = unmatched_order(shop, "o-1", "staff@example.com")
    email_confirmed.send(sender=EmailAddress, request=None, email_address=address)
    order.refresh_from_db()
    assert order.status == Order.Status.UNMATCHED
