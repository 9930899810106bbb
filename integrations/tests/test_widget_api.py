"""The storefront widget's endpoints: the public config, shopper tokens, the member's panel, redeeming, CORS
and the rate limit (integrations/apis/widget.py, integrations/widget_auth.py)."""

import time
import uuid

import jwt
import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from integrations.models import ShopCustomer
from integrations.services.members import member_upsert
from integrations.services.shops import shop_create, shop_widget_secret_rotate
from members.models import Member
from referrals.selectors import referral_program_get
from rewards.models import PointLot, Redemption, Reward, Tier
from rewards.selectors import program_get
from rewards.services.ledger import Actor, points_earn

ORIGIN = "https://shop.example.com"


@pytest.fixture
def wshop(db):
    shop = shop_create(name="Widget shop", allowed_origins=[ORIGIN])
    shop.widget_enabled = True
    shop.save()
    return shop


@pytest.fixture
def program(db):
    program = program_get()
    program.name = "Corner Rewards"
    program.signup_bonus = 0
    program.save()
    return program


@pytest.fixture
def reward(db):
    return Reward.objects.create(
        title="5 euro off", kind=Reward.Kind.FIXED_AMOUNT, points=500, value="5.00", coupon_valid_days=90
    )


@pytest.fixture
def ana(wshop, program):
    member, _ = member_upsert(shop=wshop, external_id="cust-1", email="ana@example.com", first_name="Ana")
    points_earn(
        account=member.points_account,
        points=800,
        source=PointLot.Source.BONUS,
        reason="Welcome gift",
        idempotency_key="gift-ana",
        actor=Actor.system(),
    )
    return member


def token(shop, *, sub="cust-1", email="ana@example.com", lifetime=600, iat=None, secret=None, alg="HS256", **extra):
    now = int(time.time()) if iat is None else iat
    claims = {"iss": shop.widget_key, "sub": sub, "email": email, "iat": now, "exp": now + lifetime, **extra}
    return jwt.encode(claims, secret or shop.widget_secret, algorithm=alg)


def url(shop, what="config"):
    return f"/api/v1/widget/{shop.widget_key}/{what}"


def as_shopper(shop, **kwargs) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token(shop, **kwargs)}")
    return client


# --- config ---------------------------------------------------------------------------------------------------


def test_a_guest_gets_the_theme_texts_and_offer(wshop, program, reward, django_assert_num_queries):
    wshop.widget_colour = "#AA0000"
    wshop.widget_launcher_label = "Points!"
    wshop.save()
    with django_assert_num_queries(5):  # shop, program, rules, catalogue and its segments
        response = APIClient().get(url(wshop))
    assert response.status_code == 200
    body = response.json()
    assert body["program"] == "Corner Rewards"
    assert body["theme"] == {"colour": "#AA0000", "text_colour": "#FFFFFF", "position": "bottom-right"}
    assert body["texts"]["launcher"] == "Points!"
    assert body["texts"]["title"] == "Corner Rewards"  # the program's name when the shop set none
    assert body["links"]["join"].endswith("/accounts/signup/")
    assert body["rewards"] == [{"title": "5 euro off", "points": 500, "gives": "EUR 5.00 off your order"}]


def test_the_texts_follow_the_shoppers_language(wshop, program):
    body = APIClient().get(url(wshop), HTTP_ACCEPT_LANGUAGE="en").json()
    assert body["texts"]["redeem"] == "Redeem"


def test_an_unknown_key_or_a_switched_off_widget_is_a_404(wshop, program):
    assert APIClient().get("/api/v1/widget/pk_nosuchkey/config").json()["error"]["code"] == "widget_not_found"
    wshop.widget_enabled = False
    wshop.save()
    assert APIClient().get(url(wshop)).status_code == 404


# --- tokens ---------------------------------------------------------------------------------------------------


