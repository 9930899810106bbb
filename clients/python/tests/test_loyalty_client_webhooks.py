"""webhook_verify against the platform's own signatures: webhooks.services.signature_make, and real deliveries
of events that the client's calls caused, received by a small HTTP server standing in for the shop."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from loyalty_client import WebhookVerificationError, webhook_verify
from webhooks.services import signature_make

SECRET = "whsec_test_secret"
BODY = json.dumps({"id": "e-1", "event": "ping", "created_at": "2026-11-22T16:07:45+00:00", "data": {"x": "café"}})


def _signed(body: bytes = BODY.encode(), *, secret: str = SECRET, at: int | None = None) -> dict:
    timestamp = int(time.time()) if at is None else at
    return {
        "X-Loyalty-Timestamp": str(timestamp),
        "X-Loyalty-Signature": signature_make(secret=secret, timestamp=timestamp, body=body),
    }


def test_a_signature_of_the_platform_verifies():
    headers = _signed()
    assert webhook_verify(SECRET, BODY.encode(), headers=headers)["data"] == {"x": "café"}
    lower = {name.lower(): value for name, value in headers.items()}
    assert webhook_verify(SECRET, BODY, headers=lower)["id"] == "e-1"  # a str body is read as UTF-8
    assert webhook_verify(
        SECRET,
        BODY.encode(),
        timestamp=headers["X-Loyalty-Timestamp"],
        signature="v1=" + "0" * 64 + ", " + headers["X-Loyalty-Signature"],  # one of several matching is enough
    )


@pytest.mark.parametrize(
    "case",
    ["tampered body", "other secret", "stale", "from the future", "no v1= prefix", "no headers", "bad timestamp"],
)
def test_forged_or_stale_deliveries_are_refused(case):
    body, headers = BODY.encode(), _signed()
    if case == "tampered body":
        body = body.replace(b"caf", b"CAF")
    elif case == "other secret":
        headers = _signed(secret="whsec_other")
    elif case == "stale":
        headers = _signed(at=int(time.time()) - 301)
    elif case == "from the future":
        headers = _signed(at=int(time.time()) + 301)
    elif case == "no v1= prefix":
        headers["X-Loyalty-Signature"] = headers["X-Loyalty-Signature"].removeprefix("v1=")
    elif case == "no headers":
        headers = {}
    elif case == "bad timestamp":
        headers["X-Loyalty-Timestamp"] = "yesterday"
    with pytest.raises(WebhookVerificationError):
        webhook_verify(SECRET, body, headers=headers)


def test_the_tolerance_is_the_callers():
    headers = _signed(at=int(time.time()) - 3600)
    assert webhook_verify(SECRET, BODY.encode(), headers=headers, tolerance=4000)
    with pytest.raises(WebhookVerificationError):
        webhook_verify(SECRET, BODY.encode(), headers=headers)


@pytest.fixture
def receiver():
    received: list[tuple[dict, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802  (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks", received
    finally:
        server.shutdown()
        server.server_close()


def test_real_deliveries_of_the_clients_calls_verify(client, shop, rules, receiver, settings):
    from webhooks.models import WebhookDelivery
    from webhooks.services import delivery_attempt, endpoint_create

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # the receiver is on 127.0.0.1
    url, received = receiver
    endpoint = endpoint_create(shop=shop, url=url, events=["member.created", "order.points_awarded"])

    client.members_upsert(external_id="cust-1", email="ana@example.com")
    client.orders_create(
        {
            "external_id": "order-1",
            "member_external_id": "cust-1",
            "currency": "EUR",
            "total": "30.00",
            "placed_at": "2026-01-02T10:00:00+01:00",
        }
    )
    for delivery in WebhookDelivery.objects.all():
        delivery_attempt(delivery_id=delivery.pk)  # "skipped" when the eager task already sent it
    deadline = time.monotonic() + 10
    while len(received) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)

    events = [webhook_verify(endpoint.secret, body, headers=headers) for headers, body in received]
    assert sorted(event["event"] for event in events) == ["member.created", "order.points_awarded"]
    headers, body = received[0]
    with pytest.raises(WebhookVerificationError):
        webhook_verify(endpoint.secret, body + b" ", headers=headers)
