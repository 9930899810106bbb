"""Writes for webhooks: publish events to the outbox, deliver them, replay them, manage endpoints.

Publishing (`event_publish`, `events_publish`, `member_event_publish`, `members_events_publish`) must run
inside the caller's `transaction.atomic`, the one that makes the change: the outbox row then commits or
rolls back with it. After the commit each new row is handed to Celery; when that fails (broker down) the
row waits for `deliveries_requeue_due`, run every minute, so delivery is late, never lost.

Delivery (`delivery_attempt`) claims the row with one conditional UPDATE (no transaction is held during the
HTTP call), POSTs the frozen payload signed with the endpoint's secret, and records the outcome.
"""

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import random
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from core.process_cache import ProcessCache
from integrations.models import Shop, ShopCustomer
from members.models import Member
from rewards.models import PointEntry, PointLot, PointsAccount
from rewards.selectors import program_get
from webhooks.models import EVENTS, PING, LotExpiryNotice, WebhookAttempt, WebhookDelivery, WebhookEndpoint, secret_new

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status

# A claim pushes next_attempt_at this far ahead: a worker that dies mid-send leaves the row to be tried
# again after it, and no second worker takes it meanwhile (the HTTP call itself is bounded by the timeout).
CLAIM_LEASE = dt.timedelta(minutes=5)
RETRY_FIRST = 30  # seconds; doubles after every failed attempt
RETRY_CAP = 3600  # seconds between attempts at most
REQUEUE_BATCH = 5000  # due rows one sweep run enqueues at most; the next run takes the rest
ERROR_MAX = 300
SNIPPET_MAX = 500
USER_AGENT = "LoyaltyWebhooks/1"


# --- payloads -------------------------------------------------------------------------------------------


def member_ref(member: Member, *, external_id: str | None = None) -> dict:
    """The member as events name them: the public id, and the receiving shop's own id for them if known."""
    return {"id": str(member.public_id), "external_id": external_id}


def member_data(member: Member) -> dict:
    """The profile a shop sees in member.created / member.updated (never a closed member's anonymised login)."""
    closed = member.status == Member.Status.CLOSED
    return {
        "id": str(member.public_id),
        "external_id": None,  # filled in per shop
        "email": None if closed else member.user.email,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "birthday": member.birthday.isoformat() if member.birthday else None,
        "marketing_consent": member.marketing_consent,
        "status": member.status,
        "joined_at": member.joined_at.isoformat(),
    }


def balance_data(account: PointsAccount) -> dict:
    return {"available": account.available, "pending": account.pending}


def order_data(order) -> dict:
    """The order as its events show it (an integrations.models.Order)."""
    return {
        "id": str(order.public_id),
        "external_id": order.external_id,
        "currency": order.currency,
        "total": format(order.total, "f"),
        "placed_at": order.placed_at.isoformat(),
        "status": order.status,
        "points": order.points,
        "points_reversed": order.points_reversed,
    }


def order_points_awarded_data(*, order, member: Member, account: PointsAccount) -> dict:
    """The data of `order.points_awarded` for an order that has just earned (its lot set)."""
    lot = order.lot
    return {
        "order": order_data(order),
        "member": member_ref(member, external_id=order.member_external_id or None),
        "points": order.points,
        "points_status": lot.state if lot is not None else None,
        "available_at": lot.available_at.isoformat() if lot is not None else None,
        "balance": balance_data(account),
    }


def order_refunded_data(
    *, order, member: Member | None, refund=None, points_reversed: int, account: PointsAccount | None
) -> dict:
    """The data of `order.refunded`: a refund (`refund` given) or the cancellation (`refund` None); `member`
    and `account` are None for an order that was never matched."""
    return {
        "order": order_data(order),
        "member": None if member is None else member_ref(member, external_id=order.member_external_id or None),
        "refund": None
        if refund is None
        else {
            "id": str(refund.public_id),
            "external_id": refund.external_id,
            "amount": None if refund.amount is None else format(refund.amount, "f"),
            "lines": refund.lines,
        },
        "cancelled": refund is None,
        "points_reversed": points_reversed,
        "balance": None if account is None else balance_data(account),
    }