def test_a_member_sees_points_tier_rewards_referral_and_activity(wshop, ana, reward, django_assert_num_queries):
    Tier.objects.create(name="Member", rank=0, entry_threshold=0)
    Tier.objects.create(name="Gold", rank=1, metric=Tier.Metric.POINTS, entry_threshold=1000)
    rules = referral_program_get()
    rules.active = True
    rules.save()
    client = as_shopper(wshop)
    client.get(url(wshop, "me"))  # the referral code is made on first use
    with django_assert_num_queries(17):
        response = client.get(url(wshop, "me"))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["member"]["first_name"] == "Ana"
    assert body["member"]["available"] == 800
    assert body["tier"]["name"] == "Member" and body["tier"]["next"] == "Gold"
    assert 0 <= body["tier"]["percent"] <= 100
    assert [r["title"] for r in body["rewards"] if r["can_redeem"]] == ["5 euro off"]
    assert body["referral"]["link"].startswith("http://testserver/r/")
    assert body["activity"][0]["points"] == 800 and body["activity"][0]["reason"] == "Welcome gift"


def test_a_member_short_of_points_is_told_why(wshop, ana):
    Reward.objects.create(title="Big one", kind=Reward.Kind.FIXED_AMOUNT, points=5000, value="50.00")
    body = as_shopper(wshop).get(url(wshop, "me")).json()
    big = next(r for r in body["rewards"] if r["title"] == "Big one")
    assert big["can_redeem"] is False and big["short_by"] == 4200
    assert big["why_not"] == "You need 4,200 more points"


def test_me_without_a_token_is_a_401(wshop, program):
    response = APIClient().get(url(wshop, "me"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"secret": "wsk_not-the-shops-secret-at-all-000000000000"}, "forged"),
        ({"iat": int(time.time()) - 7200, "lifetime": 3600}, "expired"),
        ({"lifetime": 3600 * 24}, "too_long"),
        ({"iat": int(time.time()) + 3600}, "not_yet_valid"),
    ],
)
def test_bad_tokens_are_refused(wshop, ana, kwargs, reason):
    response = as_shopper(wshop, **kwargs).get(url(wshop, "me"))
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "invalid_token",
        "message": response.json()["error"]["message"],
        "details": {"reason": reason},
    }


def test_a_token_of_another_shop_is_refused(wshop, ana):
    other = shop_create(name="Other shop")
    other.widget_enabled = True
    other.save()
    # Signed by the other shop for itself, sent to this shop's widget: wrong secret and issuer.
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token(other)}")
    assert client.get(url(wshop, "me")).json()["error"]["details"]["reason"] == "forged"
    # Signed with this shop's secret but naming the other shop: the issuer gives it away.
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token(wshop, iss=other.widget_key)}")
    assert client.get(url(wshop, "me")).json()["error"]["details"]["reason"] == "other_shop"


@pytest.mark.parametrize("alg", ["HS384", "HS512", "none"])
def test_only_hs256_is_accepted(wshop, ana, alg):
    if alg == "none":
        raw = jwt.encode(
            {"iss": wshop.widget_key, "sub": "cust-1", "iat": int(time.time()), "exp": int(time.time()) + 60},
            None,
            algorithm="none",
        )
    else:
        raw = token(wshop, alg=alg)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.get(url(wshop, "me"))
    assert response.status_code == 401
    assert response.json()["error"]["details"]["reason"] == "algorithm"


def test_garbage_and_other_schemes_are_refused(wshop, ana):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")
    assert client.get(url(wshop, "me")).status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Basic {token(wshop)}")
    assert client.get(url(wshop, "me")).status_code == 401


def test_a_rotated_secret_voids_the_old_tokens(wshop, ana):
    client = as_shopper(wshop)
    assert client.get(url(wshop, "me")).status_code == 200
    new = shop_widget_secret_rotate(shop=wshop)
    assert new.startswith("wsk_") and new != token
    assert client.get(url(wshop, "me")).json()["error"]["details"]["reason"] == "forged"
    assert as_shopper(wshop).get(url(wshop, "me")).status_code == 200


# --- joining --------------------------------------------------------------------------------------------------


def test_a_new_shopper_joins_on_first_use(wshop, program):
    response = as_shopper(wshop, sub="cust-77", email="Ben@Example.com").get(url(wshop, "me"))
    assert response.status_code == 200
    link = ShopCustomer.objects.get(shop=wshop, external_id="cust-77")
    assert link.member.user.email == "ben@example.com"
    # The second visit finds the same member.
    as_shopper(wshop, sub="cust-77", email="ben@example.com").get(url(wshop, "me"))
    assert Member.objects.filter(user__email="ben@example.com").count() == 1


