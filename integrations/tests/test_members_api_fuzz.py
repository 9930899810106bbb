"""Random malformed bodies against POST /members and POST /members/{id}/adjustments: never a 500, and an
error answer writes nothing."""

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from integrations.models import ShopCustomer
from integrations.services.members import member_upsert
from integrations.services.shops import api_key_create
from members.models import Member, User
from members.services import member_close
from rewards.models import PointEntry, PointLot
from rewards.services.ledger import Actor

ERROR_STATUSES = {400, 404, 409, 422}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.text(min_size=300, max_size=3000),  # longer than any field allows
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\ud800",
            "a@example.com",
            "ANA@EXAMPLE.COM",
            "1990-05-17",
            "2999-01-01",
            "cust-1",
            "cust-2",
            "true",
            "-0",
            "1e9",
            "NaN",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def bodies(fields):
    """Dicts over the endpoint's own field names (so validation is reached), random other dicts, and
    JSON values that are not objects at all."""
    return st.one_of(
        st.dictionaries(st.sampled_from(fields), values, max_size=len(fields)),
        st.dictionaries(st.text(max_size=8), values, max_size=4),
        values,
    )


def plausible(fields: dict):
    """Bodies that are often valid, so that the business rules (conflicts, closed members, missing e-mail,
    insufficient points, reused keys) answer too, each field now and then replaced by a random value."""
    field = {
        name: st.integers(0, 4).flatmap(lambda i, good=good: good if i else values) for name, good in fields.items()
    }
    dropped = st.sets(st.sampled_from(list(fields)), max_size=1)
    return st.tuples(st.fixed_dictionaries(field), dropped).map(
        lambda pair: {name: value for name, value in pair[0].items() if name not in pair[1]}
    )


def half_and_half(a, b):
    return st.booleans().flatmap(lambda first: a if first else b)


PLAUSIBLE_MEMBER = plausible(
    {
        "external_id": st.sampled_from(["cust-1", "cust-2", "cust-3", "cust-closed"]),
        "email": st.sampled_from(["ana@example.com", "PIET@example.com", "new@example.com", "closed@example.com"]),
        "first_name": st.text(max_size=10),
        "birthday": st.dates(dt.date(1900, 1, 1), dt.date(2010, 12, 31)).map(str),
        "marketing_consent": st.booleans(),
    }
)
PLAUSIBLE_ADJUST = plausible(
    {
        "points": st.integers(min_value=-60, max_value=60),
        "reason": st.sampled_from(["Goodwill", "Returned", " "]),
        "idempotency_key": st.sampled_from(["k1", "k2", "k3"]),
    }
)

MEMBER_FIELDS = ["external_id", "email", "first_name", "last_name", "birthday", "marketing_consent", "referral_code"]
ADJUST_FIELDS = ["points", "reason", "idempotency_key"]
RELAXED = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def _counts():
    return (
        User.objects.count(),
        Member.objects.count(),
        ShopCustomer.objects.count(),
        PointEntry.objects.count(),
        PointLot.objects.count(),
        list(Member.objects.order_by("pk").values_list("first_name", "last_name", "birthday", "marketing_consent")),
    )


def _post(client, url, body, raw):
    # A raw string may hold lone surrogates ("\ud800"): send them as the invalid UTF-8 bytes a client might.
    payload = (
        body.encode("utf-8", "surrogatepass") if isinstance(body, str) and raw else json.dumps(body, ensure_ascii=True)
    )
    return client.post(url, payload, content_type="application/json")


@pytest.fixture
def setting(shop):
    _, plaintext = api_key_create(shop=shop, name="fuzz", scopes=["read", "write", "adjust"])
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_X_API_KEY=plaintext)
    member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    member_upsert(shop=shop, external_id="cust-2", email="piet@example.com")
    closed, _ = member_upsert(shop=shop, external_id="cust-closed", email="closed@example.com")
    member_close(member=closed, actor=Actor.system("fuzz"))
    return client, Member.objects.get(user__email="ana@example.com")


@RELAXED
@given(body=half_and_half(bodies(MEMBER_FIELDS), PLAUSIBLE_MEMBER), raw=st.booleans())
def test_post_members_with_random_bodies(setting, body, raw):
    client, _ = setting
    before = _counts()
    response = _post(client, "/api/v1/members", body, raw)
    assert response.status_code in ERROR_STATUSES | {200, 201}, (body, response.content)
    assert "error" in response.json() or response.status_code in (200, 201)
    if response.status_code in ERROR_STATUSES:
        assert _counts() == before, body


@RELAXED
@given(
    body=half_and_half(bodies(ADJUST_FIELDS), PLAUSIBLE_ADJUST),
    raw=st.booleans(),
    header=st.none() | st.text(max_size=140),
)
def test_post_adjustments_with_random_bodies(setting, body, raw, header):
    client, member = setting
    before = _counts()
    extra = {}
    if header is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = header.encode("latin-1", "replace").decode("latin-1").replace("\n", " ")
    # A raw string may hold lone surrogates ("\ud800"): send them as the invalid UTF-8 bytes a client might.
    payload = (
        body.encode("utf-8", "surrogatepass") if isinstance(body, str) and raw else json.dumps(body, ensure_ascii=True)
    )
    response = client.post(
        f"/api/v1/members/{member.public_id}/adjustments", payload, content_type="application/json", **extra
    )
    assert response.status_code in ERROR_STATUSES | {201}, (body, response.content)
    if response.status_code in ERROR_STATUSES:
        assert "error" in response.json()
        assert _counts() == before, body
