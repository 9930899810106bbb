"""The referral fields of POST /orders and /orders/batch (referral_code, shipping_address,
payment_fingerprint), /orders/simulate ignoring them, and reversal through the refund and cancel endpoints."""

import datetime as dt
import json

import pytest
from django.core.cache import cache
from django.utils import timezone
from hypothesis import assume, given
from hypothesis import strategies as st

from integrations.models import Order
from integrations.services.members import member_upsert
from integrations.tests.helpers import api_client
from integrations.tests.test_members_api_fuzz import RELAXED
from members.models import Member
from referrals import checks
from referrals.models import Referral, ReferralReward
from referrals.services import referral_code_get_or_create, referral_join
from rewards.selectors import ledger_audit

ORDERS = "/api/v1/orders"
PLACED_AT = ""


@pytest.fixture(autouse=True)
def _audit(db):
    yield
    assert ledger_audit() == []


@pytest.fixture(autouse=True)
def _placed_at():
    """One placing time per test, so that a body sent again is the same body."""
    global PLACED_AT
    PLACED_AT = (timezone.now() - dt.timedelta(minutes=1)).isoformat()


@pytest.fixture
def api(shop):
    return api_client(shop, "read", "write")


@pytest.fixture
def anna(shop, program):
    member, _ = member_upsert(shop=shop, external_id="anna", email="anna@example.com", first_name="Anna")
    return member


@pytest.fixture
def code(anna) -> str:
    return referral_code_get_or_create(member=anna).code


@pytest.fixture
def ben(shop):
    """A customer the shop registered just now, at checkout, without a code."""
    member, _ = member_upsert(shop=shop, external_id="ben", email="ben@example.com")
    return member


def body(external_id="o-1", customer="ben", **extra):
    return {
        "external_id": external_id,
        "member_external_id": customer,
        "currency": "EUR",
        "total": "50.00",
        "placed_at": PLACED_AT,
        **extra,
    }


def _referral(member) -> Referral | None:
    return Referral.objects.filter(friend=member).first()


# --- referral_code on orders ------------------------------------------------------------------------------


def test_a_new_customers_code_at_checkout_refers_them_and_the_order_qualifies(api, ben, code):
    response = api.post(ORDERS, body(referral_code=code.lower()), format="json")
    assert response.status_code == 201, response.content
    referral = _referral(ben)
    assert (referral.status, referral.channel, referral.facts["already_member"]) == ("qualified", "api", False)
    reward = ReferralReward.objects.get(referral=referral, side="referrer")
    assert (reward.status, reward.order.external_id) == ("pending", "o-1")
    # The replay answers the first result and refers nobody again.
    again = api.post(ORDERS, body(referral_code=code.lower()), format="json")
    assert again.status_code == 200 and again.json() == response.json()
    assert Referral.objects.count() == 1


def test_a_code_on_a_later_order_is_refused_as_already_a_member(api, ben, code):
    assert api.post(ORDERS, body("o-1"), format="json").status_code == 201
    assert api.post(ORDERS, body("o-2", referral_code=code), format="json").status_code == 201
    referral = _referral(ben)
    assert (referral.status, referral.reason_code) == ("rejected", "already_member")
    assert referral.facts["already_customer"] is True


def test_a_member_who_joined_long_ago_is_not_new(api, ben, code):
    Member.objects.filter(pk=ben.pk).update(joined_at=timezone.now() - dt.timedelta(days=31))
    assert api.post(ORDERS, body(referral_code=code), format="json").status_code == 201
    assert _referral(ben).reason_code == "already_member"


def test_an_unknown_code_never_fails_the_order(api, ben, code):
    response = api.post(ORDERS, body(referral_code="NOSUCH99"), format="json")
    assert response.status_code == 201 and response.json()["points"] == 50
    assert not Referral.objects.exists()


def test_a_referred_member_keeps_their_first_referral(api, shop, ben, code):
    carl, _ = member_upsert(shop=shop, external_id="carl", email="carl@example.com", first_name="Carl")
    first = referral_join(friend=ben, code=code)
    api.post(ORDERS, body(referral_code=referral_code_get_or_create(member=carl).code), format="json")
    assert list(Referral.objects.values_list("pk", flat=True)) == [first.pk]


def test_a_code_on_an_unknown_customers_order_is_ignored(api, code):
    response = api.post(ORDERS, body(customer="nobody", referral_code=code), format="json")
    assert response.status_code == 201 and response.json()["status"] == "unmatched"
    assert not Referral.objects.exists()


def test_with_the_program_off_the_code_is_ignored(api, ben, code, program):
    program.active = False
    program.save()
    assert api.post(ORDERS, body(referral_code=code), format="json").status_code == 201
    assert not Referral.objects.exists()


def test_a_batch_refers_at_checkout_too(api, ben, code):
    orders = [body("o-1", referral_code=code), body("o-2", customer="anna")]
    response = api.post(f"{ORDERS}/batch", {"orders": orders}, format="json")
    assert [r["status"] for r in response.json()["results"]] == [201, 201]
    assert _referral(ben).status == "qualified"
    assert ReferralReward.objects.filter(side="referrer", order__external_id="o-1").count() == 1


def test_simulate_takes_the_fields_and_refers_nobody(api, ben, code):
    simulated = body(referral_code=code, shipping_address="Main St 1", payment_fingerprint="fp_1")
    response = api.post(f"{ORDERS}/simulate", simulated, format="json")
    assert response.status_code == 200 and response.json()["points"] == 50
    assert not Referral.objects.exists() and not Order.objects.exists()


# --- shipping address and payment fingerprint ---------------------------------------------------------------


