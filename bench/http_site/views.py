"""The floor the order API is compared with: a plain Django view with only an order's SQL shape.

It takes the same JSON body as POST /api/v1/orders and does what any order intake must do in the
database: find the member by the shop's customer id, lock the points account row, insert a lot, a ledger
entry and the order, and update the account's balance, in one transaction. No DRF, no API key, no rate
limit, no validation beyond parsing, no earning rules (1 point per unit of the total), no idempotency
check, no breakdown. It writes to the real tables (with their indexes and constraints) but skips the
ledger's movement rows, so the bench database does not audit clean afterwards; it is thrown away.
"""

import datetime as dt
import json
import os
import uuid
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.http import HttpResponseBadRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.models import Order, ShopCustomer
from rewards.models import PointEntry, PointLot, PointsAccount

SHOP_ID = int(os.environ.get("BENCH_SHOP_ID", "0"))  # the bench shop's pk, set by bench/http_intake.py


@csrf_exempt
@require_POST
def bare_order(request):
    data = json.loads(request.body)
    link = (
        ShopCustomer.objects.select_related("member__points_account")
        .filter(shop_id=SHOP_ID, external_id=data["member_external_id"])
        .first()
    )
    if link is None:
        return HttpResponseBadRequest("unknown member")
    account_id = link.member.points_account.pk
    points = int(Decimal(data["total"]))
    now = timezone.now()
    with transaction.atomic():
        PointsAccount.objects.select_for_update(no_key=True).only("pk").get(pk=account_id)
        lot = PointLot.objects.create(
            account_id=account_id,
            points=points,
            remaining=points,
            state=PointLot.State.AVAILABLE,
            source=PointLot.Source.ORDER,
            source_ref=data["external_id"],
            earned_at=now,
            available_at=now,
            value_currency=data["currency"],
        )
        PointEntry.objects.create(
            account_id=account_id,
            kind=PointEntry.Kind.EARN,
            available_change=points,
            actor_kind=PointEntry.Actor.SHOP,
            idempotency_key=f"bare:{SHOP_ID}:{data['external_id']}",
            details={"lot": str(lot.public_id)},
        )
        order = Order.objects.create(
            shop_id=SHOP_ID,
            external_id=data["external_id"],
            member_id=link.member_id,
            member_external_id=data["member_external_id"],
            currency=data["currency"],
            total=Decimal(data["total"]),
            subtotal=Decimal(data["subtotal"]),
            tax=Decimal(data["tax"]),
            shipping=Decimal(data["shipping"]),
            placed_at=dt.datetime.fromisoformat(data["placed_at"]),
            lines=data["lines"],
            points=points,
            lot=lot,
            status=Order.Status.AWARDED,
            fingerprint=uuid.uuid4().hex,
        )
        PointsAccount.objects.filter(pk=account_id).update(
            available=F("available") + points, lifetime_earned=F("lifetime_earned") + points, updated_at=now
        )
    return JsonResponse({"id": str(order.public_id), "external_id": order.external_id, "points": points}, status=201)
