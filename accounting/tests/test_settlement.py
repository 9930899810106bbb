"""The coalition settlement: two shops and the program's own channel, made through the order intake, the ledger
and the redemption service; the nets, the CSV, the page's queries and who may open it."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounting.models import AccountingPolicy, LotValuation
from accounting.selectors import coalition_settlement
from accounting.services.common import month_start, next_month
from accounting.tests.conftest import sale
from accounting.tests.helpers import post
from accounting.tests.test_staff_groups import _grant
from integrations.services.members import member_upsert
from integrations.services.shops import shop_create
from members.tests.test_staff_groups import staff_user
from rewards.models import PointLot
from rewards.services.ledger import Actor, points_earn, points_expire
from rewards.services.redemptions import reward_redeem
from rewards.tests.test_catalogue import reward_make

SYSTEM = Actor.system("tests")


def _value(order) -> Decimal:
    order.refresh_from_db()
    return LotValuation.objects.get(lot=order.lot).value


@pytest.fixture
def book(shop, member, rules):
    """The webshop sells 1000 (100 points); the partner café sells 400 to its own customer (40 points, which
    expire); the program gives a 300-point sign-up bonus. The member spends 100 points on a 10.00 voucher at the
    café's till (API) and 50 on a perk on the member pages; the webshop sells 200 more (20 points, not posted)."""
    AccountingPolicy.objects.update_or_create(pk=1, defaults={"point_face_value": Decimal("0.10")})
    partner = shop_create(name="Café Partner", kind="partner", currency="EUR")
    cafe_member, _ = member_upsert(shop=partner, external_id="cafe-1", email="cy@example.com")
    web_sale = sale(shop, Decimal(1000))
    cafe_sale = sale(partner, Decimal(400), customer="cafe-1")
    points_earn(
        account=member.points_account, points=300, source=PointLot.Source.SIGNUP, actor=SYSTEM, idempotency_key="s"
    )
    post()
    voucher = reward_make("fixed_amount", value=Decimal("10.00"), points=100)
    reward_redeem(member=member, reward=voucher, idempotency_key="till-1", channel="api", shop=partner)
    perk = reward_make("perk", points=50)
    reward_redeem(member=member, reward=perk, idempotency_key="web-1", channel="web")
    cafe_sale.refresh_from_db()
    PointLot.objects.filter(pk=cafe_sale.lot_id).update(expires_at=timezone.now() - dt.timedelta(days=1))
    points_expire(account=cafe_member.points_account, actor=SYSTEM, idempotency_key="x", reason="due")
    post()
    sale(shop, Decimal(200))
    signup = LotValuation.objects.get(lot__source=PointLot.Source.SIGNUP).value
    return {"partner": partner, "web": _value(web_sale), "cafe": _value(cafe_sale), "signup": signup}


def _this_month():
    first = month_start(timezone.now().date())  # the program's time zone is UTC in the tests
    return first, next_month(first)


def test_each_shop_owes_what_it_issued_less_what_it_honoured(shop, book):
    start, end = _this_month()
    settlement = coalition_settlement(start=start, end=end)
    rows = {row.name: row for row in settlement.rows}
    assert list(rows) == ["Café Partner", "Webshop NL", "Program (own channel)"]
    web, cafe, own = rows["Webshop NL"], rows["Café Partner"], rows["Program (own channel)"]
    assert (web.kind, cafe.kind, own.kind) == ("web", "partner", "program")
    assert (web.issued_points, web.unposted_points, web.issued_value) == (120, 20, book["web"])
    assert (web.honoured_points, web.honoured_value, web.net) == (0, 0, book["web"])
    # the café's 40 points expired unredeemed: still issued by it, not honoured anywhere
    assert (cafe.issued_points, cafe.issued_value) == (40, book["cafe"])
    assert (cafe.honoured_points, cafe.honoured_value) == (100, Decimal("10.00"))
    assert cafe.net == book["cafe"] - Decimal("10.00") < 0  # the program owes the café
    # the perk has no money value: 50 points at the face value of 0.10
    assert (own.issued_points, own.issued_value, own.honoured_points, own.honoured_value) == (
        300,
        book["signup"],
        50,
        Decimal("5.00"),
    )
    (total,) = settlement.totals().values()
    assert total.issued_points == 460 and total.honoured_points == 150
    assert total.net == web.net + cafe.net + own.net == total.issued_value - total.honoured_value
    assert web.public_id == str(shop.public_id) and own.public_id == ""


def test_another_period_is_empty(book):
    _, end = _this_month()
    assert coalition_settlement(start=end, end=next_month(end)).rows == []


def test_settlement_csv_parses_back_to_the_totals(admin_client, book):
    start, end = _this_month()
    response = admin_client.get(reverse("admin:accounting_settlement_csv"), {"start": start, "end": end})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    (total,) = [r for r in rows if r["shop_kind"] == "total"]
    shops = [r for r in rows if r["shop_kind"] != "total"]
    assert len(shops) == 3
    for column in ("issued_value", "honoured_value", "net"):
        assert sum(Decimal(r[column]) for r in shops) == Decimal(total[column])
    assert sum(int(r["issued_points"]) for r in shops) == int(total["issued_points"]) == 460
    assert Decimal(total["issued_value"]) - Decimal(total["honoured_value"]) == Decimal(total["net"])
    (cafe,) = [r for r in shops if r["shop_kind"] == "partner"]
    assert cafe["shop"] == str(book["partner"].public_id) and Decimal(cafe["honoured_value"]) == Decimal("10.00")


def test_settlement_page_in_pinned_queries(admin_client, book, django_assert_num_queries):
    url = reverse("admin:accounting_settlement")
    # session, user, the program (period), the program, the policy and its face values per currency (selector),
    # issued, honoured, the shops, the program (admin header)
    with django_assert_num_queries(10):
        page = admin_client.get(url)
    assert page.status_code == 200
    assert "<svg" in page.text and "Café Partner" in page.text and "Program (own channel)" in page.text
    assert admin_client.get(url, {"start": "2026-02-01", "end": "2026-01-01"}).status_code == 200  # bad: default
    listing = admin_client.get(reverse("admin:accounting_journalentry_changelist"))
    assert url in listing.text


@pytest.mark.django_db
def test_staff_without_accounting_permissions_cannot_open_it(client):
    support = staff_user("Support agent")
    accountant = staff_user("Accountant")
    _grant()
    client.force_login(support)
    assert client.get(reverse("admin:accounting_settlement")).status_code == 403
    assert client.get(reverse("admin:accounting_settlement_csv")).status_code == 403
    client.force_login(accountant)
    assert client.get(reverse("admin:accounting_settlement")).status_code == 200


def test_points_a_shop_gave_without_an_order_are_issued_by_it(member):
    partner = shop_create(name="Café Partner", kind="partner", currency="EUR")
    points_earn(
        account=member.points_account,
        points=25,
        source=PointLot.Source.EVENT,
        actor=Actor.shop(str(partner.public_id)),
        idempotency_key="review",
    )
    start, end = _this_month()
    (row,) = coalition_settlement(start=start, end=end).rows
    assert (row.name, row.issued_points, row.unposted_points) == ("Café Partner", 25, 25)
    post()
    (row,) = coalition_settlement(start=start, end=end).rows
    assert (row.name, row.issued_points, row.unposted_points) == ("Café Partner", 25, 0)
    assert row.issued_value == LotValuation.objects.get().value == row.net
