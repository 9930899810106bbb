"""The order intake's prepared reads (core.prepared.PreparedSelect) give what their querysets give."""

import contextlib
import uuid

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from core.prepared import PreparedSelect
from integrations.selectors import _CUSTOMER_BY_EXTERNAL_ID, _MEMBER_BY_ID
from integrations.services.members import member_upsert
from members.models import Member
from rewards.services.ledger import _LOCK_WITH_MEMBER

pytestmark = pytest.mark.django_db


def _same(a, b, *paths):
    assert type(a) is type(b) and a.pk == b.pk
    assert {k: v for k, v in vars(a).items() if k != "_state"} == {k: v for k, v in vars(b).items() if k != "_state"}
    for path in paths:
        a, b = getattr(a, path), getattr(b, path)
        assert type(a) is type(b)
        assert {k: v for k, v in vars(a).items() if k != "_state"} == {
            k: v for k, v in vars(b).items() if k != "_state"
        }


def test_the_customer_lookup_gives_the_querysets_objects(shop, member):
    prepared = _CUSTOMER_BY_EXTERNAL_ID.first(shop.pk, "cust-1")
    (plain,) = _CUSTOMER_BY_EXTERNAL_ID.build(shop.pk, "cust-1")
    _same(prepared, plain)
    _same(prepared.member, plain.member, "points_account")
    assert prepared.first_purchase_recorded is plain.first_purchase_recorded is False
    assert prepared.member.points_account.member is prepared.member  # the reverse link is set, as Django sets it
    assert _CUSTOMER_BY_EXTERNAL_ID.first(shop.pk, "nobody") is None
    assert _CUSTOMER_BY_EXTERNAL_ID.first(shop.pk + 1, "cust-1") is None  # another shop's customer


def test_the_member_lookup_takes_a_uuid_on_every_database(member):
    prepared = _MEMBER_BY_ID.first(member.public_id)
    (plain,) = _MEMBER_BY_ID.build(member.public_id)
    _same(prepared, plain, "points_account")
    assert _MEMBER_BY_ID.first(uuid.uuid4()) is None


def test_the_account_lock_reads_the_member(member):
    with transaction.atomic():
        account = _LOCK_WITH_MEMBER.first(member.points_account.pk)
    assert account.pk == member.points_account.pk and account.member == member
    assert account.member.status == member.status


def test_each_value_is_swapped_in_on_a_connection_compiled_once(shop, member, django_assert_num_queries):
    member_upsert(shop=shop, external_id="cust-2", email="bo@example.com")
    with django_assert_num_queries(2):
        assert _CUSTOMER_BY_EXTERNAL_ID.first(shop.pk, "cust-1").external_id == "cust-1"
        assert _CUSTOMER_BY_EXTERNAL_ID.first(shop.pk, "cust-2").external_id == "cust-2"


def test_a_sample_that_is_not_in_the_sql_once_is_refused(db):
    lookup = PreparedSelect(lambda number: Member.objects.filter(number=number, user__email=number), "sample")
    with pytest.raises(ValueError, match="appears 2 times"):
        lookup.first("123")
    assert connection.vendor in ("sqlite", "postgresql")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL prepares statements on the server")
class TestPreparedOnTheServer:
    def test_planned_once_per_connection(self, shop, member):
        lookup = PreparedSelect(lambda external_id: Member.objects.filter(shop_links__external_id=external_id), "s")
        with CaptureQueriesContext(connection) as queries:
            assert lookup.first("cust-1") == member
            assert lookup.first("cust-1") == member
            assert lookup.first("nobody") is None
        first, *later = [q["sql"] for q in queries]
        assert first.startswith("PREPARE prepared_select_") and "; EXECUTE" in first
        assert all(sql.startswith("EXECUTE prepared_select_") for sql in later)

    def test_a_statement_outlives_a_rolled_back_transaction(self, shop, member):
        lookup = PreparedSelect(lambda external_id: Member.objects.filter(shop_links__external_id=external_id), "s")
        with pytest.raises(RuntimeError), transaction.atomic():
            assert lookup.first("cust-1") == member
            raise RuntimeError
        assert lookup.first("cust-1") == member

    def test_a_failed_prepare_is_prepared_again(self, shop, member):
        lookup = PreparedSelect(lambda external_id: Member.objects.filter(shop_links__external_id=external_id), "s")
        with pytest.raises(DatabaseError), transaction.atomic():
            with connection.cursor() as cursor, contextlib.suppress(DatabaseError):
                cursor.execute("SELECT 1 / 0")  # the transaction is aborted: PREPARE fails
            lookup.first("cust-1")
        assert lookup.first("cust-1") == member

    def test_constants_of_the_query_stay_in_the_statement(self, shop, member):
        # The customer lookup's subquery compares with a constant ('first_purchase'): quoted into the PREPARE.
        lookup = PreparedSelect(_CUSTOMER_BY_EXTERNAL_ID.build, *_CUSTOMER_BY_EXTERNAL_ID.samples)
        with CaptureQueriesContext(connection) as queries:
            link = lookup.first(shop.pk, "cust-1")
        assert "'first_purchase'" in queries[0]["sql"].split("; EXECUTE")[0]
        assert link.member == member and link.first_purchase_recorded is False

    def test_off_by_setting(self, shop, member, settings):
        settings.PREPARED_SELECTS_ON_SERVER = False
        lookup = PreparedSelect(lambda external_id: Member.objects.filter(shop_links__external_id=external_id), "s")
        with CaptureQueriesContext(connection) as queries:
            assert lookup.first("cust-1") == member
        assert queries[0]["sql"].startswith("SELECT")
