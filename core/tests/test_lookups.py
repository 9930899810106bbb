"""field__any_of: the rows field__in finds, with the values as one array parameter on PostgreSQL."""

import uuid

import pytest
from django.db import connection
from django.db.models.functions import Lower
from django.test.utils import CaptureQueriesContext

from members.models import Member
from members.tests.factories import member_create
from rewards.models import PointsAccount

pytestmark = pytest.mark.django_db


@pytest.fixture
def members():
    return [member_create() for _ in range(4)]


def _pks(queryset):
    return sorted(queryset.values_list("pk", flat=True))


def test_it_finds_what_in_finds_for_values_instances_and_expressions(members):
    some = members[:3]
    uids = [m.public_id for m in some]
    assert _pks(Member.objects.filter(public_id__any_of=uids)) == _pks(Member.objects.filter(public_id__in=uids))
    assert _pks(Member.objects.filter(public_id__any_of=[str(u) for u in uids])) == sorted(m.pk for m in some)
    accounts = PointsAccount.objects
    assert _pks(accounts.filter(member__any_of=some)) == _pks(accounts.filter(member__in=some))
    assert _pks(PointsAccount.objects.filter(member_id__any_of={m.pk: m for m in some})) == sorted(
        m.points_account.pk for m in some
    )
    emails = [m.user.email.upper() for m in some]
    by_lower = Member.objects.annotate(e=Lower("user__email")).filter(e__any_of=[e.lower() for e in emails])
    assert _pks(by_lower) == sorted(m.pk for m in some)


def test_nothing_asked_finds_nothing(members):
    assert not Member.objects.filter(public_id__any_of=[]).exists()
    assert not Member.objects.filter(public_id__any_of=[uuid.uuid4()]).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL sends one array")
def test_on_postgresql_the_values_travel_as_one_array(members):
    with CaptureQueriesContext(connection) as queries:
        list(Member.objects.filter(pk__any_of=[m.pk for m in members]))
    assert "= ANY(" in queries[0]["sql"]
