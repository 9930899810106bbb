"""The loyalty engine's admin: program settings, points accounts, and the read-only ledger."""

from zoneinfo import ZoneInfo

import pytest
from django.utils.formats import date_format

from members.models import User
from members.services import member_close
from members.tests.factories import member_create
from members.tests.test_admin import adjust, member_with_points
from members.tests.test_staff_groups import staff_user
from rewards.models import PointEntry, PointLot, PointMovement, PointsAccount, Program
from rewards.selectors import program_get
from rewards.services.ledger import Actor, points_adjust, points_redeem

ACCOUNTS_URL = "/admin/rewards/pointsaccount/"
ENTRIES_URL = "/admin/rewards/pointentry/"
LOTS_URL = "/admin/rewards/pointlot/"


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("admin@example.com", "admin-correct-horse")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def member_with_history(superuser, points: int = 500, **profile):
    """A member with an order, a redemption and a staff adjustment: entries by a shop, the member and staff."""
    member = member_with_points(points, **profile)
    account = member.points_account
    points_redeem(
        account=account, points=50, reason="Reward", actor=Actor.member(member.user), idempotency_key=f"r:{member.pk}"
    )
    points_adjust(
        account=account, points=10, reason="Goodwill", actor=Actor.staff(superuser), idempotency_key=f"a:{member.pk}"
    )
    return member


# --- program settings --------------------------------------------------------------------------------


def test_the_program_changelist_goes_straight_to_the_one_settings_page(admin_client):
    response = admin_client.get("/admin/rewards/program/")
    assert response.status_code == 302 and response.url == "/admin/rewards/program/1/change/"
    assert Program.objects.count() == 1
    page = admin_client.get(response.url)
    assert page.status_code == 200 and page.context["has_change_permission"]
    assert not page.context["has_add_permission"] and not page.context["has_delete_permission"]
    assert admin_client.get("/admin/rewards/program/add/").status_code == 403
    assert admin_client.get("/admin/rewards/program/1/delete/").status_code == 403


def program_post(client, **changes):
    page = client.get("/admin/rewards/program/1/change/")
    form = page.context["adminform"].form
    data = {name: form.initial[name] for name in form.fields}
    data.update(changes)
    return client.post("/admin/rewards/program/1/change/", data)


def test_program_settings_check_the_time_zone_and_currency(admin_client):
    program_get()
    response = program_post(admin_client, time_zone="Mars/Olympus", currency="euro")
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"time_zone", "currency"}
    response = program_post(admin_client, time_zone="Europe/Amsterdam", currency="gbp", staff_adjust_limit=250)
    assert response.status_code == 302
    program = program_get()
    assert (program.time_zone, program.currency, program.staff_adjust_limit) == ("Europe/Amsterdam", "GBP", 250)


def test_the_currency_is_fixed_once_points_carry_a_value_in_it(admin_client):
    member_with_points(100)
    page = admin_client.get("/admin/rewards/program/1/change/")
    assert "currency" not in page.context["adminform"].form.fields
    program_post(admin_client, currency="USD", name="Renamed")
    program = program_get()
    assert (program.name, program.currency) == ("Renamed", "EUR")


# --- points accounts ---------------------------------------------------------------------------------


def test_points_account_pages_render_with_the_latest_ledger_and_links_to_all_of_it(admin_client, superuser):
    member = member_with_history(superuser, first_name="Ada", last_name="Lovelace")
    account = member.points_account
    changelist = admin_client.get(ACCOUNTS_URL)
    assert changelist.status_code == 200
    assert "Ada Lovelace" in changelist.text
    assert [a.pk for a in admin_client.get(ACCOUNTS_URL, {"q": "lovelace"}).context["cl"].result_list] == [account.pk]
    assert admin_client.get(ACCOUNTS_URL, {"balance": "debt"}).context["cl"].result_count == 0

    page = admin_client.get(f"{ACCOUNTS_URL}{account.pk}/change/")
    assert page.status_code == 200 and not page.context["has_change_permission"]
    entries, lots = page.context["inline_admin_formsets"]
    assert [f.original.kind for f in entries] == ["adjust", "redeem", "earn"]  # newest first
    assert len(lots.formset.forms) == 2  # the order's lot and the adjustment's
    assert f"{ENTRIES_URL}?account={account.pk}" in page.text and f"{LOTS_URL}?account={account.pk}" in page.text
    assert "all 3 entries" in page.text


