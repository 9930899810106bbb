"""points_adjust: a replay survives a lowered staff limit; a closed membership cannot be credited."""

import pytest

from members.services import member_close
from rewards.models import PointEntry
from rewards.services.ledger import Actor, points_adjust
from rewards.tests.helpers import refused, staff_user

pytestmark = pytest.mark.django_db


def test_a_replayed_adjustment_answers_even_after_the_limit_was_lowered(account, program):
    agent = staff_user("adjust_points")
    first = points_adjust(
        account=account, points=500, reason="Lost order", actor=Actor.staff(agent), idempotency_key="adj-1"
    )
    program.staff_adjust_limit = 100
    program.save()

    again = points_adjust(
        account=account, points=500, reason="Lost order", actor=Actor.staff(agent), idempotency_key="adj-1"
    )

    assert again.pk == first.pk
    assert PointEntry.objects.filter(kind="adjust").count() == 1
    with refused("adjustment_over_limit", 422):
        points_adjust(
            account=account, points=500, reason="Lost order", actor=Actor.staff(agent), idempotency_key="adj-2"
        )


def test_a_closed_membership_cannot_be_credited(account):
    member_close(member=account.member, actor=Actor.system())
    manager = staff_user("adjust_points", "adjust_points_unlimited")

    with refused("member_not_active", 422):
        points_adjust(
            account=account, points=50, reason="Goodwill", actor=Actor.staff(manager), idempotency_key="adj-closed"
        )

    account.refresh_from_db()
    assert (account.available, account.pending) == (0, 0)