def test_without_auto_join_a_new_shopper_is_refused(wshop, program):
    wshop.widget_auto_join = False
    wshop.save()
    response = as_shopper(wshop, sub="cust-78", email="cy@example.com").get(url(wshop, "me"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_a_member"
    assert not Member.objects.filter(user__email="cy@example.com").exists()


def test_an_existing_customer_is_served_without_auto_join(wshop, ana):
    wshop.widget_auto_join = False
    wshop.save()
    assert as_shopper(wshop).get(url(wshop, "me")).status_code == 200


# --- redeeming ------------------------------------------------------------------------------------------------


def test_redeeming_gives_a_code_once_per_key(wshop, ana, reward):
    client = as_shopper(wshop)
    key = str(uuid.uuid4())
    first = client.post(url(wshop, "me/redemptions"), {"reward_id": str(reward.public_id)}, HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == 201, first.json()
    body = first.json()
    assert body["coupon"]["code"] and body["balance"]["available"] == 300
    again = client.post(url(wshop, "me/redemptions"), {"reward_id": str(reward.public_id)}, HTTP_IDEMPOTENCY_KEY=key)
    assert again.status_code == 200 and again.json()["coupon"]["code"] == body["coupon"]["code"]
    redemption = Redemption.objects.get()
    assert redemption.channel == "widget" and redemption.shop_id == wshop.pk


def test_redeeming_needs_a_key_and_enough_points(wshop, ana, reward):
    client = as_shopper(wshop)
    response = client.post(url(wshop, "me/redemptions"), {"reward_id": str(reward.public_id)})
    assert response.status_code == 400
    big = Reward.objects.create(title="Big", kind=Reward.Kind.FIXED_AMOUNT, points=5000, value="50.00")
    response = client.post(url(wshop, "me/redemptions"), {"reward_id": str(big.public_id)}, HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 422 and response.json()["error"]["code"] == "insufficient_points"


def test_a_guest_cannot_redeem(wshop, ana, reward):
    response = APIClient().post(
        url(wshop, "me/redemptions"), {"reward_id": str(reward.public_id)}, HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert response.status_code == 401
    assert not Redemption.objects.exists()


# --- CORS -----------------------------------------------------------------------------------------------------


def test_an_allowed_origin_gets_cors_headers(wshop, program):
    response = APIClient().get(url(wshop), HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in response["Vary"]


def test_the_preflight_allows_the_widgets_headers_for_an_allowed_origin(wshop, program):
    response = APIClient().options(
        url(wshop, "me/redemptions"),
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, idempotency-key",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    allowed = {h.strip().lower() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed
    assert "POST" in response["Access-Control-Allow-Methods"]


@pytest.mark.parametrize(
    "origin", ["https://evil.example.com", "https://shop.example.com.evil.io", "http://shop.example.com"]
)
def test_an_unlisted_origin_gets_no_cors_headers(wshop, ana, origin):
    preflight = APIClient().options(url(wshop, "me"), HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")
    assert "Access-Control-Allow-Origin" not in preflight
    response = as_shopper(wshop).get(url(wshop, "me"), HTTP_ORIGIN=origin)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in response


def test_errors_to_an_allowed_origin_are_readable(wshop, ana):
    response = as_shopper(wshop, lifetime=99999).get(url(wshop, "me"), HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == ORIGIN


# --- rate limit -----------------------------------------------------------------------------------------------


def test_the_rate_limit_counts_per_key_and_address(wshop, program, settings):
    settings.WIDGET_RATE_LIMIT = "3/min"
    cache.clear()
    client = APIClient()
    codes = [client.get(url(wshop), REMOTE_ADDR="203.0.113.1").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = client.get(url(wshop), REMOTE_ADDR="203.0.113.1")
    assert refused.json()["error"]["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert client.get(url(wshop), REMOTE_ADDR="203.0.113.2").status_code == 200  # another address
