"""The X-Api-Key authentication, scope permissions and rate limit, on tiny test-only views."""

import pytest
from django.test import override_settings
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from integrations.api_auth import ApiKeyAuthentication, HasScope, ShopAPIView, rate_parse
from integrations.services.shops import api_key_revoke, api_key_rotate


class ReadView(ShopAPIView):
    permission_classes = [HasScope("read")]

    def get(self, request):
        return Response({"shop": request.auth.shop.name, "user": request.user})


class WriteView(ShopAPIView):
    permission_classes = [HasScope("write")]

    def post(self, request):
        return Response({"ok": True}, status=201)


def call(view, key=None, method="get"):
    factory = APIRequestFactory()
    headers = {"HTTP_X_API_KEY": key} if key is not None else {}
    request = getattr(factory, method)("/test", **headers)
    return view.as_view()(request)


def test_a_good_key_authenticates_the_shop_and_no_user(shop, make_key):
    _, plaintext = make_key(shop, "read")
    response = call(ReadView, plaintext)
    assert response.status_code == 200
    assert response.data == {"shop": "Webshop NL", "user": None}


def test_no_key_is_401_not_authenticated(db):
    response = call(ReadView)
    assert response.status_code == 401
    assert response.data["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'ApiKey header="X-Api-Key"'


@pytest.mark.parametrize("kind", ["unknown", "malformed", "revoked", "rotated", "inactive shop"])
def test_a_refused_key_is_401_invalid_api_key(shop, make_key, kind):
    api_key, plaintext = make_key(shop, "read")
    match kind:
        case "unknown":
            plaintext = "lk_live_zzzzzzzz_" + "a" * 40
        case "malformed":
            plaintext = "hello"
        case "revoked":
            api_key_revoke(api_key=api_key)
        case "rotated":
            api_key_rotate(api_key=api_key)
        case "inactive shop":
            shop.active = False
            shop.save()
    response = call(ReadView, plaintext)
    assert response.status_code == 401
    assert response.data == {
        "error": {
            "code": "invalid_api_key",
            "message": "The API key is unknown or revoked, or its shop is inactive.",
            "details": {},
        }
    }


def test_a_read_only_key_gets_403_on_a_write_view(shop, make_key):
    _, plaintext = make_key(shop, "read")
    response = call(WriteView, plaintext, method="post")
    assert response.status_code == 403
    assert response.data["error"]["code"] == "insufficient_scope"
    assert "'write'" in response.data["error"]["message"]


def test_a_write_key_may_post(shop, make_key):
    _, plaintext = make_key(shop, "read", "write")
    assert call(WriteView, plaintext, method="post").status_code == 201


def test_scopes_are_independent(shop, make_key):
    _, plaintext = make_key(shop, "write")
    assert call(ReadView, plaintext).status_code == 403


def test_has_scope_refuses_unknown_scopes():
    with pytest.raises(ValueError):
        HasScope("admin")


def test_the_authenticator_leaves_requests_without_the_header_to_others(db):
    request = APIRequestFactory().get("/test")
    from rest_framework.request import Request

    assert ApiKeyAuthentication().authenticate(Request(request)) is None


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [
        ("600/min", (600, 60)),
        ("10/s", (10, 1)),
        ("1000/hour", (1000, 3600)),
        ("50/5min", (50, 300)),
        ("7/day", (7, 86400)),
    ],
)
def test_rate_parse(rate, parsed):
    assert rate_parse(rate) == parsed


def test_rate_parse_refuses_nonsense():
    with pytest.raises(ValueError):
        rate_parse("lots")


