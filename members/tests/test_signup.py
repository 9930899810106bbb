"""Sign-up, sign-in, sign-out, password reset and e-mail verification through allauth's own pages."""

import datetime as dt
import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from members.models import Member, User
from members.tests.factories import member_create
from rewards.models import PointEntry, PointLot
from rewards.selectors import program_get

PASSWORD = "a-long-and-unusual-passphrase"


def signup_data(**overrides) -> dict:
    data = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "Ada@Example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "birthday": "1990-12-10",
        "marketing_consent": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def bonus(db):
    program = program_get()
    program.signup_bonus = 150
    program.save()
    return program.signup_bonus


@pytest.mark.django_db
def test_sign_up_creates_user_member_account_and_bonus_and_signs_in(client, bonus):
    response = client.post(reverse("account_signup"), signup_data())

    assert response.status_code == 302
    assert response["Location"] == reverse("members:dashboard")
    user = User.objects.get()
    assert user.email == "ada@example.com" and user.check_password(PASSWORD)
    member = Member.objects.select_related("points_account").get(user=user)
    assert (member.first_name, member.last_name, member.birthday) == ("Ada", "Lovelace", dt.date(1990, 12, 10))
    assert member.marketing_consent and member.marketing_consent_at is not None
    assert member.joined_via == "web" and member.status == Member.Status.ACTIVE
    assert member.points_account.available == bonus
    entry = PointEntry.objects.get(account=member.points_account)
    assert entry.kind == PointEntry.Kind.EARN and entry.points == bonus
    assert entry.lots.get().source == PointLot.Source.SIGNUP
    assert EmailAddress.objects.get(user=user).email == "ada@example.com"

    # Signed in straight away (verification is optional outside production) and the bonus shows.
    dashboard = client.get(response["Location"])
    assert dashboard.status_code == 200
    assert b'data-testid="available">150<' in dashboard.content


@pytest.mark.django_db
def test_sign_up_with_only_the_required_fields(client):
    data = signup_data(last_name=None, birthday=None, marketing_consent=None)
    response = client.post(reverse("account_signup"), data)
    assert response.status_code == 302
    member = Member.objects.get()
    assert (member.last_name, member.birthday, member.marketing_consent) == ("", None, False)
    assert member.marketing_consent_at is None
    assert member.points_account.available == 0  # the program has no bonus by default


@pytest.mark.django_db
def test_sign_up_with_a_taken_email_is_a_form_error(client):
    member_create(email="ada@example.com")
    response = client.post(reverse("account_signup"), signup_data(email="ADA@example.com"))
    assert response.status_code == 200
    assert response.context["form"].errors["email"]
    assert "A user is already registered with this email address." in response.content.decode()
    assert User.objects.count() == 1 and Member.objects.count() == 1


@pytest.mark.django_db
def test_sign_up_needs_a_first_name_and_a_sensible_birthday(client):
    response = client.post(reverse("account_signup"), signup_data(first_name="", birthday="2999-01-01"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "first_name" in errors and errors["birthday"] == ["A birthday cannot be in the future."]
    assert not User.objects.exists()


@pytest.mark.django_db
def test_sign_up_page_uses_the_site_layout_and_announces_the_bonus(client, bonus):
    response = client.get(reverse("account_signup"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="site-header"' in html and "css/site.css" in html
    assert "welcome bonus of <strong>150 points</strong>" in html
    # Every field has a visible label tied to its input.
    for name in ("first_name", "last_name", "email", "password1", "password2", "birthday", "marketing_consent"):
        assert f'for="id_{name}"' in html and f'id="id_{name}"' in html
    assert html.index('id="id_first_name"') < html.index('id="id_email"') < html.index('id="id_birthday"')


@pytest.mark.django_db
def test_sign_in_with_email_in_any_case_then_sign_out(client):
    member_create(email="grace@example.com", password=PASSWORD, first_name="Grace")

    response = client.post(reverse("account_login"), {"login": "Grace@Example.COM", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("members:dashboard")
    assert "Hello, Grace" in client.get(reverse("members:dashboard")).content.decode()

    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("members:dashboard")).status_code == 302


@pytest.mark.django_db
def test_sign_in_with_a_wrong_password_says_so(client):
    member_create(email="grace@example.com", password=PASSWORD)
    response = client.post(reverse("account_login"), {"login": "grace@example.com", "password": "nope"})
    assert response.status_code == 200
    assert "The email address and/or password you specified are not correct." in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_sign_in_goes_back_to_the_page_that_asked_for_it(client):
    member_create(email="grace@example.com", password=PASSWORD)
    history = reverse("members:history")
    response = client.post(
        f"{reverse('account_login')}?next={history}", {"login": "grace@example.com", "password": PASSWORD}
    )
    assert response["Location"] == history


@pytest.mark.django_db
def test_staff_without_membership_land_in_the_admin_after_sign_in(client):
    User.objects.create_user("staff@example.com", PASSWORD, is_staff=True)
    response = client.post(reverse("account_login"), {"login": "staff@example.com", "password": PASSWORD})
    assert response["Location"] == reverse("admin:index")


@pytest.mark.django_db
def test_allauth_pages_wear_the_site_layout(client):
    for name in ("account_login", "account_reset_password", "account_signup"):
        html = client.get(reverse(name)).content.decode()
        assert 'class="site-header"' in html and '<main id="main" class="wrap entrance"' in html, name
    member = member_create(email="grace@example.com", password=PASSWORD)
    client.force_login(member.user)
    for name in ("account_email", "account_change_password", "account_logout"):
        html = client.get(reverse(name)).content.decode()
        assert 'class="site-header"' in html and '<main id="main" class="wrap manage"' in html, name
        assert 'aria-label="Your membership"' in html  # the member navigation


@pytest.mark.django_db
def test_password_reset_sends_a_link_that_sets_a_new_password(client):
    member_create(email="grace@example.com", password=PASSWORD)
    response = client.post(reverse("account_reset_password"), {"email": "grace@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/password/reset/key/\S+)", mail.outbox[0].body).group(1)

    page = client.get(link, follow=True)
    assert page.status_code == 200 and 'class="site-header"' in page.content.decode()
    new = "another-long-passphrase-42"
    response = client.post(page.redirect_chain[-1][0], {"password1": new, "password2": new})
    assert response.status_code == 302
    assert User.objects.get(email="grace@example.com").check_password(new)


@pytest.mark.django_db
def test_mandatory_verification_holds_the_sign_in_until_the_email_is_confirmed(client, bonus, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    response = client.post(reverse("account_signup"), signup_data())

    assert response["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session
    member = Member.objects.get()  # the membership and its bonus exist already
    assert member.points_account.available == bonus
    assert len(mail.outbox) == 1
    sent = client.get(response["Location"])
    assert sent.status_code == 200 and 'class="site-header"' in sent.content.decode()

    link = re.search(r"https?://[^/]+(/accounts/confirm-email/\S+)", mail.outbox[0].body).group(1)
    confirm = client.get(link)
    assert confirm.status_code == 200 and 'class="site-header"' in confirm.content.decode()
    client.post(link)
    assert EmailAddress.objects.get(user=member.user).verified


@pytest.fixture
def signup_limited(settings):
    settings.ACCOUNT_RATE_LIMITS = {"signup": "2/h/ip"}
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
def test_too_many_sign_ups_from_one_address_get_a_friendly_429(client, signup_limited):
    for i in range(2):
        client.post(reverse("account_signup"), signup_data(email=f"shopper{i}@example.com"))
        client.logout()
    response = client.post(reverse("account_signup"), signup_data(email="shopper9@example.com"))
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert User.objects.count() == 2
