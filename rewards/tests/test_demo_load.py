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
    assert Member.objects.count() == 4  # three members and Katherine, whom Ada referred
    assert not ledger_audit()

    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    response = client.get("/api/v1/members", {"email": "ada@example.com"})
    assert response.status_code == 200
    assert response.json()["external_id"] == "demo-customer-1"
    assert response.json()["points"]["available"] > 0


@pytest.mark.django_db
def test_the_demo_has_tiers_rewards_and_a_campaign_for_the_member_pages():
    from django.utils import timezone

    from rewards.models import Campaign, Reward, Tier
    from rewards.selectors.catalogue import rewards_for_member

    key = re.search(r"lk_live_\w+", _load()).group(0)
    _load()
    assert list(Tier.objects.values_list("name", flat=True)) == ["Member", "Gold"]
    assert Reward.objects.count() == 4 and Campaign.objects.count() == 1
    ada = Member.objects.get(user__email="ada@example.com")
    options = rewards_for_member(member=ada)
    assert any(o.available for o in options) and any(not o.available for o in options)

    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    body = {
        "external_id": "demo-books-1",
        "member_external_id": "demo-customer-1",
        "currency": "EUR",
        "total": "20.00",
        "placed_at": timezone.now().isoformat(),
        "lines": [{"sku": "BOOK-1", "category": "books", "quantity": "1", "total": "20.00"}],
    }
    response = client.post("/api/v1/orders", body, format="json")
    assert response.status_code == 201, response.content
    (line,) = response.json()["lines"]
    assert {rule["source"] for rule in line["rules"]} == {"rule", "campaign"}
    assert response.json()["points"] == 40  # 20 for 20.00 EUR, doubled on books


@pytest.mark.django_db
def test_the_demo_has_a_referral_waiting_for_its_return_window():
    from referrals.models import Referral

    _load()
    referral = Referral.objects.get(friend__user__email="katherine@example.com")
    assert referral.referrer.user.email == "ada@example.com"
    assert referral.status == Referral.Status.QUALIFIED
    assert referral.rewards.get(side="referrer").status == "pending"
