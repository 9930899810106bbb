"""integrations.apis.parsers.OrderJSONParser against DRF's JSONParser (the same data or the same error, for
random JSON and random bytes), and the batch's shortcut past its InputSerializer against that serializer."""

import io
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser

from integrations.apis.orders_batch import OrderBatchApi, _orders_plain
from integrations.apis.parsers import JSONDocument, OrderJSONParser
from integrations.services.orders_batch import ORDERS_BATCH_MAX
from integrations.tests.test_members_api_fuzz import values
from integrations.tests.test_orders_batch import URL, _counts, body


def _exact(value):
    """A parsed value with every type spelt out: 1 and 1.0 and True differ, -0.0 and 0.0 too, keys keep order."""
    if type(value) in (dict, JSONDocument):
        return "dict", [(key, _exact(item)) for key, item in value.items()]
    if type(value) is list:
        return "list", [_exact(item) for item in value]
    if type(value) is float:
        return "float", repr(value), math.copysign(1, value)
    return type(value).__name__, repr(value)


def _parse(parser, raw: bytes, encoding="utf-8"):
    try:
        return "data", _exact(parser.parse(io.BytesIO(raw), "application/json", {"encoding": encoding}))
    except ParseError as error:
        return "error", str(error.detail)


def _same(raw: bytes, encoding="utf-8"):
    assert _parse(OrderJSONParser(), raw, encoding) == _parse(JSONParser(), raw, encoding), raw[:200]


numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-(2**64), max_value=-(2**62)),
    st.integers(min_value=2**62, max_value=2**65),
    st.floats(allow_nan=False),  # infinity: json writes Infinity, which both refuse
    st.from_regex(r"\A-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,30})?([eE][-+]?[0-9]{1,3})?\Z"),  # as text: see _write
)
texts = st.one_of(st.text(max_size=30), st.sampled_from(["\ud800", "\udc00x", "\u2028", "\x7f", "\x00", "é", "😀"]))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, texts),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


def _write(value) -> str:
    """JSON text for a value; numbers given as text (the regex above) are written as numbers."""
    if isinstance(value, str) and value[:1] in "-0123456789" and value[-1:].isdigit():
        return value
    if isinstance(value, list):
        return "[" + ",".join(map(_write, value)) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k) + ":" + _write(v) for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else json.dumps(value)


@settings(max_examples=1500, deadline=None)
@given(value=json_values, ascii_only=st.booleans(), spaces=st.sampled_from(["", " ", "\n\t ", "\r\n"]))
def test_the_parser_reads_json_as_json_parser_does(value, ascii_only, spaces):
    text = spaces + _write(value) + spaces
    raw = text.encode("utf-8", "surrogatepass") if not ascii_only else text.encode("ascii", "backslashreplace")
    _same(raw)


@settings(max_examples=1500, deadline=None)
@given(value=json_values, cuts=st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=3)), max_size=3))
def test_the_parser_reads_spoilt_bytes_as_json_parser_does(value, cuts):
    raw = bytearray(_write(value).encode("utf-8", "surrogatepass"))
    for at, insert in cuts:
        at %= len(raw) + 1
        raw[at : at + len(insert) % 2] = insert  # replace a byte or insert some
    _same(bytes(raw))


@pytest.mark.parametrize(
    "raw",
    [
        b'{"orders": [{"total": 1e400}]}',  # json: inf; orjson refuses
        b'{"a": -1e400}',
        b'{"a": 12345678901234567890}',  # beyond 64 bits: orjson would read a float
        b'{"a": -9223372036854775809}',
        b'{"a": 18446744073709551615, "b": -9223372036854775808}',  # orjson keeps these as ints
        b'{"a": "1234567890123456789012"}',  # 19 digits in a text: json reads it, alike
        b'{"a": 1' + b"0" * 5000 + b"}",  # json refuses more than 4300 digits
        b'{"a": "\\ud800"}',  # a lone surrogate: json reads it, orjson refuses
        b'{"a": "\xed\xa0\x80"}',  # a surrogate in UTF-8: both refuse
        b'{"a": 1, "b": 2, "a": 3}',
        b"\xef\xbb\xbf{}",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b"[1,]",
        b'{"a": 1} x',
        b"  ",
        b"nul",
        b'"orders"',
        b"[" * 254 + b"]" * 254,
        b"[" * 255 + b"]" * 255,
        b'{"a": ' + b"[" * 300 + b"]" * 300 + b"}",
        b'{"a": "\xff"}',
    ],
)
def test_bodies_the_parser_hands_to_json_parser(raw):
    _same(raw)


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "utf8", "UTF-8", "bz2_codec", "no-such-charset"])
def test_other_charsets_are_json_parsers(encoding):
    for raw in (b'{"a": "\xc3\xa9"}', '{"a": "é"}'.encode("latin-1"), '{"a": 1}'.encode("utf-16")):
        _same(raw, encoding)


