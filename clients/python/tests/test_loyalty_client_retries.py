"""When the client sends a request again: only retry-safe calls, after a 429 (waiting its Retry-After), a 5xx
or no answer, at most `retries` times, never waiting longer than `max_retry_wait`."""

import httpx
import pytest

from loyalty_client import LoyaltyClient, RateLimited, ServerError, TransportError


class CountingTransport(httpx.HTTPTransport):
    """The real transport, counting the requests it sends."""

    def __init__(self):
        super().__init__()
        self.sent = 0

    def handle_request(self, request):
        self.sent += 1
        return super().handle_request(request)


def test_the_real_rate_limit_is_raised_with_its_retry_after(make_client, settings):
    settings.API_RATE_LIMIT = "2/min"
    impatient = make_client("read", "write", retries=0)
    impatient.shop_get()
    impatient.shop_get()
    with pytest.raises(RateLimited) as throttled:
        impatient.shop_get()
    assert (throttled.value.status, throttled.value.code) == (429, "throttled")
    assert throttled.value.retry_after is not None and 1 <= throttled.value.retry_after <= 60


def test_the_real_rate_limit_is_waited_out(make_client, settings):
    settings.API_RATE_LIMIT = "2/s"
    transport = CountingTransport()
    patient = make_client("read", "write", retries=3, backoff=0.2, transport=transport)
    calls = 0
    while transport.sent == calls and calls < 20:  # until a call was throttled, waited and sent again
        assert patient.shop_get()["name"] == "Webshop NL"
        calls += 1
    assert transport.sent > calls


def test_a_post_without_an_idempotency_key_is_not_retried(make_client, settings):
    settings.API_RATE_LIMIT = "1/min"
    client = make_client("read", "write", retries=3, max_retry_wait=120)
    client.shop_get()
    body = {"email": "a@example.com", "currency": "EUR", "total": "1.00", "placed_at": "2026-01-01T10:00:00Z"}
    with pytest.raises(RateLimited):  # sent again, it might act twice: raised at once, whatever the wait
        client.request("POST", "orders/simulate", body=body)


def test_no_answer_is_retried_then_raised():
    transport = CountingTransport()
    client = LoyaltyClient("http://127.0.0.1:9", "lk_live_x", retries=2, backoff=0.01, transport=transport)
    with client, pytest.raises(TransportError) as failed:
        client.shop_get()
    assert failed.value.status is None and failed.value.code == "transport_error"
    assert transport.sent == 3  # the first try and two retries


def _flaky(*answers):
    """A stand-in for a proxy in front of the portal, answering `answers` in turn (status, headers, body)."""
    seen = []

    def handle(request):
        seen.append((request.method, request.headers.get("Idempotency-Key")))
        status, headers, body = answers[min(len(seen), len(answers)) - 1]
        return httpx.Response(status, headers=headers, content=body)

    return httpx.MockTransport(handle), seen


ERROR_503 = (503, {"Content-Type": "text/html"}, b"<h1>Service Unavailable</h1>")
SHOP = (200, {"Content-Type": "application/json"}, b'{"id": "s", "name": "Shop"}')


def test_5xx_are_retried_for_safe_calls_and_keep_the_idempotency_key():
    transport, seen = _flaky(ERROR_503, ERROR_503, SHOP)
    with LoyaltyClient("https://loyalty.example.com", "k", retries=2, backoff=0, transport=transport) as client:
        assert client.shop_get()["name"] == "Shop"
    assert len(seen) == 3

    transport, seen = _flaky(ERROR_503, SHOP)
    with LoyaltyClient("https://loyalty.example.com", "k", retries=2, backoff=0, transport=transport) as client:
        client.request("POST", "members/m/adjustments", body={"points": 1, "reason": "x"}, idempotency_key="t-1")
    assert seen == [("POST", "t-1"), ("POST", "t-1")]


def test_what_is_not_retried():
    transport, seen = _flaky(ERROR_503, SHOP)
    client = LoyaltyClient("https://loyalty.example.com", "k", retries=2, backoff=0, transport=transport)
    with client, pytest.raises(ServerError) as failed:
        client.request("POST", "anything", body={})
    assert (failed.value.status, failed.value.code, failed.value.message) == (
        503,
        "http_503",
        "<h1>Service Unavailable</h1>",
    )
    assert len(seen) == 1

    throttled_body = b'{"error": {"code": "throttled", "message": "Slow down", "details": {}}}'
    long_wait = (429, {"Retry-After": "120"}, throttled_body)
    transport, seen = _flaky(long_wait, SHOP)
    client = LoyaltyClient("https://loyalty.example.com", "k", retries=2, max_retry_wait=30, transport=transport)
    with client, pytest.raises(RateLimited) as throttled:
        client.shop_get()
    assert throttled.value.retry_after == 120 and len(seen) == 1


def test_a_redirect_is_not_followed():
    from loyalty_client import LoyaltyError

    transport, seen = _flaky((302, {"Location": "https://elsewhere.example.com/"}, b""), SHOP)
    client = LoyaltyClient("https://loyalty.example.com", "k", retries=2, backoff=0, transport=transport)
    with client, pytest.raises(LoyaltyError) as moved:
        client.shop_get()
    assert (moved.value.status, moved.value.code, len(seen)) == (302, "http_302", 1)
