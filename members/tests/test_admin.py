"""The members' admin: logins, member profiles, and the "Adjust points" action on members."""

import pytest

from members.models import Member, User
from members.tests.factories import member_create
from members.tests.test_staff_groups import groups_ensure, staff_user
from rewards.models import PointEntry, PointLot
from rewards.selectors import program_get
from rewards.services.ledger import Actor, points_earn

MEMBERS_URL = "/admin/members/member/"


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("admin@example.com", "admin-correct-horse")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def member_with_points(points: int = 500, **profile) -> Member:
    member = member_create(**profile)
    points_earn(
        account=member.points_account,
        points=points,
        source=PointLot.Source.ORDER,
        actor=Actor.shop("web-shop"),
        idempotency_key=f"order:{member.number}",
        reason="Order #1",
    )
    return member


def messages_of(response) -> list[tuple[str, str]]:
    """The messages the page shows (post with follow=True to land on the page that shows them)."""
    return [(m.level_tag, m.message) for m in response.context["messages"]]


def adjust_form(client, members, url=MEMBERS_URL):
    """Step one: pick the action on the changelist, as the browser does; returns the form page."""
    response = client.post(url, {"action": "adjust_points", "index": 0, "_selected_action": [m.pk for m in members]})
    assert response.status_code == 200, response
    return response


def adjust_submit(client, members, *, token, points, reason, url=MEMBERS_URL):
    """Step two: post the form page back, as its hidden fields do."""
    return client.post(
        url,
        {
            "action": "adjust_points",
            "apply": "yes",
            "_selected_action": [m.pk for m in members],
            "token": token,
            "points": points,
            "reason": reason,
        },
        follow=True,
    )


def adjust(client, members, *, points, reason="Goodwill: parcel arrived late", url=MEMBERS_URL):
    token = adjust_form(client, members, url=url).context["form"]["token"].value()
    return adjust_submit(client, members, token=token, points=points, reason=reason, url=url)


# --- users ---------------------------------------------------------------------------------------


def test_user_pages_render_for_a_superuser(admin_client, superuser):
    member = member_create(email="ada@example.com", first_name="Ada")
    changelist = admin_client.get("/admin/members/user/")
    assert changelist.status_code == 200
    assert "ada@example.com" in changelist.text and "admin@example.com" in changelist.text
    assert admin_client.get("/admin/members/user/?q=ada").context["cl"].result_count == 1

    change = admin_client.get(f"/admin/members/user/{member.user.pk}/change/")
    assert change.status_code == 200
    assert f"/admin/members/member/{member.pk}/change/" in change.text  # links to the membership
    assert "username" not in change.context["adminform"].form.fields
    assert admin_client.get(f"/admin/members/user/{superuser.pk}/change/").status_code == 200
    assert admin_client.get("/admin/members/user/add/").status_code == 200
    assert admin_client.get(f"/admin/members/user/{member.user.pk}/password/").status_code == 200


