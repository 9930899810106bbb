"""Orders, refunds and shop customers in the admin: read-only pages, the breakdown as a table, a list whose
query count does not grow with its rows, and what each staff role may see."""

import datetime as dt
import importlib
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps as global_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.http import urlencode

from integrations.models import Order, ShopCustomer
from integrations.services.members import member_upsert
from integrations.services.orders import order_record, order_refund
from integrations.services.shops import shop_create
from integrations.tests.test_order_services import order_data
from integrations.tests.test_staff_groups import grants_ensure, integrations_permissions, staff_user
from members.models import User

ORDERS = "/admin/integrations/order/"
CUSTOMERS = "/admin/integrations/shopcustomer/"

order_groups = importlib.import_module("integrations.migrations.0007_staff_groups_orders")


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("boss@example.com", "correct-horse-battery"))
    return client


@pytest.fixture
def order(shop, member, rules):
    order, _ = order_record(shop=shop, data=order_data("o-1"))
    order_refund(order=order, external_id="r-1", lines=[{"sku": "B", "quantity": Decimal("1")}])
    order.refresh_from_db()
    return order


def test_the_order_page_shows_the_breakdown_as_a_table_and_links(admin_client, order, member):
    page = admin_client.get(f"{ORDERS}{order.pk}/change/")
    assert page.status_code == 200
    text = page.text
    assert '<table class="order-breakdown">' in text
    assert "Base rate: +50" in text and "Base rate: +30" in text  # rule names with the points per line
    assert "excluded by Gift cards never earn" in text
    assert '"unallocated_rules"' not in text  # not the raw JSON
    assert f"/admin/members/member/{member.pk}/change/" in text
    assert f"/admin/rewards/pointlot/{order.lot_id}/change/" in text
    assert "r-1" in text and "1 × B" in text  # the refund inline
    assert order.points_reversed == 10 and ">10<" in text
    assert not page.context["has_change_permission"] and not page.context["has_delete_permission"]
    assert '<input type="submit" value="Save"' not in text


def test_orders_cannot_be_added_changed_or_deleted(admin_client, order):
    assert admin_client.get(f"{ORDERS}add/").status_code == 403
    assert admin_client.get(f"{ORDERS}{order.pk}/delete/").status_code == 403
    response = admin_client.post(f"{ORDERS}{order.pk}/change/", {"external_id": "hijacked", "points": "9999"})
    assert response.status_code == 403
    order.refresh_from_db()
    assert (order.external_id, order.points) == ("o-1", 80)
    assert admin_client.get(ORDERS).context["action_form"] is None  # not even "delete selected"


def test_an_unmatched_order_shows_the_customer_as_given(admin_client, shop, rules):
    order, _ = order_record(shop=shop, data=order_data("o-2", member_external_id=None, email="Zoe@Example.com"))
    listing = admin_client.get(ORDERS).text
    assert "zoe@example.com" in listing and "none (unmatched)" in listing
    page = admin_client.get(f"{ORDERS}{order.pk}/change/").text
    assert "matched when this customer joins" in page


def test_filters_and_search(admin_client, shop, member, rules):
    other = shop_create(name="Till Utrecht")
    order_record(shop=shop, data=order_data("web-1"))
    order_record(shop=other, data=order_data("till-1", member_external_id=None, email="bob@example.com"))
    old = timezone.now() - dt.timedelta(days=40)
    order_record(shop=shop, data=order_data("web-old", placed_at=old))

    def listed(query: str) -> set[str]:
        response = admin_client.get(ORDERS + query)
        assert response.status_code == 200, query
        return {o.external_id for o in response.context["cl"].result_list}

    assert listed("") == {"web-1", "till-1", "web-old"}
    assert listed(f"?shop__id__exact={other.pk}") == {"till-1"}
    assert listed("?status__exact=unmatched") == {"till-1"}
    since = urlencode({"placed_at__gte": (old + dt.timedelta(days=1)).isoformat()})
    assert listed("?" + since) == {"web-1", "till-1"}
    assert listed("?q=till-1") == {"till-1"}
    assert listed("?q=bob@example.com") == {"till-1"}
    assert listed("?q=ana@example.com") == {"web-1", "web-old"}  # the member's login e-mail
    assert listed("?q=" + member.number_display.replace(" ", "+")) == {"web-1", "web-old"}  # as on the card


