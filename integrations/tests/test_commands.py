"""manage.py shop_create: a shop and a working API key, printed once."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from integrations.models import ApiKey, Shop


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("shop_create", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_prints_a_key_that_works(db):
    plaintext, note = run("Webshop DE", "--currency", "eur", "--kind", "web", "--time-zone", "Europe/Berlin")
    shop = Shop.objects.get()
    assert (shop.name, shop.currency, shop.time_zone) == ("Webshop DE", "EUR", "Europe/Berlin")
    assert "shown only this once" in note and plaintext not in note
    response = APIClient().get("/api/v1/shop", HTTP_X_API_KEY=plaintext)
    assert response.status_code == 200 and response.json()["id"] == str(shop.public_id)
    assert ApiKey.objects.get().scopes == ("read", "write")


def test_scopes_and_kind(db):
    run("Till 3", "--kind", "store", "--scopes", "read,adjust", "--origin", "https://till.example.com")
    api_key = ApiKey.objects.select_related("shop").get()
    assert api_key.scopes == ("read", "adjust")
    assert (api_key.shop.kind, api_key.shop.allowed_origins) == ("store", ["https://till.example.com"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad", "--currency", "euro"], "currency"),
        (["Bad", "--time-zone", "Nowhere/Land"], "time_zone"),
        (["Bad", "--scopes", "read,root"], "scopes"),
    ],
)
def test_bad_input_creates_nothing(db, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not Shop.objects.exists() and not ApiKey.objects.exists()


def test_a_taken_name_is_refused(db):
    run("Webshop")
    with pytest.raises(CommandError, match="name"):
        run("Webshop")
    assert Shop.objects.count() == 1 and ApiKey.objects.count() == 1
