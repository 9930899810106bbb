"""The history of the configuration (rewards/admin/history.py): a staff edit in the admin records who, when,
why and the old and new values; each object's history page and the "Configuration changes" page show it; a
read-only role sees but cannot change or revert; orders leave no history rows."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.models import Shop
from integrations.services.members import member_upsert
from integrations.services.shops import shop_create
from integrations.tests.helpers import api_client
from members.models import User
from rewards.admin.history import config_models
from rewards.models import Campaign, Cause, EarningRule, Program, Reward
from rewards.selectors import program_get

PROGRAM_URL = "/admin/rewards/program/1/change/"
PROGRAM_HISTORY_URL = "/admin/rewards/program/1/history/"
CHANGES_URL = "/admin/rewards/program/changes/"


def staff_user(email: str, group: str) -> User:
    user = User.objects.create_user(email, "pw-correct-horse", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def manager(db):
    return staff_user("manager@example.com", "Program manager")


@pytest.fixture
def reader(db):
    return staff_user("reader@example.com", "Read-only")


def program_post(client, **changes):
    """Post the program's change form as shown, with `changes`."""
    page = client.get(PROGRAM_URL)
    form = page.context["adminform"].form
    data = {name: form.initial[name] for name in form.fields}
    data.update(changes)
    return client.post(PROGRAM_URL, {k: "" if v is None else v for k, v in data.items()})


def test_a_staff_edit_records_who_when_why_and_the_old_and_new_values(client, manager):
    program_get()
    client.force_login(manager)
    before = dt.datetime.now(dt.UTC)

    answer = program_post(client, signup_bonus=50, name="Club", change_reason="Autumn launch")

    assert answer.status_code == 302, answer.context and answer.context["adminform"].form.errors
    latest = Program.history.latest()
    assert latest.history_type == "~"
    assert latest.history_user == manager
    assert latest.history_date >= before
    assert latest.history_change_reason == "Autumn launch"
    delta = latest.diff_against(latest.prev_record)
    assert {(c.field, c.old, c.new) for c in delta.changes} == {
        ("signup_bonus", 0, 50),
        ("name", "Loyalty program", "Club"),
    }

    page = client.get(PROGRAM_HISTORY_URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "manager@example.com" in html
    assert "Autumn launch" in html
    assert "Loyalty program" in html and "Club" in html  # old -> new
    assert CHANGES_URL in html


def test_the_changes_page_lists_changes_newest_first_filtered_by_model_and_user(client, manager):
    program_get()
    client.force_login(manager)
    program_post(client, signup_bonus=25, change_reason="More sign-ups")
    Cause.objects.create(name="Trees")  # a change outside the admin: no user

    page = client.get(CHANGES_URL)

    assert page.status_code == 200
    rows = page.context["rows"]
    assert [(str(r["object"]), r["action"], r["user"]) for r in rows[:2]] == [
        ("Trees", "Created", None),
        ("Loyalty program", "Changed", manager),
    ]
    change = rows[1]
    assert change["reason"] == "More sign-ups"
    assert [(str(c["field"]), c["old"], c["new"]) for c in change["changes"]] == [("Signup bonus", "0", "25")]
    assert change["history_url"] == PROGRAM_HISTORY_URL
    html = page.content.decode()
    assert PROGRAM_HISTORY_URL in html and "More sign-ups" in html

    by_manager = client.get(CHANGES_URL, {"user": manager.pk}).context["rows"]
    assert [(str(r["object"]), r["user"]) for r in by_manager] == [("Loyalty program", manager)]
    causes = client.get(CHANGES_URL, {"model": "rewards.cause"}).context["rows"]
    assert [str(r["object"]) for r in causes] == ["Trees"]
    unattended = client.get(CHANGES_URL, {"user": "none", "model": "rewards.program"}).context["rows"]
    assert [r["action"] for r in unattended] == ["Created"]  # program_get() made the row


def test_a_read_only_user_sees_the_history_but_cannot_change_or_revert(client, manager, reader):
    program_get()
    client.force_login(manager)
    program_post(client, signup_bonus=10)
    client.force_login(reader)

    assert client.get(CHANGES_URL).status_code == 200
    history = client.get(PROGRAM_HISTORY_URL)
    assert history.status_code == 200
    assert "manager@example.com" in history.content.decode()
    change_page = client.get(PROGRAM_URL)
    assert not any("change_reason" in fields["fields"] for _, fields in change_page.context["adminform"].fieldsets)
    assert client.post(PROGRAM_URL, {"name": "Hacked"}).status_code == 403
    version = Program.history.earliest()
    version_url = f"/admin/rewards/program/1/history/{version.history_id}/"
    assert client.get(version_url).status_code == 200
    assert client.post(version_url, {"name": "Hacked"}).status_code == 403
    assert program_get().name == "Loyalty program"


def test_reverting_is_refused_even_to_a_manager(client, manager):
    program_get()
    client.force_login(manager)
    program_post(client, signup_bonus=10)
    version = Program.history.earliest()

    answer = client.post(f"/admin/rewards/program/1/history/{version.history_id}/", {"signup_bonus": 0})

    assert answer.status_code == 403
    assert program_get().signup_bonus == 10


def test_staff_without_any_configuration_permission_cannot_see_the_changes(client, db):
    nobody = User.objects.create_user("nobody@example.com", "pw-correct-horse", is_staff=True)
    client.force_login(nobody)
    assert client.get(CHANGES_URL).status_code == 403


def test_the_changes_page_costs_the_same_queries_however_many_changes_it_shows(client, db):
    admin = User.objects.create_superuser("admin@example.com", "pw-correct-horse")
    client.force_login(admin)

    def some_changes(n):
        for i in range(n):
            program = program_get()
            program.signup_bonus += 1
            program.save()
            shop = Shop.objects.create(name=f"Shop {Shop.objects.count()}")
            shop.active = False
            shop.save()
            Cause.objects.create(name=f"Cause {Cause.objects.count()}")
            EarningRule.objects.create(name=f"Rule {i}", currency="EUR", points=1, amount=1)

    some_changes(1)
    with CaptureQueriesContext(connection) as few:
        assert len(client.get(CHANGES_URL).context["rows"]) > 4
    some_changes(5)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(CHANGES_URL).context["rows"]) > 20
    assert len(many) == len(few)
    # session and user, each of the 9 models' newest rows, the previous versions of the 2 models whose
    # rows were changed (program, shop), the staff users for the filter, the program (the admin's pages).
    assert len(many) == 2 + len(config_models()) + 2 + 1 + 1


