"""Shops and API keys in the admin: pages render, keys are created, rotated and revoked by actions, the
plaintext is shown once and the hash never."""

import uuid

import pytest
from django.contrib.messages import get_messages

from integrations.models import ApiKey, Shop
from integrations.selectors import api_key_authenticate
from members.models import User

CHANGELIST_SHOPS = "/admin/integrations/shop/"
CHANGELIST_KEYS = "/admin/integrations/apikey/"


@pytest.fixture
def admin_client(client, db):
    user = User.objects.create_superuser("boss@example.com", "correct-horse-battery")
    client.force_login(user)
    return client


def test_pages_render_for_a_superuser_and_never_show_the_hash(admin_client, shop, make_key):
    api_key, plaintext = make_key(shop, "read", "write")
    pages = [
        CHANGELIST_SHOPS,
        CHANGELIST_SHOPS + "?q=Webshop",
        f"{CHANGELIST_SHOPS}{shop.pk}/change/",
        f"{CHANGELIST_SHOPS}add/",
        CHANGELIST_KEYS,
        CHANGELIST_KEYS + "?status=live",
        CHANGELIST_KEYS + "?q=" + api_key.prefix,
        f"{CHANGELIST_KEYS}{api_key.pk}/change/",
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert api_key.key_hash not in response.text and plaintext not in response.text, url
    assert api_key.prefix in admin_client.get(f"{CHANGELIST_SHOPS}{shop.pk}/change/").text
    assert admin_client.get(CHANGELIST_KEYS + "add/").status_code == 403  # keys come from the shop action


def test_add_a_shop_with_origins_one_per_line(admin_client, db):
    response = admin_client.post(
        CHANGELIST_SHOPS + "add/",
        {
            "name": "Webshop BE",
            "kind": "web",
            "currency": "eur",
            "time_zone": "Europe/Brussels",
            "allowed_origins": "https://shop.example.be/\r\nhttps://www.example.be",
            "active": "on",
            "api_keys-TOTAL_FORMS": "0",
            "api_keys-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    shop = Shop.objects.get()
    assert shop.currency == "EUR"
    assert shop.allowed_origins == ["https://shop.example.be", "https://www.example.be"]


def test_a_bad_time_zone_is_refused_in_the_form(admin_client, db):
    response = admin_client.post(
        CHANGELIST_SHOPS + "add/",
        {"name": "X", "kind": "web", "currency": "EUR", "time_zone": "Moon/Base", "allowed_origins": ""},
    )
    assert response.status_code == 200
    assert "time_zone" in response.context["adminform"].form.errors
    assert not Shop.objects.exists()


def test_the_create_key_action_shows_the_key_once(admin_client, shop):
    form = admin_client.post(CHANGELIST_SHOPS, {"action": "create_api_key", "_selected_action": [shop.pk]})
    assert form.status_code == 200 and "Create the key" in form.text
    assert not ApiKey.objects.exists()

    data = {
        "action": "create_api_key",
        "_selected_action": [shop.pk],
        "apply": "yes",
        "name": "Checkout server",
        "scopes": ["read", "write"],
        "token": form.context["form"]["token"].value(),
    }
    response = admin_client.post(CHANGELIST_SHOPS, data)
    assert response.status_code == 200
    api_key = ApiKey.objects.get()
    plaintext = response.context["created"][0][1]
    assert api_key_authenticate(plaintext) == api_key
    assert api_key.scopes == ("read", "write") and api_key.created_by.email == "boss@example.com"
    assert plaintext in response.text
    assert any(plaintext in str(m) for m in response.context["messages"])
    assert "Cache-Control" in response and "no-store" in response["Cache-Control"]
    assert not response.cookies.get("messages")  # rendered on this page, not stored for the next
    assert plaintext not in response.cookies.output()

    for url in (CHANGELIST_SHOPS, CHANGELIST_KEYS, f"{CHANGELIST_KEYS}{api_key.pk}/change/"):
        assert plaintext not in admin_client.get(url).text  # never again

    reload = admin_client.post(CHANGELIST_SHOPS, data, follow=True)  # the browser posts the page again
    assert "already submitted" in reload.text and plaintext not in reload.text
    assert ApiKey.objects.count() == 1  # no second key that nobody has seen


def test_the_create_key_action_needs_exactly_one_shop_and_a_scope(admin_client, shop):
    from integrations.services.shops import shop_create

    other = shop_create(name="Other")
    response = admin_client.post(
        CHANGELIST_SHOPS, {"action": "create_api_key", "_selected_action": [shop.pk, other.pk]}, follow=True
    )
    assert "exactly one shop" in " ".join(str(m) for m in get_messages(response.wsgi_request)) or (
        "exactly one shop" in response.text
    )
    response = admin_client.post(
        CHANGELIST_SHOPS,
        {"action": "create_api_key", "_selected_action": [shop.pk], "apply": "yes", "name": "x", "token": uuid.uuid4()},
    )
    assert response.status_code == 200 and "scopes" in response.context["form"].errors
    assert not ApiKey.objects.exists()


def test_only_the_name_of_a_key_can_be_changed(admin_client, shop, make_key):
    api_key, _ = make_key(shop, "read")
    page = admin_client.get(f"{CHANGELIST_KEYS}{api_key.pk}/change/")
    assert list(page.context["adminform"].form.fields) == ["name"]
    response = admin_client.post(
        f"{CHANGELIST_KEYS}{api_key.pk}/change/",
        {"name": "Renamed", "prefix": "lk_live_hijacked", "scope_adjust": "on"},
    )
    assert response.status_code == 302
    after = ApiKey.objects.get(pk=api_key.pk)
    assert (after.name, after.prefix, after.scopes, after.key_hash) == (
        "Renamed",
        api_key.prefix,
        ("read",),
        api_key.key_hash,
    )


def test_rotate_action_shows_the_new_key_once(admin_client, shop, make_key):
    old, old_plain = make_key(shop, "read", "write")
    form = admin_client.post(CHANGELIST_KEYS, {"action": "rotate_api_keys", "_selected_action": [old.pk]})
    assert form.status_code == 200 and "stops working" in form.text
    response = admin_client.post(
        CHANGELIST_KEYS, {"action": "rotate_api_keys", "_selected_action": [old.pk], "apply": "yes", "grace": "0"}
    )
    assert response.status_code == 200
    new_key, new_plain = response.context["created"][0]
    assert new_plain in response.text
    assert api_key_authenticate(old_plain) is None
    assert api_key_authenticate(new_plain) == new_key and new_key.scopes == ("read", "write")


def test_rotate_with_grace_keeps_the_old_key_for_a_day(admin_client, shop, make_key):
    old, old_plain = make_key(shop, "read")
    admin_client.post(
        CHANGELIST_KEYS, {"action": "rotate_api_keys", "_selected_action": [old.pk], "apply": "yes", "grace": "86400"}
    )
    assert api_key_authenticate(old_plain) == old
    assert "Live until" in admin_client.get(CHANGELIST_KEYS).text


def test_revoke_action(admin_client, shop, make_key):
    first, first_plain = make_key(shop, "read")
    second, _ = make_key(shop, "read", name="second")
    admin_client.post(CHANGELIST_KEYS, {"action": "revoke_api_keys", "_selected_action": [first.pk]})
    response = admin_client.post(
        CHANGELIST_KEYS, {"action": "revoke_api_keys", "_selected_action": [first.pk, second.pk]}, follow=True
    )
    text = " ".join(str(m) for m in response.context["messages"])
    assert "Revoked 1 API key." in text and "1 key was already revoked." in text
    assert api_key_authenticate(first_plain) is None
    assert ApiKey.objects.filter(revoked_at__isnull=False).count() == 2
    assert ApiKey.objects.count() == 2  # revoked, not deleted