def test_only_keyed_hashes_are_stored(api, ben):
    address = {"line1": "Keizersgracht 12", "postal_code": "1015 CX", "city": "Amsterdam", "name": "Ben"}
    api.post(ORDERS, body(shipping_address=address, payment_fingerprint=" fp_1MqN8t2eZv "), format="json")
    order = Order.objects.get()
    assert order.shipping_hash == checks.keyed_hash("address", "1015 12 amsterdam cx keizersgracht")
    assert order.payment_hash == checks.keyed_hash("payment", "fp_1MqN8t2eZv")
    row = json.dumps(list(Order.objects.values())[0], default=str)
    assert "Keizersgracht" not in row and "fp_1MqN8t2eZv" not in row


def test_the_same_address_from_a_text_and_from_parts_hashes_alike(api, ben):
    api.post(ORDERS, body("o-1", shipping_address="Keizersgracht 12, 1015 CX Amsterdam"), format="json")
    parts = {"city": "AMSTERDAM", "line1": "Keizersgracht 12", "postal_code": "1015 cx ", "country": None}
    api.post(ORDERS, body("o-2", shipping_address=parts), format="json")
    api.post(ORDERS, body("o-3", shipping_address="Keizersgracht 14, 1015 CX Amsterdam"), format="json")
    first, second, third = Order.objects.order_by("pk")
    assert first.shipping_hash and first.shipping_hash == second.shipping_hash != third.shipping_hash


def test_the_fields_are_part_of_the_idempotency_fingerprint(api, ben):
    first = api.post(ORDERS, body(shipping_address="Main St 1", payment_fingerprint="fp_1"), format="json")
    same = api.post(ORDERS, body(shipping_address="main street 1", payment_fingerprint="fp_1"), format="json")
    assert same.status_code == 200 and same.json() == first.json()  # the same address, spelt otherwise
    other = api.post(ORDERS, body(shipping_address="Main St 2", payment_fingerprint="fp_1"), format="json")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict"
    other = api.post(ORDERS, body(shipping_address="Main St 1", payment_fingerprint="fp_2"), format="json")
    assert other.status_code == 409


def test_absent_or_empty_fields_keep_the_fingerprint_an_order_always_had(api, ben):
    plain = api.post(ORDERS, body(), format="json")
    empty = {"referral_code": "", "shipping_address": None, "payment_fingerprint": " "}
    again = api.post(ORDERS, body(**empty), format="json")
    assert again.status_code == 200 and again.json() == plain.json()
    again = api.post(ORDERS, body(shipping_address={"line1": None}, referral_code=None), format="json")
    assert again.status_code == 200


def test_a_batch_stores_the_same_hashes_as_a_single_order(api, shop, ben):
    fields = {"shipping_address": "Main St 1", "payment_fingerprint": "fp_1"}
    api.post(ORDERS, body("o-1", **fields), format="json")
    api.post(f"{ORDERS}/batch", {"orders": [body("o-2", **fields)]}, format="json")
    single, batch = Order.objects.order_by("pk")
    assert (single.shipping_hash, single.payment_hash) == (batch.shipping_hash, batch.payment_hash)
    assert single.shipping_hash and single.payment_hash


# --- refunds and cancels through the API ------------------------------------------------------------------------


@pytest.fixture
def qualified(api, ben, code):
    """Ben referred by Anna at checkout; his order o-1 (50.00) makes her reward, pending."""
    assert api.post(ORDERS, body(referral_code=code), format="json").status_code == 201
    return ReferralReward.objects.get(side="referrer")


def test_a_refund_that_leaves_less_than_the_minimum_reverses(api, qualified):
    assert api.post(f"{ORDERS}/o-1/refunds", {"external_id": "r-1", "amount": "20.00"}).status_code == 201
    qualified.refresh_from_db()
    assert qualified.status == "pending"  # 30.00 left, over the 20.00 minimum
    assert api.post(f"{ORDERS}/o-1/refunds", {"external_id": "r-2", "amount": "10.01"}).status_code == 201
    qualified.refresh_from_db()
    assert (qualified.status, qualified.end_reason) == ("reversed", "Order o-1 refunded")
    assert Referral.objects.get().status == "signed_up"


def test_a_cancel_reverses(api, qualified):
    assert api.post(f"{ORDERS}/o-1/cancel").status_code == 200
    qualified.refresh_from_db()
    assert (qualified.status, qualified.end_reason) == ("reversed", "Order o-1 cancelled")


# --- malformed fields -------------------------------------------------------------------------------------------

bad = st.one_of(
    st.sampled_from([1.5, True, [], ["x"], "x" * 501, "\ud800", "\x00", {"": "x"}, {"k" * 65: "x"}]),
    st.dictionaries(
        st.text(max_size=3),
        st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.lists(st.integers()), st.booleans()),
        min_size=1,
    ),
    st.dictionaries(st.sampled_from([f"p{i}" for i in range(20)]), st.just("x"), min_size=13),
)


@RELAXED
@given(field=st.sampled_from(["referral_code", "shipping_address", "payment_fingerprint"]), value=bad)
def test_malformed_fields_are_400s_with_the_error_shape(api, ben, field, value):
    assume(field == "shipping_address" or not isinstance(value, float))  # a number is text to DRF's CharField
    cache.clear()  # the key's rate limit: three requests an example
    for url in (ORDERS, f"{ORDERS}/simulate"):
        response = api.post(url, json.dumps(body(**{field: value})), content_type="application/json")
        assert response.status_code == 400, (field, value, response.content)
        error = response.json()["error"]
        assert error["code"] == "validation_error" and field in error["details"]
    batch = api.post(
        f"{ORDERS}/batch", json.dumps({"orders": [body(**{field: value})]}), content_type="application/json"
    )
    (result,) = batch.json()["results"]
    assert result["status"] == 400 and field in result["error"]["details"]
    assert not Order.objects.exists()