def test_the_account_page_shows_only_the_latest_entries(admin_client, superuser):
    member = member_with_points(100)
    for i in range(25):
        points_adjust(
            account=member.points_account,
            points=1,
            reason=f"Tick {i}",
            actor=Actor.staff(superuser),
            idempotency_key=f"tick:{i}",
        )
    page = admin_client.get(f"{ACCOUNTS_URL}{member.points_account.pk}/change/")
    entries = page.context["inline_admin_formsets"][0]
    assert len(entries.formset.forms) == 20
    assert entries.formset.forms[0].instance.reason == "Tick 24"
    assert "all 26 entries" in page.text


def test_points_accounts_cannot_be_added_changed_or_deleted(admin_client):
    account = member_with_points(100).points_account
    assert admin_client.get(f"{ACCOUNTS_URL}add/").status_code == 403
    assert admin_client.post(f"{ACCOUNTS_URL}{account.pk}/change/", {"available": 1_000_000}).status_code == 403
    assert admin_client.get(f"{ACCOUNTS_URL}{account.pk}/delete/").status_code == 403
    account.refresh_from_db()
    assert account.available == 100


def test_adjust_points_from_the_accounts_list(admin_client, superuser):
    account = member_with_points(100).points_account
    response = adjust(admin_client, [account], points=15, reason="Missing order points", url=ACCOUNTS_URL)
    assert response.redirect_chain == [(ACCOUNTS_URL, 302)]
    entry = PointEntry.objects.get(kind=PointEntry.Kind.ADJUST)
    assert (entry.account_id, entry.points, entry.reason, entry.actor_user) == (
        account.pk,
        15,
        "Missing order points",
        superuser,
    )
    account.refresh_from_db()
    assert account.available == 115


def test_an_accountant_reads_the_ledger_but_cannot_adjust(client, db):
    account = member_with_points(100).points_account
    client.force_login(staff_user("Accountant"))
    page = client.get(ACCOUNTS_URL)
    assert page.status_code == 200 and page.context["action_form"] is None
    assert client.get(f"{ACCOUNTS_URL}{account.pk}/change/").status_code == 200
    assert client.get(ENTRIES_URL).status_code == 200 and client.get(LOTS_URL).status_code == 200
    assert client.get("/admin/members/member/").status_code == 403


# --- the ledger: entries and lots ----------------------------------------------------------------------


def test_entry_changelist_shows_member_and_actor_in_a_fixed_number_of_queries(
    admin_client, superuser, django_assert_num_queries
):
    program_get()
    for _ in range(2):
        member_with_history(superuser)
    # session, user, program (time zone; context processor), count, rows with member, user and staff
    # joined, the date hierarchy's min/max and days: none of them per entry.
    with django_assert_num_queries(8):
        response = admin_client.get(ENTRIES_URL)
    assert response.status_code == 200
    for _ in range(3):
        member_with_history(superuser)
    with django_assert_num_queries(8):
        response = admin_client.get(ENTRIES_URL)
    assert response.context["cl"].result_count == 15
    assert "Staff: admin@example.com" in response.text and "Shop: web-shop" in response.text


def test_lot_changelist_runs_a_fixed_number_of_queries(admin_client, superuser, django_assert_num_queries):
    program_get()
    member_with_history(superuser)
    with django_assert_num_queries(8):
        admin_client.get(LOTS_URL)
    for _ in range(3):
        member_with_history(superuser)
    with django_assert_num_queries(8):
        response = admin_client.get(LOTS_URL)
    assert response.context["cl"].result_count == 8


