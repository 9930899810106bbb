"""Sign-up and member numbers (members.services)."""

import pytest
from django.db import IntegrityError

from members import services
from members.models import Member, User
from members.services import luhn_check_digit, luhn_valid, member_number_new, member_signup
from members.tests.factories import member_create
from rewards.models import PointEntry, PointsAccount
from rewards.selectors import ledger_audit, program_get


def test_luhn_check_digit_matches_known_card_numbers():
    assert luhn_check_digit("7992739871") == "3"  # the textbook example
    assert luhn_valid("79927398713")
    assert luhn_valid("4111111111111111")  # a well-known test card number


def test_member_numbers_are_printable_and_catch_a_mistyped_digit():
    for _ in range(200):
        number = member_number_new()
        assert len(number) == 12 and number.isdigit() and number[0] != "0"
        assert luhn_valid(number)
        typo = number[:3] + str((int(number[3]) + 1) % 10) + number[4:]
        assert not luhn_valid(typo)


@pytest.mark.django_db
def test_signup_creates_user_member_account_and_bonus_together():
    program = program_get()
    program.signup_bonus = 250
    program.save()
    user = User(email="  New.Shopper@Example.com ")
    user.set_password("correct-horse-battery")
    member = member_signup(user=user, first_name=" Ada ", last_name="Lovelace", marketing_consent=True)

    assert member.user.email == "new.shopper@example.com"
    assert member.first_name == "Ada" and member.status == "active" and member.joined_via == "web"
    assert member.marketing_consent_at is not None
    account = PointsAccount.objects.get(member=member)
    assert (account.available, account.pending, account.lifetime_earned) == (250, 0, 250)
    bonus = PointEntry.objects.get(account=account)
    assert (bonus.kind, bonus.points, bonus.actor_kind) == ("earn", 250, "system")
    assert ledger_audit() == []


@pytest.mark.django_db
def test_signup_without_bonus_writes_no_entry():
    member = member_create()
    assert member.points_account.available == 0
    assert not PointEntry.objects.exists()
    assert member.marketing_consent_at is None


@pytest.mark.django_db
def test_signup_is_all_or_nothing(monkeypatch):
    def broken_account(**kwargs):
        raise IntegrityError("simulated failure after the member row")

    monkeypatch.setattr(services.PointsAccount.objects, "create", broken_account)
    user = User(email="half@example.com")
    with pytest.raises(IntegrityError):
        member_signup(user=user)
    assert not User.objects.filter(email="half@example.com").exists()
    assert not Member.objects.exists()


@pytest.mark.django_db
def test_a_clashing_member_number_is_retried(monkeypatch):
    first = member_create()
    numbers = iter([first.number, "123456789015"])
    monkeypatch.setattr(services, "member_number_new", lambda: next(numbers))
    second = member_create()
    assert second.number == "123456789015"
