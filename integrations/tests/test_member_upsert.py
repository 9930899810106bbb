"""integrations.services.members.member_upsert: finding, creating and linking a shop's customer."""

import datetime as dt

import pytest

from core.exceptions import ApplicationError
from core.tests.concurrency import run_at_once
from integrations.models import ShopCustomer
from integrations.services.members import member_upsert
from integrations.services.shops import shop_create
from members.models import Member, User
from members.services import member_close
from members.tests.factories import member_create
from rewards.selectors import program_get
from rewards.services.ledger import Actor


def test_creates_a_member_with_an_unusable_password_joined_via_the_shop(shop):
    member, created = member_upsert(
        shop=shop,
        external_id=" cust-1 ",
        email=" Ana@Example.COM ",
        first_name=" Ana ",
        last_name="Jansen",
        birthday=dt.date(1990, 5, 17),
        marketing_consent=True,
        referral_code="FRIEND10",
    )
    assert created is True
    member.refresh_from_db()
    assert member.user.email == "ana@example.com"
    assert not member.user.has_usable_password()
    assert member.joined_via == "Webshop NL"
    assert (member.first_name, member.last_name, member.birthday) == ("Ana", "Jansen", dt.date(1990, 5, 17))
    assert member.marketing_consent is True and member.marketing_consent_at is not None
    assert member.points_account.available == 0
    link = ShopCustomer.objects.get(shop=shop, member=member)
    assert link.external_id == "cust-1"


def test_signup_bonus_is_given_through_member_signup(shop):
    program = program_get()
    program.signup_bonus = 25
    program.save()
    member, _ = member_upsert(shop=shop, email="bonus@example.com")
    assert member.points_account.available == 25


def test_the_same_customer_again_changes_nothing_and_is_not_created(shop):
    first, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com", first_name="Ana")
    again, created = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com", first_name="Ana")
    assert created is False and again.pk == first.pk
    assert Member.objects.count() == 1 and ShopCustomer.objects.count() == 1


def test_found_by_external_id_alone_and_fields_updated_none_leaves_them(shop):
    member, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com", first_name="Ana", last_name="J")
    found, created = member_upsert(shop=shop, external_id="cust-1", last_name="Jansen")
    assert created is False and found.pk == member.pk
    found.refresh_from_db()
    assert (found.first_name, found.last_name) == ("Ana", "Jansen")


def test_email_is_case_insensitive_and_links_a_web_member(shop):
    web = member_create(email="piet@example.com")
    member, created = member_upsert(shop=shop, external_id="c-9", email="PIET@example.com")
    assert created is False and member.pk == web.pk
    assert ShopCustomer.objects.get(shop=shop, member=web).external_id == "c-9"
    assert web.user.has_usable_password()  # an existing login is left alone


def test_email_only_links_without_external_id_and_a_later_call_fills_it_in(shop):
    member, created = member_upsert(shop=shop, email="ana@example.com")
    assert created is True
    assert ShopCustomer.objects.get(shop=shop, member=member).external_id is None
    again, created = member_upsert(shop=shop, external_id="cust-7", email="ana@example.com")
    assert created is False and again.pk == member.pk
    assert ShopCustomer.objects.get(shop=shop, member=member).external_id == "cust-7"


def test_the_email_is_never_changed_by_a_shop(shop):
    member, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    again, _ = member_upsert(shop=shop, external_id="cust-1", email="new-address@example.com")
    assert again.pk == member.pk
    assert User.objects.get(pk=member.user_id).email == "ana@example.com"
    assert not User.objects.filter(email="new-address@example.com").exists()


def test_each_shop_has_its_own_external_ids(shop):
    other = shop_create(name="Store Utrecht", kind="store")
    a, _ = member_upsert(shop=shop, external_id="1", email="a@example.com")
    b, created = member_upsert(shop=other, external_id="1", email="b@example.com")
    assert created is True and a.pk != b.pk
    same, created = member_upsert(shop=other, external_id="2", email="a@example.com")
    assert created is False and same.pk == a.pk  # one member, known to two shops under their own ids
    assert ShopCustomer.objects.filter(member=a).count() == 2