@override_settings(API_RATE_LIMIT="3/min")
def test_the_rate_limit_is_per_key_and_answers_429_with_retry_after(shop, make_key):
    _, first = make_key(shop, "read")
    _, second = make_key(shop, "read", name="other")
    assert [call(ReadView, first).status_code for _ in range(3)] == [200, 200, 200]
    response = call(ReadView, first)
    assert response.status_code == 429
    assert response.data["error"]["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert call(ReadView, second).status_code == 200  # another key has its own budget


@override_settings(API_RATE_LIMIT="2/min")
def test_requests_without_a_valid_key_are_not_counted_against_a_key(shop, make_key):
    _, plaintext = make_key(shop, "read")
    for _ in range(5):
        assert call(ReadView, "lk_live_zzzzzzzz_" + "a" * 40).status_code == 401
    assert call(ReadView, plaintext).status_code == 200


def test_the_rate_limit_window_resets(shop, make_key, monkeypatch):
    from integrations import api_auth

    _, plaintext = make_key(shop, "read")
    clock = [1_000_000_040.0]  # 20 s into a minute
    monkeypatch.setattr(api_auth, "_clock", lambda: clock[0])
    with override_settings(API_RATE_LIMIT="1/min"):
        assert call(ReadView, plaintext).status_code == 200
        response = call(ReadView, plaintext)
        assert response.status_code == 429 and response["Retry-After"] == "40"
        clock[0] += 40
        assert call(ReadView, plaintext).status_code == 200


@pytest.mark.parametrize(("rate", "errors"), [("600/min", 0), ("many", 1), ("0/min", 1)])
def test_a_bad_rate_setting_fails_the_system_check(rate, errors):
    from integrations.checks import api_rate_limit_check

    with override_settings(API_RATE_LIMIT=rate):
        assert len(api_rate_limit_check(None)) == errors


def test_has_scope_keeps_no_state_between_requests(db, shop, make_key):
    _, plaintext = make_key(shop, "read")
    call(WriteView, method="post")  # no key: 401
    response = call(WriteView, plaintext, method="post")
    assert response.data["error"]["message"] == "This API key lacks the 'write' scope."


def _redis_cache_url() -> str | None:
    """A scratch Redis db for the rate-limit tests against the real cache backend, or None (skip)."""
    import redis

    url = "redis://127.0.0.1:6379/14"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).flushdb()
    except redis.RedisError:
        return None
    return url


@pytest.fixture
def redis_cache():
    url = _redis_cache_url()
    if url is None:
        pytest.skip("no Redis on 127.0.0.1:6379")
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    ):
        yield url


def test_on_redis_the_rate_limit_is_one_round_trip_and_keeps_its_limit_and_expiry(
    shop, make_key, redis_cache, monkeypatch
):
    import redis
    from django.core.cache import cache

    from integrations import api_auth

    api_key, plaintext = make_key(shop, "read")
    clock = [1_000_000_040.0]
    monkeypatch.setattr(api_auth, "_clock", lambda: clock[0])
    executed = []
    real_execute = redis.client.Pipeline.execute
    monkeypatch.setattr(
        redis.client.Pipeline, "execute", lambda self, *a, **k: executed.append(1) or real_execute(self, *a, **k)
    )
    with override_settings(API_RATE_LIMIT="2/min"):
        assert [call(ReadView, plaintext).status_code for _ in range(2)] == [200, 200]
        response = call(ReadView, plaintext)
        assert response.status_code == 429 and response["Retry-After"] == "40"
        assert len(executed) == 3  # one pipeline per request
        key = f"api-rate:{api_key.public_id}:60:{int(clock[0] // 60)}"
        assert cache.get(key) == 3
        raw_ttl = redis.Redis.from_url(redis_cache).ttl(cache.make_and_validate_key(key))
        assert 0 < raw_ttl <= 61
        clock[0] += 40  # the next window has its own counter
        assert call(ReadView, plaintext).status_code == 200


def test_the_key_lookup_builds_the_same_key_and_shop_as_the_orm(shop, make_key):
    from django.utils import timezone

    from integrations.models import ApiKey
    from integrations.selectors import api_key_authenticate
    from integrations.services.shops import api_key_mark_used

    api_key, plaintext = make_key(shop, "read", "write")
    api_key_mark_used(api_key=api_key, now=timezone.now())
    found = api_key_authenticate(plaintext)
    expected = ApiKey.objects.select_related("shop").get(pk=api_key.pk)
    for field in ApiKey._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(expected, field.attname), field.name
    for field in type(shop)._meta.concrete_fields:
        assert getattr(found.shop, field.attname) == getattr(expected.shop, field.attname), field.name
    assert found.last_used_at.tzinfo is not None and not found._state.adding and found.scopes == ("read", "write")