def test_a_superuser_adds_a_staff_login_by_email(admin_client):
    response = admin_client.post(
        "/admin/members/user/add/",
        {
            "email": " Agent@Example.com ",
            "usable_password": "true",
            "password1": "a-Long-pass-1",
            "password2": "a-Long-pass-1",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="agent@example.com")  # stored as sign-up stores e-mails
    assert user.check_password("a-Long-pass-1") and not hasattr(user, "member")

    again = admin_client.post(
        "/admin/members/user/add/",
        {
            "email": "AGENT@example.com",
            "usable_password": "true",
            "password1": "a-Long-pass-1",
            "password2": "a-Long-pass-1",
        },
    )
    assert again.status_code == 200 and "email" in again.context["adminform"].form.errors


# --- members -------------------------------------------------------------------------------------


def test_member_changelist_shows_number_name_and_points_in_a_fixed_number_of_queries(
    admin_client, django_assert_num_queries
):
    program_get()
    for i in range(3):
        member_with_points(100 + i, first_name=f"Ada{i}", last_name="Lovelace")
    # session, user, program (for the time zone, and again in the template's context processor), two
    # counts (filtered, total), the rows with user and points account joined, the date hierarchy's
    # min/max and days, the channels for the joined_via filter: none of them per member.
    with django_assert_num_queries(10):
        response = admin_client.get(MEMBERS_URL)
    assert response.status_code == 200
    for i in range(3, 8):
        member_with_points(100 + i)
    with django_assert_num_queries(10):
        response = admin_client.get(MEMBERS_URL)
    assert response.context["cl"].result_count == 8
    member = Member.objects.get(first_name="Ada1")
    row = next(r for r in response.context["cl"].result_list if r.pk == member.pk)
    assert row.points_account.available == 101
    assert "Ada1 Lovelace" in response.text and member.number_display.replace(" ", "\u00a0") in response.text


def test_members_are_found_by_number_as_printed_email_and_name(admin_client):
    ada = member_create(email="ada@example.com", first_name="Ada", last_name="Lovelace")
    member_create(email="grace@example.com", first_name="Grace", last_name="Hopper")

    def found(query):
        return [m.pk for m in admin_client.get(MEMBERS_URL, {"q": query}).context["cl"].result_list]

    assert found(ada.number_display) == [ada.pk]  # "1234 5678 9012", as on the card
    assert found(ada.number) == [ada.pk]
    assert found("ada@example") == [ada.pk]
    assert found("Ada Lovelace") == [ada.pk]
    assert found("hopper") != [ada.pk] and len(found("hopper")) == 1


def test_member_filters_by_status_and_channel(admin_client):
    web = member_create()
    shop = member_create(joined_via="shop-amsterdam")
    Member.objects.filter(pk=shop.pk).update(status=Member.Status.SUSPENDED)

    def listed(**params):
        return {m.pk for m in admin_client.get(MEMBERS_URL, params).context["cl"].result_list}

    assert listed(status__exact="suspended") == {shop.pk}
    assert listed(joined_via="shop-amsterdam") == {shop.pk}
    assert listed(joined_via="web") == {web.pk}


def test_member_change_page_edits_the_profile_and_status_but_not_the_number(admin_client):
    member = member_with_points(first_name="Ada", last_name="Lovelace", marketing_consent=True)
    url = f"/admin/members/member/{member.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "500 available" in page.text  # the points, with links to the account and its ledger
    assert f"/admin/rewards/pointentry/?account={member.points_account.pk}" in page.text
    form = page.context["adminform"].form
    assert set(form.fields) == {"status", "first_name", "last_name", "birthday"}
    assert [value for value, _ in form.fields["status"].choices] == ["active", "suspended"]  # closing is a service

    response = admin_client.post(
        url, {"status": "suspended", "first_name": "Augusta Ada", "last_name": "King", "birthday": "1815-12-10"}
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.first_name, member.last_name, member.status) == ("Augusta Ada", "King", "suspended")
    assert member.marketing_consent  # not the staff's to give or withdraw


def test_members_cannot_be_added_or_deleted_in_the_admin_and_a_closed_member_is_read_only(admin_client):
    from members.services import member_close

    member = member_create()
    assert admin_client.get("/admin/members/member/add/").status_code == 403
    assert admin_client.get(f"/admin/members/member/{member.pk}/delete/").status_code == 403
    member_close(member=member, actor=Actor.system("test"))
    page = admin_client.get(f"/admin/members/member/{member.pk}/change/")
    assert page.status_code == 200 and not page.context["has_change_permission"]
    response = admin_client.post(f"/admin/members/member/{member.pk}/change/", {"status": "active"})
    assert response.status_code == 403
    member.refresh_from_db()
    assert member.status == Member.Status.CLOSED


# --- the "Adjust points" action on members -----------------------------------------------------------


def test_adjust_points_writes_an_entry_with_the_reason_and_the_staff_actor(admin_client, superuser):
    ada, grace = member_with_points(100), member_with_points(200)
    page = adjust_form(admin_client, [ada, grace])
    assert page.templates[0].name == "admin/rewards/adjust_points.html"
    assert ada.number_display in page.text and grace.number_display in page.text

    response = adjust_submit(
        admin_client, [ada, grace], token=page.context["form"]["token"].value(), points=-40, reason="Duplicate order"
    )
    assert response.redirect_chain == [(MEMBERS_URL, 302)]
    entries = PointEntry.objects.filter(kind=PointEntry.Kind.ADJUST).order_by("account__member__number")
    assert [(e.account.member_id, e.points) for e in entries] == sorted(
        [(ada.pk, -40), (grace.pk, -40)], key=lambda pair: Member.objects.get(pk=pair[0]).number
    )
    for entry in entries:
        assert entry.reason == "Duplicate order"
        assert entry.actor_kind == PointEntry.Actor.STAFF and entry.actor_user == superuser
    ada.points_account.refresh_from_db()
    assert ada.points_account.available == 60
    [(level, text)] = messages_of(response)
    assert level == "success" and "2 members by -40" in text


def test_adjust_points_needs_a_reason_and_non_zero_points(admin_client):
    member = member_with_points()
    token = adjust_form(admin_client, [member]).context["form"]["token"].value()
    response = adjust_submit(admin_client, [member], token=token, points=50, reason="   ")
    assert response.redirect_chain == []  # the form again, with its errors
    assert "reason" in response.context["form"].errors
    response = adjust_submit(admin_client, [member], token=token, points=0, reason="Because")
    assert "points" in response.context["form"].errors
    assert not PointEntry.objects.filter(kind=PointEntry.Kind.ADJUST).exists()


def test_a_double_submitted_form_adjusts_once_and_a_new_form_adjusts_again(admin_client):
    member = member_with_points(100)
    token = adjust_form(admin_client, [member]).context["form"]["token"].value()
    first = adjust_submit(admin_client, [member], token=token, points=25, reason="Birthday")
    second = adjust_submit(admin_client, [member], token=token, points=25, reason="Birthday")
    assert first.redirect_chain == second.redirect_chain == [(MEMBERS_URL, 302)]
    assert PointEntry.objects.filter(kind=PointEntry.Kind.ADJUST).count() == 1
    [(level, text)] = messages_of(second)
    assert level == "warning" and "already submitted" in text

    changed = adjust_submit(admin_client, [member], token=token, points=30, reason="Birthday")
    [(level, text)] = messages_of(changed)
    assert level == "error" and "different number of points" in text

    fresh = adjust_form(admin_client, [member]).context["form"]["token"].value()
    assert fresh != token
    adjust_submit(admin_client, [member], token=fresh, points=25, reason="Birthday")
    member.points_account.refresh_from_db()
    assert member.points_account.available == 150
    assert PointEntry.objects.filter(kind=PointEntry.Kind.ADJUST).count() == 2


def test_support_agent_is_stopped_at_the_staff_limit_and_a_program_manager_is_not(client, db):
    groups_ensure()
    program = program_get()
    member = member_with_points(100)
    over = program.staff_adjust_limit + 1

    client.force_login(staff_user("Support agent"))
    response = adjust(client, [member], points=over)
    assert response.redirect_chain == [(MEMBERS_URL, 302)]  # back to the list, with the error
    [(level, text)] = messages_of(response)
    assert level == "error" and f"above {program.staff_adjust_limit} points need a program manager" in text
    assert not PointEntry.objects.filter(kind=PointEntry.Kind.ADJUST).exists()
    adjust(client, [member], points=program.staff_adjust_limit)  # up to the limit is fine
    assert PointEntry.objects.filter(kind=PointEntry.Kind.ADJUST).count() == 1

    manager = staff_user("Program manager")
    client.force_login(manager)
    response = adjust(client, [member], points=over)
    assert [level for level, _ in messages_of(response)] == ["success"]
    entry = PointEntry.objects.filter(kind=PointEntry.Kind.ADJUST).order_by("-created_at", "-id").first()
    assert entry.points == over and entry.actor_user == manager


def test_removing_more_points_than_available_is_an_error_message_not_a_500(admin_client):
    rich, poor = member_with_points(500), member_with_points(10)
    response = adjust(admin_client, [rich, poor], points=-100)
    assert response.status_code == 200
    levels = dict(messages_of(response))
    assert "1 member by -100" in levels["success"]
    assert "Cannot remove 100 points: only 10 are available." in levels["error"]
    poor.points_account.refresh_from_db()
    assert poor.points_account.available == 10


def test_only_staff_with_the_adjust_permission_see_the_action(client, db):
    groups_ensure()
    member = member_with_points()
    client.force_login(staff_user("Read-only"))
    page = client.get(MEMBERS_URL)
    assert page.status_code == 200 and page.context["action_form"] is None
    response = client.post(MEMBERS_URL, {"action": "adjust_points", "index": 0, "_selected_action": [member.pk]})
    assert response.status_code in (200, 302)
    assert not PointEntry.objects.filter(kind=PointEntry.Kind.ADJUST).exists()

    client.force_login(staff_user("Support agent"))
    choices = [name for name, _ in client.get(MEMBERS_URL).context["action_form"].fields["action"].choices]
    assert choices == ["", "adjust_points"]