def test_consent_change_records_when(shop):
    member, _ = member_upsert(shop=shop, email="ana@example.com")
    assert member.marketing_consent is False and member.marketing_consent_at is None
    member, _ = member_upsert(shop=shop, email="ana@example.com", marketing_consent=True)
    given = Member.objects.get(pk=member.pk).marketing_consent_at
    assert given is not None
    member_upsert(shop=shop, email="ana@example.com", marketing_consent=True)  # unchanged: same time
    assert Member.objects.get(pk=member.pk).marketing_consent_at == given
    member_upsert(shop=shop, email="ana@example.com", marketing_consent=False)
    withdrawn = Member.objects.get(pk=member.pk)
    assert withdrawn.marketing_consent is False and withdrawn.marketing_consent_at > given


def _error(**kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        member_upsert(**kwargs)
    return caught.value


def test_needs_an_external_id_or_an_email(shop):
    error = _error(shop=shop, external_id="  ", email=None, first_name="Ana")
    assert (error.status, error.code) == (400, "validation_error")
    assert not Member.objects.exists()


def test_an_unknown_external_id_alone_cannot_register(shop):
    error = _error(shop=shop, external_id="cust-1")
    assert (error.status, error.code) == (422, "email_required")
    assert not Member.objects.exists() and not ShopCustomer.objects.exists()


def test_external_id_of_another_member_than_the_email_is_a_conflict(shop):
    member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    member_upsert(shop=shop, external_id="cust-2", email="piet@example.com")
    error = _error(shop=shop, external_id="cust-1", email="piet@example.com", first_name="Changed")
    assert (error.status, error.code) == (409, "identity_conflict")
    assert not Member.objects.filter(first_name="Changed").exists()


def test_email_member_linked_under_another_external_id_is_a_conflict(shop):
    member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    error = _error(shop=shop, external_id="cust-99", email="ana@example.com")
    assert (error.status, error.code) == (409, "identity_conflict")
    assert error.extra["linked_external_id"] == "cust-1"
    assert not ShopCustomer.objects.filter(external_id="cust-99").exists()


def test_an_email_of_a_login_without_membership_is_a_conflict(shop):
    User.objects.create_user("staff@example.com", "pw", is_staff=True)
    error = _error(shop=shop, email="Staff@example.com")
    assert (error.status, error.code) == (409, "identity_conflict")
    assert not Member.objects.exists()


def test_a_closed_member_is_refused(shop):
    member, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    member_close(member=member, actor=Actor.system("test"))
    error = _error(shop=shop, external_id="cust-1", first_name="Back")
    assert (error.status, error.code) == (422, "member_closed")
    # Its e-mail was anonymised on closing: the address now registers a new member.
    fresh, created = member_upsert(shop=shop, email="ana@example.com")
    assert created is True and fresh.pk != member.pk


# --- concurrency (PostgreSQL, real threads) ------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_identical_requests_at_once_make_one_member_and_one_link():
    shop = shop_create(name="Race shop")
    results = run_at_once(6, lambda _: member_upsert(shop=shop, external_id="cust-1", email="race@example.com"))
    assert all(isinstance(r, tuple) for r in results), results
    assert sorted(created for _, created in results) == [False] * 5 + [True]
    assert len({member.pk for member, _ in results}) == 1
    assert Member.objects.count() == 1 and User.objects.count() == 1
    assert ShopCustomer.objects.get().external_id == "cust-1"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_linking_an_existing_member_at_once_makes_one_link():
    shop = shop_create(name="Race shop")
    web = member_create(email="web@example.com")
    results = run_at_once(6, lambda _: member_upsert(shop=shop, external_id="c-1", email="web@example.com"))
    assert all(isinstance(r, tuple) and r == (web, False) for r in results), results
    assert ShopCustomer.objects.filter(shop=shop, member=web, external_id="c-1").count() == 1
