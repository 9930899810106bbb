"""POST /api/v1/members with `referral_code`, and the `referral` object of the member answers."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.models import ShopCustomer
from integrations.tests.helpers import api_client
from members.models import Member
from referrals.models import Referral, ReferralCode
from referrals.selectors import referral_program_get

URL = "/api/v1/members"


@pytest.fixture
def api(shop):
    return api_client(shop, "read", "write")


@pytest.fixture
def anna(api, program):
    """The referrer, registered by the shop; her answer carries her code."""
    response = api.post(URL, {"external_id": "anna", "email": "anna@example.com", "first_name": "Anna"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _error(response, status, code):
    assert response.status_code == status, response.content
    assert set(response.json()) == {"error"} and response.json()["error"]["code"] == code, response.json()
    return response.json()["error"]


def test_a_member_gets_their_code_and_link(anna):
    code = ReferralCode.objects.get(member__public_id=anna["id"]).code
    assert anna["referral"] == {"code": code, "link": f"http://testserver/r/{code}", "referred": None}


def test_a_new_customer_with_a_code_is_referred(api, anna):
    code = anna["referral"]["code"]
    response = api.post(URL, {"external_id": "ben", "email": "ben@example.com", "referral_code": code.lower()})
    assert response.status_code == 201, response.content
    ben = response.json()
    assert ben["referral"]["referred"] == {"status": "signed_up", "reason": None, "in_review": False}
    assert ben["points"] == {"available": 100, "pending": 0}  # the friend's welcome points
    referral = Referral.objects.get(friend__public_id=ben["id"])
    assert (referral.channel, referral.referrer.public_id.hex) == ("api", anna["id"].replace("-", ""))
    # GET /members/{id} and the lookup answer the same referral.
    assert api.get(f"{URL}/{ben['id']}").json()["referral"] == ben["referral"]
    assert api.get(URL, {"external_id": "ben"}).json()["referral"] == ben["referral"]


def test_a_known_customer_with_a_code_is_refused_as_already_a_member(api, anna):
    api.post(URL, {"external_id": "ben", "email": "ben@example.com"})
    response = api.post(URL, {"external_id": "ben", "referral_code": anna["referral"]["code"]})
    assert response.status_code == 200, response.content
    assert response.json()["referral"]["referred"] == {
        "status": "rejected",
        "reason": "already_member",
        "in_review": False,
    }
    assert response.json()["points"] == {"available": 0, "pending": 0}


def test_sending_the_same_request_again_stores_nothing_more(api, anna):
    code = anna["referral"]["code"]
    first = api.post(URL, {"external_id": "ben", "email": "ben@example.com", "referral_code": code}).json()
    again = api.post(URL, {"external_id": "ben", "email": "ben@example.com", "referral_code": code})
    assert again.status_code == 200 and again.json() == first
    api.post(URL, {"external_id": "cleo", "email": "cleo@example.com"})
    for _ in range(2):
        api.post(URL, {"external_id": "cleo", "referral_code": code})
    assert list(Referral.objects.order_by("pk").values_list("friend__user__email", "status")) == [
        ("ben@example.com", "signed_up"),
        ("cleo@example.com", "rejected"),
    ]


def test_an_unknown_code_is_a_422_that_writes_nothing(api, anna):
    before = (Member.objects.count(), ShopCustomer.objects.count(), Referral.objects.count())
    error = _error(
        api.post(URL, {"email": "ben@example.com", "referral_code": "NOSUCH99"}), 422, "unknown_referral_code"
    )
    assert error["details"] == {"referral_code": "NOSUCH99"}
    # A known customer is not updated either.
    _error(
        api.post(URL, {"external_id": "anna", "first_name": "Changed", "referral_code": "nosuch-99"}),
        422,
        "unknown_referral_code",
    )
    assert (Member.objects.count(), ShopCustomer.objects.count(), Referral.objects.count()) == before
    assert Member.objects.get(public_id=anna["id"]).first_name == "Anna"


def test_a_blank_code_is_no_code(api, anna):
    response = api.post(URL, {"email": "ben@example.com", "referral_code": " - "})
    assert response.status_code == 201 and response.json()["referral"]["referred"] is None


def test_the_referrers_own_code_refers_nobody(api, anna):
    response = api.post(URL, {"external_id": "anna", "referral_code": anna["referral"]["code"]})
    assert response.status_code == 200 and response.json()["referral"]["referred"] is None
    assert not Referral.objects.exists()


def test_a_held_referral_says_so(api, anna):
    program = referral_program_get()
    program.max_per_day = 1
    program.save()
    code = anna["referral"]["code"]
    api.post(URL, {"email": "ben@example.com", "referral_code": code})
    cleo = api.post(URL, {"email": "cleo@example.com", "referral_code": code}).json()
    assert cleo["referral"]["referred"] == {"status": "signed_up", "reason": "velocity_day", "in_review": True}
    assert cleo["points"]["available"] == 0  # the welcome points wait for the review


def test_while_the_program_is_off_the_code_is_ignored_and_nothing_is_read(api, shop):
    program = referral_program_get()  # made inactive on first use
    assert not program.active
    with CaptureQueriesContext(connection) as queries:
        response = api.post(URL, {"email": "ben@example.com", "referral_code": "NOSUCH99"})
    assert response.status_code == 201 and response.json()["referral"] is None
    sql = " ".join(q["sql"] for q in queries)
    assert "referrals_referralcode" not in sql and 'referrals_referral"' not in sql
    # The settings (cached per process in production): once in the service, for the code; once for the answer.
    assert sql.count('FROM "referrals_referralprogram"') == 2
    with CaptureQueriesContext(connection) as queries:
        member = api.get(f"{URL}/{response.json()['id']}").json()
    assert member["referral"] is None
    assert [q for q in queries if "referrals_" in q["sql"] and "referralprogram" not in q["sql"]] == []


def test_get_member_with_the_program_on_costs_one_query_more(api, anna, django_assert_num_queries):
    api.get(f"{URL}/{anna['id']}")  # the key's last-used time is written once a minute
    # test_members_api's six (key, the referral program, link with member/user/account and now the referral
    # code, tiers, program, expiring lots) and how the member was referred.
    with django_assert_num_queries(7):
        assert api.get(f"{URL}/{anna['id']}").json()["referral"]["code"] == anna["referral"]["code"]


def test_a_member_without_a_code_gets_one_on_first_read(api, shop, program):
    from integrations.services.members import member_upsert

    member, _ = member_upsert(shop=shop, external_id="old", email="old@example.com", first_name="Olga")
    assert not ReferralCode.objects.filter(member=member).exists()
    first = api.get(f"{URL}/{member.public_id}").json()["referral"]
    assert first["code"].startswith("OLGA") and api.get(f"{URL}/{member.public_id}").json()["referral"] == first


@pytest.mark.parametrize(
    ("value", "status"),
    [(True, 400), ([], 400), ({}, 400), (["ANNA"], 400), ("x" * 65, 400), ("\x00", 400), (12345, 422)],
)
def test_a_malformed_code_is_a_400(api, program, value, status):
    response = api.post(URL, {"email": "ben@example.com", "referral_code": value}, format="json")
    if status == 400:
        assert "referral_code" in _error(response, 400, "validation_error")["details"]
    else:  # DRF's CharField takes a number as its text: an unknown code
        _error(response, 422, "unknown_referral_code")
    assert not Member.objects.filter(user__email="ben@example.com").exists()