def test_the_ledger_narrows_to_one_member(admin_client, superuser):
    ada = member_with_history(superuser, first_name="Ada", last_name="Lovelace")
    member_with_history(superuser)
    account = ada.points_account
    entries = admin_client.get(ENTRIES_URL, {"account": account.pk})
    assert {e.account_id for e in entries.context["cl"].result_list} == {account.pk}
    assert entries.context["cl"].result_count == 3
    assert "Ada Lovelace" in entries.text  # the sidebar names the member
    lots = admin_client.get(LOTS_URL, {"account": account.pk})
    assert {lot.account_id for lot in lots.context["cl"].result_list} == {account.pk}
    assert admin_client.get(ENTRIES_URL, {"account": "nonsense"}).status_code == 200
    assert admin_client.get(ENTRIES_URL, {"kind__exact": "adjust"}).context["cl"].result_count == 2
    assert admin_client.get(ENTRIES_URL, {"q": ada.number_display}).context["cl"].result_count == 3


def test_entry_and_lot_pages_render_with_their_movements(admin_client, superuser):
    member = member_with_history(superuser)
    redeem = PointEntry.objects.get(kind=PointEntry.Kind.REDEEM)
    page = admin_client.get(f"{ENTRIES_URL}{redeem.pk}/change/")
    assert page.status_code == 200 and not page.context["has_change_permission"]
    [movements] = page.context["inline_admin_formsets"]
    assert [f.original.available_change for f in movements] == [-50]
    lot = PointLot.objects.get(account=member.points_account, source=PointLot.Source.ORDER)
    page = admin_client.get(f"{LOTS_URL}{lot.pk}/change/")
    assert page.status_code == 200
    assert f"{ENTRIES_URL}{redeem.pk}/change/" in page.text


@pytest.mark.parametrize("url", [ENTRIES_URL, LOTS_URL])
def test_the_ledger_admins_refuse_add_change_and_delete(admin_client, superuser, url):
    member_with_history(superuser)
    obj = (PointEntry if url == ENTRIES_URL else PointLot).objects.first()
    changelist = admin_client.get(url)
    assert changelist.context["action_form"] is None  # no "delete selected" either
    assert not changelist.context["has_add_permission"]
    assert admin_client.get(f"{url}add/").status_code == 403
    assert admin_client.post(f"{url}add/", {"reason": "forged"}).status_code == 403
    assert admin_client.post(f"{url}{obj.pk}/change/", {"reason": "rewritten", "points": 1}).status_code == 403
    assert admin_client.get(f"{url}{obj.pk}/delete/").status_code == 403
    assert admin_client.post(f"{url}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    admin_client.post(url, {"action": "delete_selected", "index": 0, "_selected_action": [obj.pk], "post": "yes"})
    assert PointEntry.objects.count() == 3 and PointLot.objects.count() == 2
    assert PointMovement.objects.count() == 3


def test_a_closed_member_still_shows_in_the_ledger(admin_client, superuser):
    member = member_with_history(superuser)
    member_close(member=member, actor=Actor.system("test"))
    assert admin_client.get(ENTRIES_URL).status_code == 200
    account = PointsAccount.objects.get(member=member)
    assert admin_client.get(f"{ACCOUNTS_URL}{account.pk}/change/").status_code == 200
    assert admin_client.get(f"/admin/members/member/{member.pk}/change/").status_code == 200


def test_times_are_shown_in_the_programs_time_zone(admin_client):
    program = program_get()
    program.time_zone = "Pacific/Auckland"  # 12 or 13 hours ahead of the server's UTC
    program.save()
    member = member_create()
    text = admin_client.get("/admin/members/member/").text
    assert date_format(member.joined_at.astimezone(ZoneInfo("Pacific/Auckland")), "SHORT_DATETIME_FORMAT") in text
    assert date_format(member.joined_at.astimezone(ZoneInfo("UTC")), "SHORT_DATETIME_FORMAT") not in text
