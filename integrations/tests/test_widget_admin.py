"""The widget in the shop admin: its settings, the snippet, and a rotated secret shown once."""

import pytest

from integrations.models import Shop
from members.models import User

CHANGELIST_SHOPS = "/admin/integrations/shop/"


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("boss@example.com", "correct-horse-battery"))
    return client


def test_the_change_page_shows_the_key_and_snippet_but_not_the_secret(admin_client, shop):
    page = admin_client.get(f"{CHANGELIST_SHOPS}{shop.pk}/change/").text
    assert shop.widget_key in page
    assert f'data-shop="{shop.widget_key}" async' in page.replace("&quot;", '"')
    assert "/static/widget/loyalty.js" in page
    assert shop.widget_secret not in page and shop.widget_secret[:8] in page


def test_the_widget_settings_are_saved_and_an_empty_colour_takes_the_default(admin_client, shop):
    response = admin_client.post(
        f"{CHANGELIST_SHOPS}{shop.pk}/change/",
        {
            "name": shop.name,
            "kind": "web",
            "currency": "EUR",
            "time_zone": "Europe/Amsterdam",
            "allowed_origins": "https://shop.example.com",
            "active": "on",
            "widget_enabled": "on",
            "widget_colour": "#AA0000",
            "widget_text_colour": "",
            "widget_position": "bottom-left",
            "widget_launcher_label": "Points",
            "api_keys-TOTAL_FORMS": "0",
            "api_keys-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    shop.refresh_from_db()
    assert shop.widget_enabled and not shop.widget_auto_join
    assert (shop.widget_colour, shop.widget_text_colour, shop.widget_position) == ("#AA0000", "#FFFFFF", "bottom-left")
    assert shop.widget_launcher_label == "Points"


def test_a_bad_colour_is_refused(admin_client, shop):
    response = admin_client.post(
        f"{CHANGELIST_SHOPS}{shop.pk}/change/",
        {"name": shop.name, "kind": "web", "currency": "EUR", "time_zone": "UTC", "widget_colour": "red"},
    )
    assert response.status_code == 200
    assert "widget_colour" in response.context["adminform"].form.errors


def test_rotating_shows_the_new_secret_once_and_keeps_it_out_of_history(admin_client, shop):
    old = shop.widget_secret
    response = admin_client.post(CHANGELIST_SHOPS, {"action": "rotate_widget_secret", "_selected_action": [shop.pk]})
    assert response.status_code == 200
    shop.refresh_from_db()
    assert shop.widget_secret != old and shop.widget_secret.startswith("wsk_")
    assert shop.widget_secret in response.text
    assert shop.widget_secret not in admin_client.get(f"{CHANGELIST_SHOPS}{shop.pk}/change/").text
    assert not hasattr(Shop.history.model, "widget_secret")


def test_new_shops_get_their_own_key_and_secret(db):
    from integrations.services.shops import shop_create

    one, two = shop_create(name="One"), shop_create(name="Two")
    assert one.widget_key.startswith("pk_") and one.widget_key != two.widget_key
    assert one.widget_secret != two.widget_secret
    assert not one.widget_enabled  # switched on by staff
