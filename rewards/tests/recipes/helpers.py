"""What the recipe stories share: load a recipe, then act as its shops through API v1."""

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import Shop
from integrations.tests.helpers import api_client
from rewards.models import Reward
from rewards.selectors import ledger_audit
from rewards.services.ledger import lots_release_due
from rewards.services.recipes import recipe_load

_ids = itertools.count(1)


@dataclass
class Till:
    """One shop of the loaded recipe and an API client with its read and write key."""

    shop: Shop
    api: APIClient
    currency: str

    def register(self, external_id: str, email: str, **profile) -> dict:
        response = self.api.post("/api/v1/members", {"external_id": external_id, "email": email, **profile})
        assert response.status_code in (200, 201), response.json()
        return response.json()

    def order_body(self, member_id: str, lines: list[tuple], *, placed_at=None, tax="0.00", external_id=None) -> dict:
        """An order of `lines` (sku, category, quantity, line total); its total is the lines' plus tax."""
        subtotal = sum((Decimal(str(total)) for *_, total in lines), Decimal(0))
        return {
            "external_id": external_id or f"order-{next(_ids)}",
            "member_id": member_id,
            "currency": self.currency,
            "total": str(subtotal + Decimal(tax)),
            "subtotal": str(subtotal),
            "tax": tax,
            "placed_at": (placed_at or timezone.now() - dt.timedelta(seconds=1)).isoformat(),
            "lines": [
                {"sku": sku, "name": sku.title(), "category": category, "quantity": qty, "total": str(total)}
                for sku, category, qty, total in lines
            ],
        }

    def order(self, member_id: str, lines: list[tuple], **kwargs) -> dict:
        response = self.api.post("/api/v1/orders", self.order_body(member_id, lines, **kwargs), format="json")
        assert response.status_code == 201, response.json()
        return response.json()

    def batch(self, bodies: list[dict]) -> dict:
        response = self.api.post("/api/v1/orders/batch", {"orders": bodies}, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["failed"] == 0, response.json()
        return response.json()

    def event(self, member_id: str, event: str) -> dict:
        response = self.api.post(
            "/api/v1/events", {"member_id": member_id, "event": event, "external_id": f"event-{next(_ids)}"}
        )
        assert response.status_code == 201, response.json()
        return response.json()

    def member(self, member_id: str) -> dict:
        response = self.api.get(f"/api/v1/members/{member_id}")
        assert response.status_code == 200, response.json()
        return response.json()

    def points(self, member_id: str) -> tuple[int, int]:
        """(available, pending)."""
        points = self.member(member_id)["points"]
        return points["available"], points["pending"]

    def tier(self, member_id: str) -> str | None:
        tier = self.member(member_id)["tier"]
        return tier and tier["name"]

    def rewards(self, member_id: str) -> dict[str, dict]:
        """The catalogue as this shop shows it to the member, by title."""
        response = self.api.get("/api/v1/rewards", {"member_id": member_id})
        assert response.status_code == 200, response.json()
        return {r["title"]: r for r in response.json()["results"]}

    def redeem(self, member_id: str, title: str, *, points: int | None = None, expect: int = 201) -> dict:
        body = {"reward_id": str(Reward.objects.get(title=title).public_id), "idempotency_key": f"r-{next(_ids)}"}
        if points is not None:
            body["points"] = points
        response = self.api.post(f"/api/v1/members/{member_id}/redemptions", body)
        assert response.status_code == expect, response.json()
        return response.json()

    def validate(self, code: str, total: str, lines: list[tuple] = ()) -> dict:
        body = {
            "total": total,
            "currency": self.currency,
            "lines": [{"sku": sku, "quantity": qty, "total": str(t)} for sku, qty, t in lines],
        }
        response = self.api.post(f"/api/v1/coupons/{code}/validate", body, format="json")
        assert response.status_code == 200, response.json()
        return response.json()


def load(name: str) -> dict[str, Till]:
    """Load recipe `name` and return a Till per shop, by the shop's name."""
    result = recipe_load(name=name)
    assert result.applied
    return {
        shop.name: Till(shop=shop, api=api_client(shop, "read", "write"), currency=shop.currency)
        for shop in result.shops
    }


def days_later(days: int) -> None:
    """`days` days pass: the release sweep makes the points whose return window closed by then available."""
    lots_release_due(now=timezone.now() + dt.timedelta(days=days))


def assert_audit_clean() -> None:
    assert ledger_audit() == []
