"""Rotating one key from two places at once makes one new key (PostgreSQL, real threads)."""

import datetime as dt
import threading

import pytest
from django.db import connection

from core.exceptions import ApplicationError
from integrations.models import ApiKey
from integrations.services import api_key_create, api_key_rotate, shop_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TIMEOUT = 30


@pytest.mark.parametrize(
    ("grace", "refusal"),
    [(dt.timedelta(0), "api_key_revoked"), (dt.timedelta(hours=1), "api_key_already_rotated")],
)
def test_rotations_at_once_make_one_new_key(grace, refusal):
    shop = shop_create(name="Concurrent shop")
    old, _ = api_key_create(shop=shop, name="Till", scopes=["read"])
    barrier = threading.Barrier(4, timeout=TIMEOUT)
    results: list = [None] * 4

    def run(i):
        try:
            barrier.wait()
            results[i] = api_key_rotate(api_key=ApiKey.objects.get(pk=old.pk), grace=grace)
        except Exception as error:
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads)
    ok = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, ApplicationError)]
    assert len(ok) == 1 and len(refused) == 3, results
    assert {r.code for r in refused} == {refusal}
    assert ApiKey.objects.filter(rotated_from=old).count() == 1
