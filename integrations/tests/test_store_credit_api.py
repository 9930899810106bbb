"""GET /api/v1/members/{id}/store-credit and POST .../store-credit/spend: a shop's checkout reads and spends a
customer's store credit, idempotently, never below zero."""

from decimal import Decimal

import pytest

from integrations.services.members import member_upsert
from integrations.services.shops import shop_create
from integrations.tests.helpers import api_client
from members.services import member_close
from rewards.models import StoreCreditEntry
from rewards.services.ledger import Actor
from rewards.services.store_credit import store_credit_add


@pytest.fixture
def credited(member):
    store_credit_add(
        member=member, amount=Decimal("12.50"), currency="EUR", kind="cashback", reason="Cashback", idempotency_key="c1"
    )
    return member


def _spend(api, member, key="order-1-sc", **body):
    return api.post(
        f"/api/v1/members/{member.public_id}/store-credit/spend",
        {"amount": "7.50", "order_external_id": "order-1", "idempotency_key": key, **body},
        format="json",
    )


def _error(response, status, code):
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code, response.json()
    return response.json()["error"]


def test_the_balance_and_a_spend_then_its_replay(api, credited):
    url = f"/api/v1/members/{credited.public_id}/store-credit"
    assert api.get(url).json() == {"balances": [{"currency": "EUR", "balance": "12.50"}]}
    first = _spend(api, credited)
    assert first.status_code == 201
    body = first.json()
    assert (body["amount"], body["currency"], body["balance"], body["order_external_id"]) == (
        "7.50",
        "EUR",
        "5.00",
        "order-1",
    )
    again = _spend(api, credited)
    assert again.status_code == 200 and again.json() == body
    assert api.get(url).json()["balances"] == [{"currency": "EUR", "balance": "5.00"}]
    assert StoreCreditEntry.objects.filter(kind="spend").count() == 1


def test_never_below_zero_and_the_same_key_for_another_amount(api, credited):
    error = _error(_spend(api, credited, key="k-big", amount="20.00"), 422, "insufficient_store_credit")
    assert error["details"]["balance"] == "12.50"
    assert _spend(api, credited, key="k-1").status_code == 201
    _error(_spend(api, credited, key="k-1", amount="1.00"), 409, "idempotency_conflict")
    assert StoreCreditEntry.objects.filter(kind="spend").count() == 1


def test_the_key_is_required_and_the_header_works(api, credited):
    url = f"/api/v1/members/{credited.public_id}/store-credit/spend"
    _error(api.post(url, {"amount": "1.00"}, format="json"), 400, "validation_error")
    response = api.post(url, {"amount": "1.00"}, format="json", HTTP_IDEMPOTENCY_KEY="hdr-1")
    assert response.status_code == 201 and response.json()["balance"] == "11.50"


@pytest.mark.parametrize(
    "body",
    [{"amount": "0"}, {"amount": "-1"}, {"amount": "1.001"}, {"amount": "x"}, {"amount": "1", "currency": "EURO"}],
)
def test_bad_bodies_are_400_and_change_nothing(api, credited, body):
    response = api.post(
        f"/api/v1/members/{credited.public_id}/store-credit/spend", {**body, "idempotency_key": "b"}, format="json"
    )
    _error(response, 400, "validation_error")
    assert not StoreCreditEntry.objects.filter(kind="spend").exists()


def test_another_shops_customer_a_closed_member_and_the_scopes(api, credited, shop):
    other = shop_create(name="Other shop")
    stranger, _ = member_upsert(shop=other, external_id="x", email="x@example.com")
    _error(_spend(api, stranger), 404, "not_found")
    assert api.get(f"/api/v1/members/{stranger.public_id}/store-credit").status_code == 404
    assert (
        api_client(shop, "read")
        .post(f"/api/v1/members/{credited.public_id}/store-credit/spend", {}, format="json")
        .status_code
        == 403
    )
    member_close(member=credited, actor=Actor.system("tests"))
    _error(_spend(api, credited), 422, "member_not_active")


def test_no_credit_in_that_currency(api, credited):
    _error(_spend(api, credited, currency="USD"), 422, "insufficient_store_credit")
