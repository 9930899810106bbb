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
