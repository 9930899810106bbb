"""The demo shop (/demo/shop/): local mode only; it embeds the widget as docs/widget.md says, signs the
shopper token on its server, and checks out through API v1 over HTTP with a coupon."""

import re

import pytest
import requests
from django.urls import NoReverseMatch, reverse

from demo.shop import DEMO_SHOP
from integrations.models import Order, Shop
from integrations.services.members import member_upsert
from integrations.services.shops import shop_create
from integrations.widget_auth import shopper_token_verify
from rewards.models import Coupon, PointLot, Redemption, Reward
from rewards.services.ledger import Actor, points_earn
from rewards.services.redemptions import reward_redeem

PAGE = "/demo/shop/"


@pytest.fixture
def demo_urls(settings):
    settings.ROOT_URLCONF = "demo.tests.urls"


@pytest.fixture
def ada(db):
    shop = shop_create(name=DEMO_SHOP)
    member, _ = member_upsert(shop=shop, external_id="demo-customer-1", email="ada@example.com", first_name="Ada")
    return member


def test_the_demo_is_not_served_outside_local_mode(client, db):
    # The test settings run with DEBUG off, as production does: the site's URL map has no demo.
    assert client.get(PAGE).status_code == 404
    with pytest.raises(NoReverseMatch):
        reverse("demo:shop")


def test_the_page_embeds_the_snippet_and_signs_the_token_on_the_server(client, demo_urls, ada):
    page = client.get(PAGE).text
    shop = Shop.objects.get(name=DEMO_SHOP)
    assert shop.widget_enabled and "http://testserver" in shop.allowed_origins
    assert f'src="/static/widget/loyalty.js" data-shop="{shop.widget_key}" async' in page  # a guest: no token
    assert "lk_live_" not in page and shop.widget_secret not in page

    client.post(PAGE, {"action": "login", "customer": "demo-customer-1"})
    page = client.get(PAGE).text
    token = re.search(r'data-token="([^"]+)"', page).group(1)
    shopper = shopper_token_verify(token, shop=shop)
    assert (shopper.external_id, shopper.email) == ("demo-customer-1", "ada@example.com")


def test_a_customer_who_is_not_listed_cannot_be_chosen(client, demo_urls, ada):
    client.post(PAGE, {"action": "login", "customer": "someone-else"})
    assert 'data-token="' not in client.get(PAGE).text


def _post(session, base, data):
    page = session.get(base + PAGE).text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    answer = session.post(base + PAGE, data={**data, "csrfmiddlewaretoken": csrf}, headers={"Referer": base + PAGE})
    return re.findall(r'data-testid="message">([^<]+)', answer.text)


def test_checkout_posts_the_order_and_redeems_the_coupon_through_the_api(live_server, demo_urls, ada):
    points_earn(
        account=ada.points_account,
        points=600,
        source=PointLot.Source.BONUS,
        actor=Actor.system(),
        idempotency_key="demo-ada",
    )
    reward = Reward.objects.create(title="5 euro off", kind=Reward.Kind.FIXED_AMOUNT, points=500, value="5.00")
    redemption, _ = reward_redeem(
        member=ada,
        reward=reward,
        idempotency_key="demo-r1",
        channel=Redemption.Channel.WIDGET,
        shop=Shop.objects.get(name=DEMO_SHOP),
    )
    code = Coupon.objects.get(redemption=redemption).code
    session = requests.Session()
    _post(session, live_server.url, {"action": "login", "customer": "demo-customer-1"})
    _post(session, live_server.url, {"action": "add", "sku": "TSHIRT"})
    messages = _post(session, live_server.url, {"action": "checkout", "coupon": code})
    assert len(messages) == 1 and "coupon discount EUR 5.00" in messages[0], messages
    order = Order.objects.get()
    assert order.member_id == ada.pk and str(order.total) == "20.00"
    assert Coupon.objects.get(code=code).used_order_external_id == order.external_id

    # The same coupon again is refused by the API's validation, and no order is posted.
    _post(session, live_server.url, {"action": "add", "sku": "MUG"})
    messages = _post(session, live_server.url, {"action": "checkout", "coupon": code})
    assert "already used" in messages[0]
    assert Order.objects.count() == 1


def test_an_empty_cart_is_not_checked_out(client, demo_urls, ada):
    client.post(PAGE, {"action": "checkout", "coupon": ""})
    assert "Your cart is empty." in client.get(PAGE).text
