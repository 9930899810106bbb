"""The catalogue's admin: pages render, the reward form checks each kind, records are read-only, and the
changelists' query counts do not grow with their rows."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members.models import User
from members.tests.factories import member_create
from rewards.admin.catalogue import RewardAdminForm
from rewards.models import Cause, Coupon, Reward
from rewards.services.store_credit import store_credit_add
from rewards.tests.test_catalogue import points_for, redeem, reward_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("admin@example.com", "admin-correct-horse"))
    return client


def _some_of_everything(n: int = 1):
    for _ in range(n):
        member = points_for(member_create(), 1000)
        redeem(member, reward_make(points=100))
        redeem(member, reward_make("store_credit", points=100))
        store_credit_add(
            member=member, amount=Decimal("2.00"), currency="EUR", kind="cashback", reason="x", idempotency_key="c"
        )


URLS = [
    "/admin/rewards/reward/",
    "/admin/rewards/reward/add/",
    "/admin/rewards/cause/",
    "/admin/rewards/cause/add/",
    "/admin/rewards/redemption/",
    "/admin/rewards/coupon/",
    "/admin/rewards/storecreditaccount/",
]


@pytest.mark.parametrize("url", URLS)
def test_pages_render(admin_client, url):
    _some_of_everything()
    assert admin_client.get(url).status_code == 200


def test_change_pages_render_and_records_are_read_only(admin_client):
    _some_of_everything()
    coupon = Coupon.objects.first()
    from rewards.models import StoreCreditAccount

    pages = [
        f"/admin/rewards/reward/{coupon.reward_id}/change/",
        f"/admin/rewards/redemption/{coupon.redemption_id}/change/",
        f"/admin/rewards/coupon/{coupon.pk}/change/",
        f"/admin/rewards/storecreditaccount/{StoreCreditAccount.objects.get().pk}/change/",
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
    assert admin_client.get("/admin/rewards/coupon/add/").status_code == 403
    assert admin_client.get("/admin/rewards/redemption/add/").status_code == 403
    assert admin_client.post(f"/admin/rewards/coupon/{coupon.pk}/delete/", {"post": "yes"}).status_code == 403


def test_coupons_are_found_by_code_as_typed_and_by_member(admin_client):
    _some_of_everything()
    coupon = Coupon.objects.select_related("member").first()
    response = admin_client.get("/admin/rewards/coupon/", {"q": coupon.code.lower().replace("-", " ")})
    assert list(response.context["cl"].result_list) == [coupon]
    response = admin_client.get("/admin/rewards/coupon/", {"q": coupon.member.number})
    assert list(response.context["cl"].result_list) == [coupon]


@pytest.mark.parametrize(
    "url",
    [
        "/admin/rewards/reward/",
        "/admin/rewards/redemption/",
        "/admin/rewards/coupon/",
        "/admin/rewards/storecreditaccount/",
    ],
)
def test_changelist_queries_do_not_grow_with_rows(admin_client, url):
    _some_of_everything(1)
    admin_client.get(url)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    _some_of_everything(4)
    with CaptureQueriesContext(connection) as many:
        admin_client.get(url)
    assert len(many.captured_queries) == len(few.captured_queries)


def _form(**data):
    base = {
        "kind": "fixed_amount",
        "title": "5 off",
        "points": 100,
        "position": 0,
        "value": "5.00",
        "active": "on",
        "limit_period": "ever",
    }
    return RewardAdminForm(data={**base, **data})


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"value": ""}, "value"),
        ({"points": 0}, "points"),
        ({"kind": "percentage", "value": "15"}, "max_discount"),
        ({"kind": "percentage", "value": "150", "no_cap": "on"}, "value"),
        ({"kind": "free_product"}, "sku"),
        ({"kind": "donation"}, "cause"),
        ({"kind": "pay_with_points", "points_per_unit": 100, "min_points": 500, "max_points": 100}, "max_points"),
        ({"kind": "pay_with_points", "min_points": 100, "max_points": 500}, "points_per_unit"),
        ({"currency": "eur"}, "currency"),
        ({"active_from": "2026-12-01 00:00", "active_until": "2026-11-01 00:00"}, "active_until"),
    ],
)
def test_the_form_checks_what_each_kind_needs(data, field):
    form = _form(**data)
    assert not form.is_valid()
    assert field in form.errors, form.errors


def test_the_form_accepts_each_kind_and_clears_what_it_does_not_use():
    cause = Cause.objects.create(name="Trees")
    cases = {
        "percentage": {"value": "15", "max_discount": "20"},
        "free_shipping": {},
        "free_product": {"sku": "MUG"},
        "store_credit": {"value": "10"},
        "pay_with_points": {"points": 0, "points_per_unit": 100, "min_points": 100, "max_points": 5000},
        "donation": {"cause": cause.pk},
        "perk": {"sku": "LEFTOVER", "value": "3"},
        "fixed_amount": {"value": "5.00", "sku": "LEFTOVER"},
    }
    for kind, data in cases.items():
        form = _form(kind=kind, **{"value": "", **data})
        assert form.is_valid(), (kind, form.errors)
        reward = form.save()
        assert reward.kind == kind
    assert Reward.objects.get(kind="perk").value is None and Reward.objects.get(kind="perk").sku == ""
    assert Reward.objects.get(kind="fixed_amount").sku == ""
    assert Reward.objects.get(kind="percentage").max_discount == Decimal("20.00")


def test_stock_cannot_go_below_what_was_issued():
    reward = reward_make(units_issued=5)
    form = RewardAdminForm(
        instance=reward,
        data={
            "kind": "fixed_amount",
            "title": "x",
            "points": 100,
            "position": 0,
            "value": "5",
            "limit_period": "ever",
            "stock_total": 3,
        },
    )
    assert not form.is_valid() and "stock_total" in form.errors


def test_the_program_setting_is_on_the_settings_page(admin_client):
    response = admin_client.get("/admin/rewards/program/1/change/")
    assert response.status_code == 200 and "cancelled_order_coupons" in response.content.decode()


@pytest.mark.parametrize("group", ["Program manager", "Support agent", "Accountant", "Read-only"])
def test_every_staff_role_sees_the_catalogue_and_only_managers_set_it_up(client, group):
    import importlib
    from types import SimpleNamespace

    from django.apps import apps as global_apps
    from django.contrib.auth.models import Group

    from members.tests.test_staff_groups import groups_ensure

    # Both migrations' forward steps again: a flushing (transactional) test elsewhere removes the groups.
    groups_ensure()
    grants = importlib.import_module("rewards.migrations.0010_catalogue")
    grants.permissions_grant(global_apps, SimpleNamespace(connection=connection))
    _some_of_everything()
    user = User.objects.create_user("staff@example.com", "pw-12345678", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client.force_login(User.objects.get(pk=user.pk))
    for url in ["/admin/rewards/reward/", "/admin/rewards/redemption/", "/admin/rewards/coupon/"]:
        assert client.get(url).status_code == 200, url
    manager = group == "Program manager"
    assert client.get("/admin/rewards/reward/add/").status_code == (200 if manager else 403)
    assert client.get("/admin/rewards/coupon/add/").status_code == 403
