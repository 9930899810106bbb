"""shopper_token: the exact JWT the widget's server expects (HS256 over sorted, compact JSON), read back by
hand and by PyJWT when it is installed."""

import base64
import datetime as dt
import hashlib
import hmac
import json
import time

import pytest

from loyalty_client import shopper_token

KEY, SECRET = "wk_3f9a2c", "ws_the_shops_widget_secret_32_bytes_or_more"


def _part(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_the_token_is_exactly_header_claims_and_signature():
    token = shopper_token(KEY, SECRET, "cust-1042", "ana@example.com", now=1_800_000_000)
    header, claims, signature = token.split(".")
    assert "=" not in token and "+" not in token and "/" not in token  # base64url without padding
    assert _part(header) == b'{"alg":"HS256","typ":"JWT"}'
    assert _part(claims) == (
        b'{"email":"ana@example.com","exp":1800003300,"iat":1800000000,"iss":"wk_3f9a2c","sub":"cust-1042"}'
    )
    expected = hmac.new(SECRET.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    assert _part(signature) == expected


def test_ttl_is_at_most_an_hour():
    one_hour = shopper_token(KEY, SECRET, 42, "ana@example.com", ttl=dt.timedelta(hours=1), now=1000)
    claims = json.loads(_part(one_hour.split(".")[1]))
    assert (claims["sub"], claims["exp"] - claims["iat"]) == ("42", 3600)
    assert json.loads(_part(shopper_token(KEY, SECRET, "c", "a@b.c", ttl=60, now=1000).split(".")[1]))["exp"] == 1060
    for ttl in (3601, 0, -5, dt.timedelta(hours=2)):
        with pytest.raises(ValueError):
            shopper_token(KEY, SECRET, "c", "a@b.c", ttl=ttl)
    with pytest.raises(ValueError):
        shopper_token(KEY, "", "c", "a@b.c")


def test_pyjwt_reads_it_and_refuses_a_forgery():
    jwt = pytest.importorskip("jwt")
    token = shopper_token(KEY, SECRET, "cust-1042", "anä@example.com")
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer=KEY, options={"require": ["exp", "iat", "sub"]})
    assert (claims["sub"], claims["email"], claims["iss"]) == ("cust-1042", "anä@example.com", KEY)
    assert claims["exp"] - claims["iat"] == 55 * 60 and abs(claims["iat"] - time.time()) < 5
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "another-widget-secret-of-32-bytes-or-more", algorithms=["HS256"])
    expired = shopper_token(KEY, SECRET, "cust-1042", "ana@example.com", ttl=60, now=time.time() - 120)
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(expired, SECRET, algorithms=["HS256"])


def test_the_widget_accepts_the_token_and_refuses_a_forgery(client, shop, live_server):
    import httpx

    from integrations.widget_auth import shopper_token_verify

    shop.widget_enabled = True
    shop.save()
    ana = client.members_upsert(external_id="cust-1042", email="ana@example.com")
    token = shopper_token(shop.widget_key, shop.widget_secret, "cust-1042", "ana@example.com")
    shopper = shopper_token_verify(token, shop=shop)  # the server's own check
    assert (shopper.external_id, shopper.email) == ("cust-1042", "ana@example.com")

    url = f"{live_server.url}/api/v1/widget/{shop.widget_key}/me"
    me = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["member"]["id"] == ana.id
    forged = shopper_token(shop.widget_key, "not-the-shops-widget-secret-32-bytes", "cust-1042", "ana@example.com")
    refused = httpx.get(url, headers={"Authorization": f"Bearer {forged}"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_token"
    assert refused.json()["error"]["details"]["reason"] == "forged"
