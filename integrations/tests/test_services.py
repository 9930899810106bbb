"""Shops and API keys: creation shows the secret once and stores only its hash; revoke and rotate."""

import datetime as dt
import hashlib

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.exceptions import ApplicationError
from integrations.keys import KEY_RE
from integrations.models import ApiKey, Shop
from integrations.selectors import api_key_authenticate
from integrations.services.shops import api_key_create, api_key_revoke, api_key_rotate, shop_create


def test_shop_create_normalises_and_validates(db):
    shop = shop_create(
        name=" Till Utrecht ",
        kind="store",
        currency="eur",
        time_zone="Europe/Amsterdam",
        allowed_origins=["https://shop.example.com/", ""],
    )
    assert (shop.name, shop.kind, shop.currency, shop.allowed_origins) == (
        "Till Utrecht",
        "store",
        "EUR",
        ["https://shop.example.com"],
    )
    assert shop.public_id


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("currency", "EURO"),
        ("time_zone", "Mars/Olympus"),
        ("kind", "kiosk"),
        ("allowed_origins", ["https://shop.example.com/checkout"]),
        ("allowed_origins", ["javascript:alert(1)"]),
    ],
)
def test_shop_create_refuses_bad_values(db, field, value):
    with pytest.raises(ValidationError) as caught:
        shop_create(name="Bad", **{field: value})
    assert field in caught.value.message_dict
    assert not Shop.objects.exists()


def test_shop_names_are_unique(shop):
    with pytest.raises(ValidationError):
        shop_create(name="Webshop NL")


def test_key_creation_returns_the_plaintext_once_and_stores_only_its_hash(shop):
    api_key, plaintext = api_key_create(shop=shop, name="Checkout", scopes=["read", "write"])
    assert KEY_RE.match(plaintext)
    assert plaintext.startswith(api_key.prefix + "_") and api_key.prefix.startswith("lk_live_")
    assert len(api_key.prefix) == 16
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert stored.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    secret = plaintext.removeprefix(api_key.prefix + "_")
    row = ApiKey.objects.filter(pk=api_key.pk).values().get()
    assert not any(secret in str(value) for value in row.values())  # the secret is nowhere in the row
    assert stored.scopes == ("read", "write")
    assert stored.revoked_at is None and stored.last_used_at is None


def test_two_keys_differ(shop):
    (a, plain_a), (b, plain_b) = (api_key_create(shop=shop, name=n, scopes=["read"]) for n in "ab")
    assert a.prefix != b.prefix and plain_a != plain_b and a.key_hash != b.key_hash


@pytest.mark.parametrize("scopes", [[], ["admin"], ["read", "delete"]])
def test_key_creation_refuses_unknown_or_no_scopes(shop, scopes):
    with pytest.raises(ApplicationError) as caught:
        api_key_create(shop=shop, name="x", scopes=scopes)
    assert caught.value.code == "invalid_scopes"
    assert not ApiKey.objects.exists()


def test_the_database_refuses_a_key_without_scope_or_a_duplicate_prefix(shop, make_key):
    api_key, _ = make_key(shop, "read")
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiKey.objects.create(shop=shop, name="none", prefix="lk_live_00000000", key_hash="0" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiKey.objects.create(shop=shop, name="dup", prefix=api_key.prefix, key_hash="1" * 64, scope_read=True)


def test_a_prefix_clash_is_retried(shop, make_key, monkeypatch):
    from integrations import keys
    from integrations.services import shops

    first, _ = make_key(shop, "read")
    fresh = keys.key_generate()
    clash = keys.NewKey(prefix=first.prefix, plaintext=first.prefix + "_" + "x" * 40, key_hash="2" * 64)
    generated = iter([clash, fresh])
    monkeypatch.setattr(shops, "key_generate", lambda: next(generated))
    second, plaintext = api_key_create(shop=shop, name="second", scopes=["read"])
    assert (second.prefix, plaintext) == (fresh.prefix, fresh.plaintext)


def test_revoke_stops_the_key_and_is_idempotent(shop, make_key):
    api_key, plaintext = make_key(shop, "read")
    api_key_revoke(api_key=api_key)
    first_time = api_key.revoked_at
    assert first_time is not None
    assert api_key_authenticate(plaintext) is None
    api_key_revoke(api_key=api_key)
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at == first_time


def test_rotate_makes_a_new_key_with_the_same_scopes_and_stops_the_old_one(shop, make_key):
    old, old_plain = make_key(shop, "read", "adjust", name="Till 1")
    new, new_plain = api_key_rotate(api_key=old)
    assert (new.shop, new.name, new.scopes, new.rotated_from) == (shop, "Till 1", ("read", "adjust"), old)
    assert new_plain != old_plain
    assert api_key_authenticate(old_plain) is None
    assert api_key_authenticate(new_plain) == new


def test_rotate_with_a_grace_period_keeps_the_old_key_working_until_then(shop, make_key):
    old, old_plain = make_key(shop, "read")
    before = timezone.now()
    new, new_plain = api_key_rotate(api_key=old, grace=dt.timedelta(hours=24))
    old.refresh_from_db()
    assert before + dt.timedelta(hours=24) <= old.revoked_at <= timezone.now() + dt.timedelta(hours=24)
    assert api_key_authenticate(old_plain) == old  # still works during the grace period
    assert api_key_authenticate(new_plain) == new
    api_key_revoke(api_key=old)  # revoking cuts the grace period short
    assert api_key_authenticate(old_plain) is None


def test_a_key_is_rotated_once_and_a_revoked_key_not_at_all(shop, make_key):
    old, _ = make_key(shop, "read")
    api_key_rotate(api_key=old, grace=dt.timedelta(hours=1))
    with pytest.raises(ApplicationError) as caught:
        api_key_rotate(api_key=old)
    assert (caught.value.code, caught.value.status) == ("api_key_already_rotated", 409)

    revoked, _ = make_key(shop, "read")
    api_key_revoke(api_key=revoked)
    with pytest.raises(ApplicationError) as caught:
        api_key_rotate(api_key=revoked)
    assert caught.value.code == "api_key_revoked"
    assert ApiKey.objects.count() == 3


@pytest.mark.parametrize("grace", [dt.timedelta(seconds=-1), dt.timedelta(days=8)])
def test_rotate_refuses_a_grace_period_out_of_bounds(shop, make_key, grace):
    old, _ = make_key(shop, "read")
    with pytest.raises(ApplicationError) as caught:
        api_key_rotate(api_key=old, grace=grace)
    assert caught.value.code == "invalid_grace_period"
    assert ApiKey.objects.count() == 1
