"""Webhook test set-up: a real HTTP receiver on 127.0.0.1 (a thread running http.server), a shop with an
endpoint pointing at it, and the rules of integrations' order tests."""

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integrations.services.shops import api_key_create, shop_create
from webhooks.models import EVENTS
from webhooks.services import endpoint_create


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    """What the server answers (`status`, `delay` seconds, `location` for redirects) and what it got."""

    url: str = ""
    status: int = 200
    delay: float = 0.0
    location: str = ""
    answer: bytes = b"ok"
    requests: list[Received] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.requests


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802  (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            state.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if state.delay:
                time.sleep(state.delay)
            try:
                self.send_response(state.status)
                if state.location:
                    self.send_header("Location", state.location)
                self.send_header("Content-Length", str(len(state.answer)))
                self.end_headers()
                self.wfile.write(state.answer)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        do_GET = do_POST  # noqa: N815  a followed redirect would arrive as a GET

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # the receiver is on 127.0.0.1
    settings.WEBHOOK_TIMEOUT = 1.0


@pytest.fixture
def shop(db):
    return shop_create(name="Webshop NL", currency="EUR", time_zone="Europe/Amsterdam")


@pytest.fixture
def endpoint(shop, receiver):
    return endpoint_create(shop=shop, url=receiver.url, events=list(EVENTS))


@pytest.fixture
def api_key(shop):
    _, plaintext = api_key_create(shop=shop, name="k", scopes=("read", "write"))
    return plaintext


@pytest.fixture
def rules(db):
    """1 point per 1.00 EUR on the total less tax and shipping, whatever the migrations left."""
    from rewards.models import EarningRule

    EarningRule.objects.all().delete()
    return EarningRule.objects.create(name="Base rate", kind="base_rate", currency="EUR", points=1, amount=1)


def order_body(external_id="o-1", **overrides):
    data = {
        "external_id": external_id,
        "member_external_id": "cust-1",
        "currency": "EUR",
        "total": "125.00",
        "subtotal": "100.00",
        "tax": "21.00",
        "shipping": "4.00",
        "discount": "0.00",
        "placed_at": "2026-11-01T10:00:00+01:00",
        "lines": [
            {"sku": "A", "name": "Shoes", "category": "shoes", "quantity": 2, "unit_price": "25.00", "total": "50.00"}
        ],
    }
    data.update(overrides)
    return data


def order_data(external_id="o-1", **overrides):
    """The same order as order_body, typed as order_record takes it (what the API's serializer gives)."""
    from decimal import Decimal as D

    from django.utils import timezone

    data = {
        "external_id": external_id,
        "member_external_id": "cust-1",
        "currency": "EUR",
        "total": D("125.00"),
        "subtotal": D("100.00"),
        "tax": D("21.00"),
        "shipping": D("4.00"),
        "discount": D("0"),
        "placed_at": timezone.now() - dt.timedelta(minutes=5),
        "lines": [{"sku": "A", "name": "Shoes", "category": "shoes", "quantity": D("2"), "total": D("50.00")}],
        "coupon_codes": [],
    }
    data.update(overrides)
    return data