def test_orders_write_no_history_not_even_the_campaign_budget_counter(db):
    cache.clear()
    shop = shop_create(name="Webshop", currency="EUR", time_zone="Europe/Amsterdam")
    member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    EarningRule.objects.create(name="Base rate", kind="base_rate", currency="EUR", points=1, amount=1)
    now = dt.datetime.now(dt.UTC)
    double = Campaign.objects.create(
        name="Double",
        kind=Campaign.Kind.ORDER_MULTIPLIER,
        factor=Decimal(2),
        starts_at=now - dt.timedelta(days=1),
        ends_at=now + dt.timedelta(days=1),
        budget=1000,
    )
    program_get()
    rows_before = {model: model.history.count() for model in config_models()}
    body = {
        "external_id": "o-1",
        "member_external_id": "cust-1",
        "currency": "EUR",
        "total": "40.00",
        "subtotal": "40.00",
        "tax": "0.00",
        "shipping": "0.00",
        "discount": "0.00",
        "placed_at": now.isoformat(),
        "lines": [{"sku": "A", "name": "Shoes", "quantity": 1, "unit_price": "40.00", "total": "40.00"}],
    }

    answer = api_client(shop, "read", "write").post("/api/v1/orders", body, format="json")

    assert answer.status_code == 201, answer.content
    double.refresh_from_db()
    assert double.points_given > 0  # the budget counter moved ...
    assert {model: model.history.count() for model in config_models()} == rows_before  # ... without history
    assert Reward.history.count() == 0
    cache.clear()


def test_each_configuration_admin_shows_its_history_and_a_shop_s_never_shows_a_key(client, db):
    from integrations.services.shops import api_key_create
    from rewards.models import Segment, Tier

    admin = User.objects.create_superuser("admin@example.com", "pw-correct-horse")
    client.force_login(admin)
    shop = shop_create(name="Webshop", currency="EUR", time_zone="Europe/Amsterdam")
    api_key, plaintext = api_key_create(shop=shop, name="Checkout", scopes=("read",))
    shop.time_zone = "Europe/Paris"
    shop.save()
    now = dt.datetime.now(dt.UTC)
    segment = Segment.objects.create(name="VIP", kind=Segment.Kind.STATIC)
    campaign = Campaign.objects.create(name="Double", factor=Decimal(2), starts_at=now, ends_at=now + dt.timedelta(1))
    campaign.segments.set([segment])
    objects = [
        program_get(),
        EarningRule.objects.create(name="Base", currency="EUR", points=1, amount=1),
        Tier.objects.create(name="Base", rank=0),
        segment,
        campaign,
        Reward.objects.create(kind=Reward.Kind.PERK, title="Lounge", points=100),
        Cause.objects.create(name="Trees"),
        shop,
    ]
    for obj in objects:
        opts = obj._meta
        page = client.get(f"/admin/{opts.app_label}/{opts.model_name}/{obj.pk}/history/")
        assert page.status_code == 200, opts.label
        version = obj.history.latest()
        assert (
            client.get(f"/admin/{opts.app_label}/{opts.model_name}/{obj.pk}/history/{version.history_id}/").status_code
            == 200
        )
    html = client.get(f"/admin/integrations/shop/{shop.pk}/history/").content.decode()
    assert "Europe/Amsterdam" in html and "Europe/Paris" in html
    assert api_key.key_hash not in html and plaintext not in html
    assert "Configuration changes" in client.get("/admin/").content.decode()


def test_a_campaign_s_segments_show_as_names_old_to_new_in_queries_that_do_not_grow(client, db):
    from rewards.models import Segment

    admin = User.objects.create_superuser("admin@example.com", "pw-correct-horse")
    client.force_login(admin)
    now = dt.datetime.now(dt.UTC)
    campaign = Campaign.objects.create(name="Double", factor=Decimal(2), starts_at=now, ends_at=now + dt.timedelta(1))
    vip, new = Segment.objects.create(name="VIP", kind="static"), Segment.objects.create(name="New", kind="static")
    campaign.segments.set([vip])
    url = f"/admin/rewards/campaign/{campaign.pk}/history/"
    client.get(url)  # warm the content-type cache
    with CaptureQueriesContext(connection) as few:
        page = client.get(url)
    campaign.segments.set([vip, new])
    for n in range(5):
        campaign.name = f"Double {n}"
        campaign.save()

    with CaptureQueriesContext(connection) as many:
        page = client.get(url)

    assert len(many) == len(few)
    html = page.content.decode()
    assert "Segments:</strong> VIP &rarr; New, VIP" in " ".join(html.replace("&nbsp;", " ").split())
    rows = client.get(CHANGES_URL, {"model": "rewards.campaign"}).context["rows"]
    segments_changed = [c for r in rows for c in r["changes"] if str(c["field"]) == "Segments"]
    assert [(c["old"], c["new"]) for c in segments_changed] == [("VIP", "New, VIP"), ("–", "VIP")]  # newest first