def _envelope(*, event_id: uuid.UUID, event: str, created_at: dt.datetime, data: dict) -> dict:
    return {"id": str(event_id), "event": event, "created_at": created_at.isoformat(), "data": data}


# --- publishing (inside the caller's transaction) ---------------------------------------------------------


def _require_atomic(event: str) -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"Publish {event} inside the transaction.atomic that makes the change.")


def _require_known(event: str) -> None:
    if event not in EVENTS and event != PING:
        raise ValueError(f"Unknown webhook event {event!r}.")


# Shops with no active endpoint, as this process last saw them (most shops have none): their events need
# no query. Only that answer is kept: a kept endpoint id could be deleted meanwhile in another process, and
# its outbox row would then fail the transaction that made the change. A new endpoint gets events from
# every web process within settings.CONFIG_CACHE_SECONDS (docs/webhooks.md).
_shops_without_endpoints = ProcessCache("shops without webhook endpoints")
for _model in (WebhookEndpoint, Shop):
    post_save.connect(_shops_without_endpoints.invalidate, sender=_model, dispatch_uid=f"no_endpoints_save_{_model}")
    post_delete.connect(
        _shops_without_endpoints.invalidate, sender=_model, dispatch_uid=f"no_endpoints_delete_{_model}"
    )


def shop_known_without_endpoints(shop_pk: int) -> bool:
    """Whether this process already knows the shop has no active endpoint (its events would write nothing), so
    a caller may skip building their data. False means only "not known": publish as usual."""
    return _shops_without_endpoints.peek(shop_pk, False)


def _endpoints_by_shop(shop_pks: set[int]) -> dict[int, list[tuple[int, list]]]:
    """Active endpoints of active shops, at most one query: {shop pk: [(endpoint pk, events)]}."""
    found = defaultdict(list)
    wanted = {pk for pk in shop_pks if not _shops_without_endpoints.peek(pk, False)}
    if not wanted:
        return found
    rows = (
        WebhookEndpoint.objects.filter(shop_id__in=wanted, active=True, shop__active=True)
        .order_by()  # not the model's order by shop name: no sort, no second join
        .values_list("shop_id", "pk", "events")
    )
    for shop_pk, endpoint_pk, events in rows:
        found[shop_pk].append((endpoint_pk, events))
    for pk in wanted - found.keys():
        _shops_without_endpoints.put(pk, True)
    return found


def _outbox_write(deliveries: list[WebhookDelivery]) -> list[WebhookDelivery]:
    """Insert the rows (one query) and hand them to Celery once the transaction commits."""
    if not deliveries:
        return []
    written = WebhookDelivery.objects.bulk_create(deliveries)
    if any(d.pk is None for d in written):  # backends without RETURNING: the sweep finds them within a minute
        return written
    ids = [d.pk for d in written]
    transaction.on_commit(lambda: deliveries_enqueue(ids))
    return written


def events_publish(items: Iterable[tuple[int, str, dict]]) -> list[WebhookDelivery]:
    """Write one outbox row per active endpoint subscribed to each (shop pk, event, data), each item its own
    event id; one query finds the endpoints, one inserts the rows, however many items. Call it inside the
    transaction that makes the changes; delivery is queued when it commits."""
    items = list(items)
    if not items:
        return []
    for _shop_pk, event, _data in items:
        _require_known(event)
    _require_atomic(items[0][1])
    endpoints = _endpoints_by_shop({shop_pk for shop_pk, _event, _data in items})
    now = timezone.now()
    deliveries = []
    for shop_pk, event, data in items:
        targets = [pk for pk, events in endpoints.get(shop_pk, ()) if event == PING or event in events]
        if not targets:
            continue
        event_id = uuid.uuid4()
        payload = _envelope(event_id=event_id, event=event, created_at=now, data=data)
        deliveries += [
            WebhookDelivery(endpoint_id=pk, event_id=event_id, event=event, payload=payload, next_attempt_at=now)
            for pk in targets
        ]
    return _outbox_write(deliveries)


