"""manage.py demo_load: what `make run` shows a newcomer, loadable twice."""

import io
import re

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from members.models import Member
from rewards.selectors import ledger_audit


def _load() -> str:
    out = io.StringIO()
    call_command("demo_load", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_demo_loads_twice_and_its_api_key_finds_the_demo_members():
    first = _load()
    key = re.search(r"lk_live_\w+", first).group(0)
    second = _load()
    assert "lk_live_" not in second  # the key is shown once, when it is made
    assert Member.objects.count() == 3
    assert not ledger_audit()

    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    response = client.get("/api/v1/members", {"email": "ada@example.com"})
    assert response.status_code == 200
    assert response.json()["external_id"] == "demo-customer-1"
    assert response.json()["points"]["available"] > 0
