"""The referrals' admin: the program's settings (one row, validated, with history), the read-only referrals
with what the checks saw and decided, the rewards, and what each staff role may see and do."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps as global_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.services.orders import order_record
from members.models import User
from members.tests.factories import member_create
from members.tests.test_staff_groups import staff_user
from referrals.models import Referral, ReferralProgram, ReferralReward
from referrals.selectors import referral_program_get
from referrals.services import referral_code_get_or_create, referral_code_seen, referral_join
from rewards.models import Reward

PROGRAM_URL = "/admin/referrals/referralprogram/1/change/"
REFERRALS_URL = "/admin/referrals/referral/"
QUEUE_URL = "/admin/referrals/referral/?review__exact=pending"
REWARDS_URL = "/admin/referrals/referralreward/"
CHANGES_URL = "/admin/rewards/program/changes/"

referral_groups = importlib.import_module("referrals.migrations.0002_staff_groups")


# --- helpers the other admin tests share ---------------------------------------------------------------


def staff(group: str) -> User:
    """A staff login in one of the staff groups, with the groups' referral permissions (0002) in place."""
    user = staff_user(group)  # puts the groups back as members' migration makes them
    referral_groups.permissions_grant(global_apps, SimpleNamespace(connection=connection))
    return User.objects.get(pk=user.pk)


def superuser() -> User:
    return User.objects.create_superuser("admin@example.com", "admin-correct-horse")


def referrer(email: str = "anna@example.com", first_name: str = "Anna"):
    member = member_create(email=email, first_name=first_name)
    return member, referral_code_get_or_create(member=member).code


def flagged(referrer_member, code: str, email: str, ip: str = "203.0.113.7") -> Referral:
    """A friend who signs up from the referrer's IP address: held for review under the default rules."""
    referral_code_seen(member=referrer_member, ip=ip)
    referral = referral_join(friend=member_create(email=email), code=code, ip=ip)
    assert referral.review == Referral.Review.PENDING, referral.decisions
    return referral


def order(shop, member, external_id: str, total: str = "50.00", **extra):
    placed, _ = order_record(
        shop=shop,
        data={
            "external_id": external_id,
            "member_id": member.public_id,
            "currency": "EUR",
            "total": total,
            "placed_at": timezone.now(),
            **extra,
        },
    )
    return placed


def action(client, url: str, name: str, referrals, **data):
    """Choose an admin action on the list for `referrals` (the first step: the action's own page)."""
    return client.post(url, {"action": name, "_selected_action": [r.pk for r in referrals], "index": 0, **data})


# --- the program's settings ----------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, db):
    client.force_login(superuser())
    return client


def program_post(client, **changes):
    page = client.get(PROGRAM_URL)
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) for name in form.fields}
    data.update(changes)
    return client.post(PROGRAM_URL, {k: "" if v is None else v for k, v in data.items() if v is not False})


def test_the_program_changelist_goes_straight_to_its_one_row(admin_client):
    response = admin_client.get("/admin/referrals/referralprogram/")
    assert response.status_code == 302 and response.url == PROGRAM_URL
    page = admin_client.get(PROGRAM_URL)
    assert page.status_code == 200
    assert not page.context["has_add_permission"] and not page.context["has_delete_permission"]
    assert admin_client.get("/admin/referrals/referralprogram/add/").status_code == 403
    assert admin_client.get("/admin/referrals/referralprogram/1/delete/").status_code == 403
    html = page.text
    for link in ("/admin/referrals/referralprogram/preview/", QUEUE_URL, "/admin/referrals/referral/stats/"):
        assert link in html
    fieldsets = [name for name, _ in page.context["adminform"].fieldsets]
    assert [str(n) for n in fieldsets[:6]] == [
        "Program and attribution",
        "When a referral qualifies",
        "The friend's reward",
        "The referrer's reward",
        "Fraud rules",
        "Limits",
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"referrer_reward": "points", "referrer_points": 0}, "referrer_points"),
        ({"referrer_reward": "store_credit", "referrer_store_credit": "0"}, "referrer_store_credit"),
        ({"referrer_reward": "reward", "referrer_reward_item": ""}, "referrer_reward_item"),
        ({"friend_reward": "reward", "friend_reward_item": ""}, "friend_reward_item"),
        ({"friend_reward": "points", "friend_points": 0}, "friend_points"),
        ({"max_per_day": 10, "max_per_week": 5}, "max_per_week"),
        ({"trigger": "each_order", "orders_count": 0}, "orders_count"),
    ],
)
def test_the_program_form_wants_each_reward_s_value(admin_client, changes, field):
    referral_program_get()
    response = program_post(admin_client, **{"friend_points": 100, "referrer_points": 500, **changes})
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors


def test_a_catalogue_reward_given_as_a_gift_must_be_giftable(admin_client):
    referral_program_get()
    pay = Reward.objects.create(
        kind=Reward.Kind.PAY_WITH_POINTS, title="Pay", points=0, points_per_unit=100, min_points=100, max_points=1000
    )
    coupon = Reward.objects.create(kind=Reward.Kind.FIXED_AMOUNT, title="5 off", points=100, value=5)
    response = program_post(admin_client, friend_reward="reward", friend_reward_item=pay.pk, referrer_points=500)
    errors = response.context["adminform"].form.errors
    assert "cannot be given as a gift" in str(errors["friend_reward_item"])

    response = program_post(admin_client, friend_reward="reward", friend_reward_item=coupon.pk, referrer_points=500)
    assert response.status_code == 302
    assert referral_program_get().friend_reward_item == coupon


def test_a_change_is_kept_in_the_history_and_on_the_configuration_changes_page(admin_client):
    referral_program_get()
    response = program_post(
        admin_client,
        active="on",
        friend_points=100,
        referrer_points=500,
        same_ip="reject",
        change_reason="Shared flats abuse",
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    rules = referral_program_get()
    assert (rules.active, rules.same_ip, rules.referrer_points) == (True, "reject", 500)
    latest = ReferralProgram.history.latest()
    assert latest.history_change_reason == "Shared flats abuse"
    assert latest.history_user.email == "admin@example.com"

    page = admin_client.get(CHANGES_URL, {"model": "referrals.referralprogram"})
    assert page.status_code == 200
    row = page.context["rows"][0]  # newest first; the row's creation with defaults is the one after
    assert row["reason"] == "Shared flats abuse"
    assert {"field": "Same ip", "old": "flag", "new": "reject"} in row["changes"]
    assert admin_client.get("/admin/referrals/referralprogram/1/history/").status_code == 200


# --- referrals: list, search, filters, the read-only page -----------------------------------------------


def test_the_referrals_list_costs_the_same_queries_however_many_rows_it_shows(admin_client, program):
    anna, code = referrer()
    flagged(anna, code, "ben@example.com")
    referral_join(friend=member_create(email="carl@example.com"), code=code)

    def changelist_queries():
        with CaptureQueriesContext(connection) as queries:
            page = admin_client.get(REFERRALS_URL)
        assert page.status_code == 200
        return len(page.context["cl"].result_list), len(queries)

    few_rows, few = changelist_queries()
    bob, bob_code = referrer("bob@example.com", "Bob")
    for i in range(5):
        referral_join(friend=member_create(email=f"friend{i}@example.com"), code=bob_code)
    many_rows, many = changelist_queries()
    assert (few_rows, many_rows) == (2, 7)
    assert many == few
    # session, user, the review queue's count, the list's count, the full count, the rows (with both members
    # and their users), the distinct reason codes (filter), the program twice (time zone, page context).
    assert many == 9


def test_search_by_code_and_e_mail_and_the_filters(admin_client, program):
    anna, anna_code = referrer()
    bob, bob_code = referrer("bob@example.com", "Bob")
    held = flagged(anna, anna_code, "ben@example.com")
    accepted = referral_join(friend=member_create(email="carl@example.com"), code=bob_code)

    def found(**params):
        return {r.pk for r in admin_client.get(REFERRALS_URL, params).context["cl"].result_list}

    assert found(q=anna_code.lower()) == {held.pk}
    assert found(q="carl@example.com") == {accepted.pk}
    assert found(q="bob@example") == {accepted.pk}
    assert found(review__exact="pending") == {held.pk}
    assert found(reason_code="same_ip") == {held.pk}
    assert found(channel__exact="code") == {held.pk, accepted.pk}
    assert found(status__exact="signed_up") == {held.pk, accepted.pk}
    page = admin_client.get(REFERRALS_URL)
    assert "Review queue (1)" in page.text


def test_the_referral_page_is_read_only_and_explains_the_decision(admin_client, program, shop):
    anna, code = referrer()
    held = flagged(anna, code, "ben@example.com")
    order(shop, held.friend, "o-1")
    url = f"{REFERRALS_URL}{held.pk}/change/"

    page = admin_client.get(url)

    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    html = page.text
    assert "Same IP address as the referrer" in html  # the facts, in words
    assert "The friend signed up from the referrer&#x27;s IP address." in html  # the decision's message
    assert "hold for review" in html
    assert f"/admin/referrals/referral/{held.pk}/review/" in html  # approve or reject from here
    (rewards,) = page.context["inline_admin_formsets"]
    assert [(f.original.side, f.original.status) for f in rewards] == [("referrer", "pending")]
    assert "500 points" in html
    assert admin_client.post(url, {"status": "rewarded"}).status_code == 403
    assert admin_client.get(f"{REFERRALS_URL}add/").status_code == 403
    assert admin_client.get(f"{REFERRALS_URL}{held.pk}/delete/").status_code == 403
    held.refresh_from_db()
    assert held.status == Referral.Status.QUALIFIED


def test_the_rewards_list_is_read_only_with_its_filters(admin_client, program):
    anna, code = referrer()
    referral_join(friend=member_create(email="ben@example.com"), code=code)
    reward = ReferralReward.objects.get()
    page = admin_client.get(REWARDS_URL)
    assert page.status_code == 200 and "100 points" in page.text
    assert admin_client.get(REWARDS_URL, {"side__exact": "referrer"}).context["cl"].result_count == 0
    assert admin_client.get(REWARDS_URL, {"status__exact": "granted", "kind": "points"}).context["cl"].result_count == 1
    assert admin_client.get(f"{REWARDS_URL}{reward.pk}/change/").status_code == 200
    assert admin_client.post(f"{REWARDS_URL}{reward.pk}/change/", {"status": "pending"}).status_code == 403
    assert admin_client.get("/admin/referrals/").status_code == 200  # the section with its tools
    assert admin_client.get("/admin/referrals/referralcode/").status_code == 200


# --- staff roles ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "sees", "reviews", "edits_program"),
    [
        ("Program manager", True, True, True),
        ("Support agent", True, True, False),
        ("Accountant", True, False, False),
        ("Read-only", True, False, False),
    ],
)
def test_what_each_staff_role_may_see_and_do(client, program, group, sees, reviews, edits_program):
    anna, code = referrer()
    held = flagged(anna, code, "ben@example.com")
    client.force_login(staff(group))

    page = client.get(REFERRALS_URL)
    assert (page.status_code == 200) is sees
    action_form = page.context["action_form"]  # None when no action is offered
    offered = {name for name, _ in action_form.fields["action"].choices} if action_form else set()
    assert ("approve_referrals" in offered) is reviews
    assert ("reject_referrals" in offered) is reviews
    assert (client.get(f"{REFERRALS_URL}{held.pk}/review/").status_code == 200) is reviews
    assert client.get(REWARDS_URL).status_code == 200
    assert client.get("/admin/referrals/referral/stats/").status_code == 200
    assert client.get("/admin/referrals/referralprogram/preview/").status_code == 200

    program_page = client.get(PROGRAM_URL)
    assert program_page.status_code == 200
    assert program_page.context["has_change_permission"] is edits_program
    if not edits_program:
        assert client.post(PROGRAM_URL, {"same_ip": "ignore"}).status_code == 403
        assert referral_program_get().same_ip == "flag"