def test_the_order_list_takes_the_same_queries_for_1_or_20_orders(admin_client, shop, rules):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(ORDERS).status_code == 200
        return len(queries)

    def add_orders(start: int, n: int) -> None:
        for i in range(start, start + n):
            member_upsert(shop=shop, external_id=f"c-{i}", email=f"c{i}@example.com")
            order, _ = order_record(shop=shop, data=order_data(f"o-{i}", member_external_id=f"c-{i}"))
        order_record(shop=shop, data=order_data(f"u-{start}", member_external_id=None, email=f"u{start}@example.com"))

    add_orders(0, 1)
    few = count_queries()
    add_orders(1, 20)
    assert Order.objects.count() == 23
    assert count_queries() == few
    # session, user, the program (its time zone), the shop filter's choices, the page's COUNT, the rows
    # (shop, member, login and lot joined in), the program again (the template's context)
    assert few == 7, few


def test_shop_customers_list_is_read_only_and_searchable(admin_client, shop, member):
    link = ShopCustomer.objects.get(shop=shop, member=member)
    listing = admin_client.get(CUSTOMERS + "?q=cust-1")
    assert listing.status_code == 200 and list(listing.context["cl"].result_list) == [link]
    assert list(admin_client.get(CUSTOMERS + "?q=ana@example.com").context["cl"].result_list) == [link]
    page = admin_client.get(f"{CUSTOMERS}{link.pk}/change/")
    assert page.status_code == 200 and f"/admin/members/member/{member.pk}/change/" in page.text
    assert admin_client.get(f"{CUSTOMERS}add/").status_code == 403
    assert admin_client.get(f"{CUSTOMERS}{link.pk}/delete/").status_code == 403
    shop_page = admin_client.get(f"/admin/integrations/shop/{shop.pk}/change/").text
    assert "1 customer" in shop_page and f"{CUSTOMERS}?shop__id__exact={shop.pk}" in shop_page


# --- staff roles ------------------------------------------------------------------------------------


def orders_grants_ensure() -> None:
    grants_ensure()
    order_groups.permissions_grant(global_apps, SimpleNamespace(connection=connection))


VIEW_ORDERS = {"integrations.view_order", "integrations.view_refund", "integrations.view_shopcustomer"}


def test_every_role_views_orders_refunds_and_customers_and_nobody_changes_them(db):
    orders_grants_ensure()
    for role in ("Program manager", "Support agent", "Accountant", "Read-only"):
        permissions = integrations_permissions(role)
        assert permissions >= VIEW_ORDERS, role
        assert not {p for p in permissions if p.split("_", 1)[1] in ("order", "refund", "shopcustomer")} - VIEW_ORDERS
    order_groups.permissions_revoke(global_apps, SimpleNamespace(connection=connection))
    assert not VIEW_ORDERS & integrations_permissions("Support agent")
    assert "integrations.view_shop" in integrations_permissions("Support agent")  # 0002's are left alone


@pytest.mark.parametrize("role", ["Support agent", "Read-only"])
def test_a_support_agent_and_read_only_staff_see_orders_and_customers(client, order, shop, role):
    orders_grants_ensure()
    client.force_login(staff_user(role))
    assert client.get(ORDERS).status_code == 200
    page = client.get(f"{ORDERS}{order.pk}/change/")
    assert page.status_code == 200 and "r-1" in page.text  # the refunds inline is visible too
    assert client.get(CUSTOMERS).status_code == 200
    assert client.post(f"{ORDERS}{order.pk}/change/", {"external_id": "x"}).status_code == 403