def event_publish(*, shop: Shop, event: str, data: dict) -> list[WebhookDelivery]:
    """One event of `shop`, to each of its active endpoints subscribed to it (inside the caller's transaction)."""
    return events_publish([(shop.pk, event, data)])


def members_events_publish(items: Iterable[tuple[int, str, dict]]) -> list[WebhookDelivery]:
    """Member-scoped events: each (member pk, event, data) goes to every active shop linked to the member
    (integrations.ShopCustomer) with an active endpoint subscribed to it; `data["member"]["external_id"]`
    becomes that shop's id for the member. One event id per item, the same for every shop. One query finds
    links and endpoints together, one inserts the rows. Inside the caller's transaction."""
    items = list(items)
    if not items:
        return []
    for _member_pk, event, _data in items:
        _require_known(event)
    _require_atomic(items[0][1])
    targets = _member_targets(member_pks={member_pk for member_pk, _event, _data in items})
    return _members_fanout(items, targets)


def _member_targets(*, member_pks: set[int] | None = None, account_pks: list[int] | None = None) -> dict:
    """{member pk: [(endpoint pk, events, the shop's external id)]}, one query over links and endpoints."""
    links = ShopCustomer.objects.filter(shop__active=True, shop__webhook_endpoints__active=True)
    if member_pks is not None:
        links = links.filter(member_id__in=member_pks)
    else:
        links = links.filter(member__points_account__in=account_pks)
    targets = defaultdict(list)
    rows = links.values_list(
        "member_id", "shop__webhook_endpoints__id", "shop__webhook_endpoints__events", "external_id"
    )
    for member_pk, endpoint_pk, events, external_id in rows:
        targets[member_pk].append((endpoint_pk, events, external_id))
    return targets


def _members_fanout(items: list[tuple[int, str, dict]], targets: dict) -> list[WebhookDelivery]:
    now = timezone.now()
    deliveries = []
    for member_pk, event, data in items:
        subscribed = [(pk, external_id) for pk, events, external_id in targets.get(member_pk, ()) if event in events]
        if not subscribed:
            continue
        event_id = uuid.uuid4()
        for endpoint_pk, external_id in subscribed:
            shop_data = {**data, "member": {**data["member"], "external_id": external_id}}
            payload = _envelope(event_id=event_id, event=event, created_at=now, data=shop_data)
            deliveries.append(
                WebhookDelivery(
                    endpoint_id=endpoint_pk, event_id=event_id, event=event, payload=payload, next_attempt_at=now
                )
            )
    return _outbox_write(deliveries)


def member_event_publish(*, member: Member, event: str, data: dict) -> list[WebhookDelivery]:
    """One member-scoped event to every linked shop subscribed to it (see members_events_publish). `data`
    needs a "member" dict with the member's "id"."""
    return members_events_publish([(member.pk, event, data)])


def member_updated_publish(*, member: Member, changed: list[str]) -> list[WebhookDelivery]:
    """`member.updated` to every linked shop: the profile as it is now and the names of the fields that changed.
    The profile is read only when some shop listens (one query otherwise)."""
    _require_atomic("member.updated")
    targets = _member_targets(member_pks={member.pk})
    if not any("member.updated" in events for _pk, events, _ext in targets.get(member.pk, ())):
        return []
    data = {"member": member_data(member), "changed": changed}
    return _members_fanout([(member.pk, "member.updated", data)], targets)