def test_staff_without_referral_permissions_see_nothing(client, program):
    nobody = User.objects.create_user("nobody@example.com", "pw-correct-horse", is_staff=True)
    client.force_login(nobody)
    for url in (
        REFERRALS_URL,
        REWARDS_URL,
        PROGRAM_URL,
        "/admin/referrals/referral/stats/",
        "/admin/referrals/referral/stats/referrals.csv",
        "/admin/referrals/referralprogram/preview/",
    ):
        assert client.get(url).status_code == 403, url


def test_the_staff_groups_get_exactly_their_referral_permissions_and_lose_them_on_reversal(db):
    from django.contrib.auth.models import Group

    def referral_permissions():
        return {
            group.name: set(
                group.permissions.filter(content_type__app_label="referrals").values_list("codename", flat=True)
            )
            for group in Group.objects.filter(name__in=referral_groups.GROUPS)
        }

    staff("Read-only")
    view = {"view_referralprogram", "view_referral", "view_referralreward", "view_referralcode"}
    expected = {
        "Program manager": view | {"change_referral", "change_referralprogram"},
        "Support agent": view | {"change_referral"},
        "Accountant": view,
        "Read-only": view,
    }
    assert referral_permissions() == expected
    schema_editor = SimpleNamespace(connection=connection)
    referral_groups.permissions_revoke(global_apps, schema_editor)
    assert referral_permissions() == {name: set() for name in expected}
    referral_groups.permissions_grant(global_apps, schema_editor)
    referral_groups.permissions_grant(global_apps, schema_editor)
    assert referral_permissions() == expected


def test_the_admin_home_links_the_review_queue(admin_client):
    response = admin_client.get("/admin/")
    assert b"review__exact=pending" in response.content
