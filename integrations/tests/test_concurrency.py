"""Rotating one key from two places at once makes one new key (PostgreSQL, real threads)."""

import datetime as dt

import pytest

from core.exceptions import ApplicationError
from core.tests.concurrency import run_at_once
from integrations.models import ApiKey
from integrations.services.shops import api_key_create, api_key_rotate, shop_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("grace", "refusal"),
    [(dt.timedelta(0), "api_key_revoked"), (dt.timedelta(hours=1), "api_key_already_rotated")],
)
def test_rotations_at_once_make_one_new_key(grace, refusal):
    shop = shop_create(name="Concurrent shop")
    old, _ = api_key_create(shop=shop, name="Till", scopes=["read"])
    results = run_at_once(4, lambda _: api_key_rotate(api_key=ApiKey.objects.get(pk=old.pk), grace=grace))
    ok = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, ApplicationError)]
    assert len(ok) == 1 and len(refused) == 3, results
    assert {r.code for r in refused} == {refusal}
    assert ApiKey.objects.filter(rotated_from=old).count() == 1