def ledger_entries_publish(*, kind: str, account_pks: list[int], entry_keys: list[str]) -> list[WebhookDelivery]:
    """`points.released` / `points.expired` for the entries a ledger sweep chunk just wrote (by their
    idempotency keys), to the shops linked to each account. Set-based: one query for links and endpoints
    (the only one when no shop listens), one for the entries and balances, one insert."""
    event = {PointEntry.Kind.RELEASE: "points.released", PointEntry.Kind.EXPIRE: "points.expired"}[kind]
    _require_atomic(event)
    targets = _member_targets(account_pks=account_pks)
    if not any(event in events for links in targets.values() for _pk, events, _ext in links):
        return []
    entries = PointEntry.objects.filter(idempotency_key__in=entry_keys).select_related("account__member")
    items = []
    for entry in entries:
        account = entry.account
        points = entry.available_change if kind == PointEntry.Kind.RELEASE else -entry.points
        data = {
            "member": member_ref(account.member),
            "entry_id": str(entry.public_id),
            "points": points,
            "reason": entry.reason,
            "balance": balance_data(account),
        }
        items.append((account.member_id, event, data))
    return _members_fanout(items, targets)


# --- points.expiring (daily) -----------------------------------------------------------------------------


def _expiring_window_end(*, now: dt.datetime, days: int) -> dt.datetime:
    """The end of the program's local day `days` days after today."""
    try:
        zone = ZoneInfo(program_get().time_zone)
    except (ValueError, KeyError):
        zone = dt.UTC
    target = now.astimezone(zone).date() + dt.timedelta(days=days + 1)
    return dt.datetime(target.year, target.month, target.day, tzinfo=zone)


def points_expiring_publish(*, now: dt.datetime | None = None, days: int | None = None, chunk_size: int = 1000) -> int:
    """Write `points.expiring` for the live lots that expire by the end of the day `days` days ahead
    (settings.WEBHOOK_EXPIRING_DAYS) and were not announced yet: one event per member per run, listing the
    lots. Each lot is announced once (LotExpiryNotice), also when two runs overlap; a day the task did not
    run is caught up on the next. Returns the lots announced."""
    now = now or timezone.now()
    days = settings.WEBHOOK_EXPIRING_DAYS if days is None else days
    end = _expiring_window_end(now=now, days=days)
    due = PointLot.objects.filter(state=PointLot.State.AVAILABLE, expires_at__gt=now, expires_at__lt=end).exclude(
        Exists(LotExpiryNotice.objects.filter(lot_id=OuterRef("pk")))
    )
    total = 0
    while True:
        account_pks = sorted(set(due.values_list("account_id", flat=True)[:chunk_size]))
        if not account_pks:
            return total
        try:
            with transaction.atomic():
                lots = list(
                    due.filter(account_id__in=account_pks)
                    .select_related("account__member")
                    .order_by("account_id", "expires_at", "pk")
                )
                # Two runs at once: the second one's insert waits for the first and then clashes; it stops.
                LotExpiryNotice.objects.bulk_create(
                    [LotExpiryNotice(lot_id=lot.pk, expires_at=lot.expires_at) for lot in lots]
                )
                by_member: dict[int, list[PointLot]] = defaultdict(list)
                for lot in lots:
                    by_member[lot.account.member_id].append(lot)
                items = []
                for member_pk, member_lots in by_member.items():
                    account = member_lots[0].account
                    items.append(
                        (
                            member_pk,
                            "points.expiring",
                            {
                                "member": member_ref(account.member),
                                "points": sum(lot.remaining for lot in member_lots),
                                "expires_at": member_lots[0].expires_at.isoformat(),
                                "lots": [
                                    {"points": lot.remaining, "expires_at": lot.expires_at.isoformat()}
                                    for lot in member_lots
                                ],
                                "balance": balance_data(account),
                            },
                        )
                    )
                members_events_publish(items)
        except IntegrityError:
            return total
        total += len(lots)


# --- delivery --------------------------------------------------------------------------------------------