def _depth(value) -> int:
    depth = 0
    while value:
        [value] = value
        depth += 1
    return depth


def test_deep_nesting_is_read_by_json_parser():
    """Beyond 254 levels the body goes to JSONParser, which may run out of stack where orjson would not."""
    raw = b"[" * 900 + b"]" * 900
    try:
        expected = JSONParser().parse(io.BytesIO(raw), "application/json", {"encoding": "utf-8"})
    except RecursionError:
        with pytest.raises(RecursionError):
            OrderJSONParser().parse(io.BytesIO(raw), "application/json", {"encoding": "utf-8"})
    else:
        assert _depth(OrderJSONParser().parse(io.BytesIO(raw), "application/json", {})) == _depth(expected) == 899


def test_objects_orjson_read_are_json_documents():
    parse = OrderJSONParser().parse
    assert type(parse(io.BytesIO(b'{"orders": []}'), "application/json", {})) is JSONDocument
    assert type(parse(io.BytesIO(b'[{"orders": []}]'), "application/json", {})) is list
    assert type(parse(io.BytesIO(b'{"a": "\\ud800"}'), "application/json", {})) is dict  # json read it


def test_the_batch_takes_json_with_orjson_and_forms_as_before():
    assert [type(p) for p in OrderBatchApi().get_parsers()] == [OrderJSONParser, FormParser, MultiPartParser]


# --- the shortcut past InputSerializer ---------------------------------------------------------------------

batch_bodies = st.one_of(
    st.fixed_dictionaries({"orders": st.lists(values, max_size=5)}),
    st.fixed_dictionaries({"orders": st.lists(st.one_of(st.none(), values), min_size=1, max_size=3)}),
    st.dictionaries(st.sampled_from(["orders", "order"]), values, max_size=2),
    values,
)


def _serializer(raw: bytes):
    serializer = OrderBatchApi.InputSerializer(data=JSONParser().parse(io.BytesIO(raw), None, {}))
    return serializer, serializer.is_valid()


@settings(max_examples=1000, deadline=None)
@given(data=batch_bodies)
def test_what_the_shortcut_takes_the_serializer_takes_as_it_is(data):
    raw = json.dumps(data).encode()
    try:
        parsed = OrderJSONParser().parse(io.BytesIO(raw), None, {})
    except ParseError:
        return
    orders = _orders_plain(parsed)
    if orders is not None:
        serializer, valid = _serializer(raw)
        assert valid and _exact(serializer.validated_data["orders"]) == _exact(orders)


@pytest.mark.parametrize(
    "raw, taken",
    [
        (b'{"orders": [{"a": 1}]}', True),
        (b'{"orders": [1, "x", [], {}], "other": 2}', True),
        (b'{"orders": []}', False),  # min_length
        (b'{"orders": [null]}', False),  # JSONField: may not be null
        (b'{"orders": [{"total": 1e400}]}', False),  # json reads inf, which JSONField refuses
        (b'{"orders": {"a": 1}}', False),
        (b'{"orders": "ab"}', False),
        (b'{"order": [{}]}', False),
        (b'[{"orders": [{}]}]', False),
    ],
)
def test_the_shortcut_leaves_the_serializer_what_it_refuses(raw, taken):
    parsed = OrderJSONParser().parse(io.BytesIO(raw), None, {})
    assert (_orders_plain(parsed) is not None) is taken
    serializer, valid = _serializer(raw)
    assert valid is taken  # these the serializer refuses


def test_the_shortcut_takes_500_orders_not_501():
    assert len(_orders_plain(JSONDocument(orders=[{}] * ORDERS_BATCH_MAX))) == ORDERS_BATCH_MAX
    assert _orders_plain(JSONDocument(orders=[{}] * (ORDERS_BATCH_MAX + 1))) is None
    assert _orders_plain({"orders": [{}]}) is None  # not read by orjson: the serializer checks it


@pytest.mark.parametrize(
    "raw, details",
    [
        (b'{"orders": [null]}', {"orders": {"0": ["This field may not be null."]}}),
        (b'{"orders": [{}, {"total": 1e400}]}', {"orders": {"1": ["Value must be valid JSON."]}}),
        (b'{"orders": []}', {"orders": ["Ensure this field has at least 1 elements."]}),
    ],
)
def test_refused_batches_are_400s_that_write_nothing(api, member, rules, raw, details):
    before = _counts()
    response = api.post(URL, raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == details
    assert _counts() == before


def test_a_batch_with_a_lone_surrogate_is_read_by_json_and_answered(api, member, rules):
    """json reads "\\ud800" (orjson does not): the order fails alone, the other is recorded."""
    raw = json.dumps({"orders": [body("o-1"), body("o-2", currency="\ud800")]}).encode()
    response = api.post(URL, raw, content_type="application/json")
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == [201, 400]