def body_bytes(payload: dict) -> bytes:
    """The exact bytes POSTed (and signed) for a payload."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def signature_make(*, secret: str, timestamp: int, body: bytes) -> str:
    """The X-Loyalty-Signature value: v1=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret>."""
    message = str(timestamp).encode() + b"." + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _target_refusal(url: str) -> str | None:
    """Why the URL must not be called (SSRF): a host that resolves to a non-public address, unless
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS. None when it may be called."""
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        return None
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError) as error:
        return f"cannot resolve {parts.hostname}: {error}"
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            return f"refused: {parts.hostname} resolves to the non-public address {address}"
    return None


def retry_delay(attempts: int) -> dt.timedelta:
    """Wait before the next attempt after `attempts` failed ones: 30 s doubling, capped at an hour, ±20 %."""
    seconds = min(RETRY_FIRST * 2 ** min(attempts - 1, 20), RETRY_CAP)
    return dt.timedelta(seconds=seconds * random.uniform(0.8, 1.2))


def _claim(delivery_id: int, now: dt.datetime) -> bool:
    return (
        WebhookDelivery.objects.filter(pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now).update(
            next_attempt_at=now + CLAIM_LEASE, attempts=F("attempts") + 1, last_attempt_at=now
        )
        == 1
    )


def _snippet_read(response) -> str:
    """The start of the answer, read for at most about one timeout (a server dripping bytes cannot hold us)."""
    deadline = time.monotonic() + settings.WEBHOOK_TIMEOUT
    received = b""
    for chunk in response.iter_content(chunk_size=512):
        received += chunk
        if len(received) >= SNIPPET_MAX * 4 or time.monotonic() > deadline:
            break
    return received.decode("utf-8", "replace")


def _post(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> tuple[int | None, str, str]:
    """POST the delivery once: (status code or None, error, start of the response body)."""
    refusal = _target_refusal(endpoint.url)
    if refusal:
        return None, refusal, ""
    body = body_bytes(delivery.payload)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Loyalty-Event": delivery.event,
        "X-Loyalty-Event-Id": str(delivery.event_id),
        "X-Loyalty-Timestamp": str(timestamp),
        "X-Loyalty-Signature": signature_make(secret=endpoint.secret, timestamp=timestamp, body=body),
    }
    try:
        with requests.post(
            endpoint.url,
            data=body,
            headers=headers,
            timeout=settings.WEBHOOK_TIMEOUT,
            allow_redirects=False,  # a redirect could point anywhere, also inside our network
            stream=True,
        ) as response:
            snippet = _snippet_read(response)
            status = response.status_code
            location = response.headers.get("Location", "")
    except requests.RequestException as error:
        return None, f"{type(error).__name__}: {error}", ""
    error = ""
    if 300 <= status < 400:
        error = f"redirect to {location or '?'} not followed"
    elif not 200 <= status < 300:
        error = f"HTTP {status}"
    return status, error, snippet[:SNIPPET_MAX]


def delivery_attempt(*, delivery_id: int) -> str:
    """Try to deliver one outbox row now, if it is pending and due; returns what happened ("delivered",
    "retry", "failed" or "skipped"). Safe to call twice at once or for a done row: the claim lets one in."""
    now = timezone.now()
    if not _claim(delivery_id, now):
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    started = time.monotonic()
    if not endpoint.active:
        status, error, snippet = None, "endpoint inactive", ""
    else:
        status, error, snippet = _post(endpoint, delivery)
    duration_ms = int((time.monotonic() - started) * 1000)
    done = timezone.now()
    changes = {"last_status_code": status, "last_error": error[:ERROR_MAX]}
    if not error:
        outcome = "delivered"
        changes.update(status=Status.DELIVERED, delivered_at=done)
    else:
        deadline = delivery.created_at + dt.timedelta(hours=settings.WEBHOOK_RETRY_HOURS)
        if done >= deadline or not endpoint.active:
            outcome = "failed"
            changes.update(status=Status.FAILED)
        else:
            outcome = "retry"
            changes.update(next_attempt_at=min(done + retry_delay(delivery.attempts), deadline))
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            at=now,
            status_code=status,
            duration_ms=duration_ms,
            error=error[:ERROR_MAX],
            response_snippet=snippet,
        )
        WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.PENDING).update(**changes)
    if error:
        logger.info("webhook delivery %s to %s: %s (%s)", delivery.pk, endpoint.url, error, outcome)
    return outcome


def deliveries_enqueue(delivery_ids: list[int]) -> int:
    """Hand deliveries to Celery; never raises (it runs after a commit, often in a request). One broker
    connection for all of them, given up on within about a second when the broker cannot be reached: the
    rows then wait for the sweep. Returns how many were handed over."""
    from webhooks.tasks import webhook_deliver

    if not delivery_ids:
        return 0
    sent = 0
    try:
        if webhook_deliver.app.conf.task_always_eager:  # no broker (local default, tests): run them here
            for delivery_id in delivery_ids:
                try:
                    webhook_deliver.apply_async((delivery_id,))
                except Exception:
                    logger.exception("webhook delivery %s failed in-process; the sweep will retry it", delivery_id)
                sent += 1
            return sent
        with webhook_deliver.app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=2)
            for delivery_id in delivery_ids:
                webhook_deliver.apply_async((delivery_id,), connection=connection, retry=False)
                sent += 1
    except (BrokerError, OSError) as error:
        logger.warning(
            "broker unreachable (%s): %d webhook deliveries left to the sweep", error, len(delivery_ids) - sent
        )
    except Exception:
        logger.exception("%d webhook deliveries could not be queued; the sweep will", len(delivery_ids) - sent)
    return sent


def deliveries_requeue_due(*, now: dt.datetime | None = None, limit: int = REQUEUE_BATCH) -> int:
    """Queue the pending rows that are due (new rows whose enqueue was lost, retries, claims whose worker
    died). Claims make a row queued twice go out once. Returns how many were queued."""
    now = now or timezone.now()
    ids = list(
        WebhookDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    return deliveries_enqueue(ids)


# --- staff actions ---------------------------------------------------------------------------------------


def delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again. A pending one is made due now (no copy). A delivered or failed one gets a new
    pending copy with the same event id and payload (receivers dedupe on the event id) and a fresh retry
    window; the original row stays as the log of what happened."""
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        if delivery.status == Status.PENDING:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=now)
            copy = delivery
        else:
            copy = WebhookDelivery.objects.create(
                endpoint_id=delivery.endpoint_id,
                event_id=delivery.event_id,
                event=delivery.event,
                payload=delivery.payload,
                next_attempt_at=now,
                replay_of=delivery,
            )
        transaction.on_commit(lambda: deliveries_enqueue([copy.pk]))
    return copy


def endpoint_create(*, shop: Shop, url: str, events: list[str], description: str = "") -> WebhookEndpoint:
    """A new endpoint with a fresh secret (validated like the admin form)."""
    endpoint = WebhookEndpoint(shop=shop, url=url, events=list(events), description=description)
    endpoint.full_clean()
    endpoint.save()
    return endpoint


def endpoint_secret_rotate(*, endpoint: WebhookEndpoint) -> str:
    """Give the endpoint a new secret at once and return it; deliveries from now on are signed with it."""
    endpoint.secret = secret_new()
    endpoint.save(update_fields=["secret", "updated_at"])
    return endpoint.secret


def endpoint_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a `ping` event to the endpoint (subscribed or not), to check its URL and signature handling."""
    now = timezone.now()
    with transaction.atomic():
        event_id = uuid.uuid4()
        data = {"message": "Test event from the loyalty platform.", "endpoint_id": str(endpoint.public_id)}
        return _outbox_write(
            [
                WebhookDelivery(
                    endpoint=endpoint,
                    event_id=event_id,
                    event=PING,
                    payload=_envelope(event_id=event_id, event=PING, created_at=now, data=data),
                    next_attempt_at=now,
                )
            ]
        )[0]
