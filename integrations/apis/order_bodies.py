"""An order's body and result as the API takes and gives them: the limits, and fast paths that tests prove
equal to the serializers (integrations/tests/test_order_bodies.py and test_orders_batch*.py).

Every order, single or in a batch, goes through order_body_fast first: it vouches for the bodies it can
check without DRF (nearly all real ones) and gives exactly what OrderInputSerializer gives for them; any
other body, valid or not, goes to the serializer, so the errors stay its own. order_result_json renders
OrderOutputSerializer's data without the serializer machinery. Both took most of an order's Python time
in the API layer (profiled: building nested serializers' fields anew per request).
"""

import datetime as dt
import functools
import operator
import re
import uuid
from decimal import Context, Decimal, DecimalException

import orjson
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import ISO_8601, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.settings import api_settings

ORDER_EXTERNAL_ID_MAX = 150
PLACED_AT_EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
PLACED_AT_SKEW = dt.timedelta(days=1)  # a till's clock may run ahead; the order then counts as placed now
MONEY = {"max_digits": 14, "decimal_places": 2}
MONEY_LIMIT = Decimal(10) ** (MONEY["max_digits"] - MONEY["decimal_places"])  # what a money column cannot hold
QUANTITY = {"max_digits": 12, "decimal_places": 3}
REFERRAL_CODE_MAX = 64
PAYMENT_FINGERPRINT_MAX = 200
ADDRESS_TEXT_MAX = 500  # the address as one text, and each part of it
ADDRESS_PARTS_MAX = 12
ADDRESS_PART_NAME_MAX = 64


class Refused(Exception):
    """The fast check does not vouch for this value: OrderInputSerializer decides (and words the errors)."""


_MISSING = object()
_CURRENCY = re.compile(r"^[A-Za-z]{3}\Z")  # OrderInputSerializer's currency pattern
_EMAIL = EmailValidator()
_PRECISION = {digits: Context(prec=digits) for digits in (12, 14)}
# A plain number (ASCII digits, no leading zero, no sign or exponent) that fits the field: DRF takes it as is,
# and it only needs padding to its places. Anything else goes the long way below.
_PLAIN_NUMBER = {
    (digits, places): re.compile(rf"(?:0|[1-9][0-9]{{0,{digits - places - 1}}})(?:\.[0-9]{{0,{places}}})?\Z")
    for digits, places in ((12, 3), (14, 2))
}


def _text(value, max_length: int | None = None, *, blank: bool = False) -> str:
    """A string as DRF's CharField (and the _unicode_only validator) takes it: trimmed, not blank unless
    allowed, at most max_length, no NUL, valid Unicode. Other types (numbers DRF turns into text) are refused."""
    if type(value) is not str:
        raise Refused
    value = value.strip()
    if (not value and not blank) or (max_length is not None and len(value) > max_length) or "\x00" in value:
        raise Refused
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Refused from None
    return value


def _decimal(value, max_digits: int, places: int) -> Decimal:
    """A number as DRF's DecimalField(max_digits, places, min_value=0) takes it, for str and int input."""
    if type(value) is str or type(value) is int:
        return _number(value, max_digits, places)
    raise Refused


@functools.lru_cache(maxsize=4096)
def _number(value: str | int, max_digits: int, places: int) -> Decimal:
    """_decimal's number, remembered (a refusal is not): prices, quantities and amounts repeat from order to
    order, and making each anew took 40% of order_body_fast's instructions. Decimals are immutable: orders
    may share one."""
    value = value.strip() if type(value) is str else str(value)
    if _PLAIN_NUMBER[max_digits, places].match(value):
        # What quantize gives, made in one step: "12.5" -> Decimal("12.50"), "3" -> Decimal("3.00").
        point = value.find(".")
        return Decimal(f"{value}.{'0' * places}" if point < 0 else value + "0" * (places - len(value) + point + 1))
    if len(value) > 1000:
        raise Refused
    try:
        number = Decimal(value)
    except (DecimalException, ValueError):
        raise Refused from None
    if not number.is_finite() or number < 0:
        raise Refused
    _sign, digits, exponent = number.as_tuple()
    if exponent >= 0:
        total = whole = len(digits) + exponent
        after = 0
    elif len(digits) > -exponent:
        total, whole, after = len(digits), len(digits) + exponent, -exponent
    else:
        total = after = -exponent
        whole = 0
    if total > max_digits or after > places or whole > max_digits - places:
        raise Refused
    return number.quantize(Decimal(1).scaleb(-places), context=_PRECISION[max_digits])


def _money(value) -> Decimal:
    return _decimal(value, 14, 2)


def address_clean(value) -> str | dict | None:
    """A shipping address as the API takes it (for the referral checks; only its keyed hash is stored): a
    text, or an object of at most 12 parts (line1, city, postal_code, ...) whose values are texts, whole
    numbers or null; trimmed; None for nothing given. Raises ValueError with the message for anything else.
    OrderInputSerializer and order_body_fast both use it, so they agree on every value."""
    if value is None:
        return None
    if type(value) is str:
        return _address_text(value) or None
    if type(value) is not dict:
        raise ValueError("Give the address as a text or an object of text parts.")
    if len(value) > ADDRESS_PARTS_MAX:
        raise ValueError(f"An address has at most {ADDRESS_PARTS_MAX} parts.")
    parts = {}
    for name, part in value.items():
        if not (0 < len(name) <= ADDRESS_PART_NAME_MAX) or "\x00" in name or not _unicode(name):
            raise ValueError(f"Name each part of the address with 1 to {ADDRESS_PART_NAME_MAX} characters.")
        if part is None:
            continue
        if type(part) is int:
            part = str(part)
        elif type(part) is not str:
            raise ValueError("Each part of the address is a text, a whole number or null.")
        if part := _address_text(part):
            parts[name] = part
    return parts or None


def _unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _address_text(value: str) -> str:
    value = value.strip()
    if len(value) > ADDRESS_TEXT_MAX:
        raise ValueError(f"Ensure the address (and each part of it) has no more than {ADDRESS_TEXT_MAX} characters.")
    if "\x00" in value or not _unicode(value):
        raise ValueError("Not valid Unicode text.")
    return value


def _line_fast(line) -> dict:
    if type(line) is not dict:
        raise Refused
    name, category, unit_price = line.get("name", _MISSING), line.get("category", _MISSING), line.get("unit_price", 0)
    return {
        "sku": _text(line.get("sku"), 100),
        "name": "" if name is _MISSING else _text(name, 200, blank=True),
        "category": "" if category is _MISSING else _text(category, 100, blank=True),
        "quantity": _decimal(line.get("quantity"), 12, 3),
        "unit_price": 0 if "unit_price" not in line else _money(unit_price),
        "total": _money(line.get("total")),
    }


def time_zone(field):
    """The time zone a DRF DateTimeField converts times to (its enforce_timezone): the current one sits behind
    asgiref's Local, which cost more than parsing the time, so a batch looks it up once."""
    return field.timezone if hasattr(field, "timezone") else field.default_timezone()


def order_body_fast(body, *, placed_at_field, zone=_MISSING, latest: dt.datetime | None = None) -> dict:
    """What OrderInputSerializer().run_validation(body) returns, for the bodies it can vouch for without DRF
    (the same keys in the same order, the same values and types); raises Refused for any other body, valid
    or not, which the serializer then checks. A tenth of the serializer's time per order. `zone`:
    time_zone(placed_at_field), when the caller has it already. `latest`: the latest placed_at taken,
    timezone.now() + PLACED_AT_SKEW, when the caller took it once for many orders (taken earlier, it only
    refuses more: the serializer, checking later, takes those it would)."""
    if type(body) is not dict:
        raise Refused
    get = body.get
    data = {"external_id": _text(get("external_id"), ORDER_EXTERNAL_ID_MAX)}
    if (member_id := get("member_id", _MISSING)) is not _MISSING:
        if member_id is not None:
            if type(member_id) is not str:
                raise Refused
            try:
                member_id = uuid.UUID(hex=member_id)
            except ValueError:
                raise Refused from None
        data["member_id"] = member_id
    if (customer := get("member_external_id", _MISSING)) is not _MISSING:
        data["member_external_id"] = None if customer is None else _text(customer, 200)
    if (email := get("email", _MISSING)) is not _MISSING:
        if email is not None:
            email = _text(email, 254)
            try:
                _EMAIL(email)
            except DjangoValidationError:
                raise Refused from None
        data["email"] = email
    currency = _text(get("currency"))
    if not _CURRENCY.search(currency):
        raise Refused
    data["currency"] = currency
    data["total"] = _money(get("total"))
    if (subtotal := get("subtotal", _MISSING)) is not _MISSING:
        data["subtotal"] = _money(subtotal)
    for name in ("tax", "shipping", "discount"):
        data[name] = 0 if name not in body else _money(body[name])
    placed_at = get("placed_at")
    if type(placed_at) is not str:
        raise Refused
    try:
        parsed = parse_datetime(placed_at)
        if parsed is None:
            raise Refused
        if zone is _MISSING:
            zone = time_zone(placed_at_field)
        if zone is not None and parsed.utcoffset() is not None:
            placed_at = parsed.astimezone(zone)  # enforce_timezone's branch for a time with its offset
        else:
            placed_at = placed_at_field.enforce_timezone(parsed)
    except (ValueError, TypeError, OverflowError, serializers.ValidationError):
        raise Refused from None
    if not (PLACED_AT_EARLIEST <= placed_at <= (latest or timezone.now() + PLACED_AT_SKEW)):
        raise Refused
    data["placed_at"] = placed_at
    if (lines := get("lines", _MISSING)) is not _MISSING:
        if type(lines) is not list or len(lines) > 500:
            raise Refused
        data["lines"] = [_line_fast(line) for line in lines]
    if (codes := get("coupon_codes", _MISSING)) is not _MISSING:
        if type(codes) is not list or len(codes) > 50:
            raise Refused
        data["coupon_codes"] = [_text(code, 64) for code in codes]
    # For the referral program; absent in most orders, which then pay three dict lookups.
    if (code := get("referral_code", _MISSING)) is not _MISSING:
        data["referral_code"] = None if code is None else _text(code, REFERRAL_CODE_MAX, blank=True)
    if (address := get("shipping_address", _MISSING)) is not _MISSING:
        try:
            data["shipping_address"] = address_clean(address)
        except ValueError:
            raise Refused from None
    if (payment := get("payment_fingerprint", _MISSING)) is not _MISSING:
        data["payment_fingerprint"] = None if payment is None else _text(payment, PAYMENT_FINGERPRINT_MAX, blank=True)
    # OrderInputSerializer.validate: a customer, and a default subtotal that fits the money columns.
    if not (data.get("member_id") or data.get("member_external_id") or data.get("email")):
        raise Refused
    if data.get("subtotal") is None and sum((x["total"] for x in data.get("lines") or ()), Decimal(0)) >= MONEY_LIMIT:
        raise Refused
    return data


def text_or_none(value):
    """How a serializer's CharField renders a value."""
    return None if value is None else str(value)


def int_or_none(value):
    """How a serializer's IntegerField renders a value."""
    return None if value is None else int(value)


_RULE_FIELDS = ("source", "ref", "name", "kind", "points")
_line_values = operator.itemgetter(
    "index", "sku", "name", "category", "quantity", "total", "points", "excluded_by", "rules"
)


def _rule_json(rule: dict) -> dict:
    if tuple(rule) == _RULE_FIELDS:
        source, ref, name, kind, points = rule.values()
        if type(source) is type(ref) is type(name) is type(kind) is str and type(points) is int:
            return rule  # as a breakdown holds it: its own representation, handed on as it is
    return {
        "source": text_or_none(rule["source"]),
        "ref": text_or_none(rule["ref"]),
        "name": text_or_none(rule["name"]),
        "kind": text_or_none(rule["kind"]),
        "points": int_or_none(rule["points"]),
    }


def _line_json(line: dict) -> dict:
    index, sku, name, category, quantity, total, points, excluded_by, rules = _line_values(line)
    # A breakdown's line holds texts and whole numbers already (nearly always): no conversion of each.
    if not (
        type(index) is type(points) is int
        and type(sku) is type(name) is type(category) is type(quantity) is type(total) is type(excluded_by) is str
    ):
        index, points = int_or_none(index), int_or_none(points)
        sku, name, category = text_or_none(sku), text_or_none(name), text_or_none(category)
        quantity, total, excluded_by = text_or_none(quantity), text_or_none(total), text_or_none(excluded_by)
    return {
        "index": index,
        "sku": sku,
        "name": name,
        "category": category,
        "quantity": quantity,
        "total": total,
        "points": points,
        "excluded_by": excluded_by,
        "rules": None if rules is None else [_rule_json(rule) for rule in rules],
    }


class PlainJSON(dict):
    """Data of dicts, lists, texts, whole numbers, booleans and None only (no floats, decimals or times, which
    orjson writes otherwise than DRF): OrderJSONRenderer writes it with orjson."""


class OrderJSONRenderer(JSONRenderer):
    """JSONRenderer's very bytes, from orjson for PlainJSON: a 500-order batch's answer (about 800 kB) in a
    quarter of json.dumps's time."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if (
            type(data) is PlainJSON
            and self.compact
            and not self.ensure_ascii
            and self.get_indent(accepted_media_type, renderer_context or {}) is None
        ):
            try:
                rendered = orjson.dumps(data, option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS)
            except orjson.JSONEncodeError:
                pass  # a lone surrogate or a number beyond 64 bits: JSONRenderer's own failure or output
            else:
                if b"\xe2\x80" in rendered:  # JSONRenderer escapes U+2028 and U+2029 (JavaScript's line ends)
                    rendered = rendered.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
                return rendered
        return super().render(data, accepted_media_type, renderer_context)


class OrderJson:
    """OrderOutputSerializer(result).data (the same keys in the same order, the same values), without the
    serializer machinery: 500 orders' nested serializers took a twentieth of a batch. `fields`: the
    serializer's fields, whose settings for the time, the money and the choices are read once here."""

    def __init__(self, fields):
        self.fields = fields
        available_at, total = fields["available_at"], fields["total"]
        time_format = getattr(available_at, "format", api_settings.DATETIME_FORMAT)
        self.zone = time_zone(available_at)
        self.iso_times = self.zone is not None and isinstance(time_format, str) and time_format.lower() == ISO_8601
        self.plain_money = (
            getattr(total, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
            and not total.normalize_output
            and not total.localize
            and (total.max_digits, total.decimal_places) == (14, 2)
        )
        self.choices = {name: fields[name].choice_strings_to_values for name in ("points_status", "status")}

    def _time(self, value):
        if self.iso_times and type(value) is dt.datetime and value.utcoffset() is not None:
            # DateTimeField.to_representation for an aware time and ISO 8601 output
            value = value.astimezone(self.zone).isoformat()
            return value[:-6] + "Z" if value.endswith("+00:00") else value
        return self.fields["available_at"].to_representation(value)

    def _money(self, value):
        if self.plain_money and type(value) is Decimal:
            _sign, digits, exponent = value.as_tuple()
            if exponent == -2 and len(digits) <= 14:
                return f"{value:f}"  # quantizing to two places changes nothing
        return self.fields["total"].to_representation(value)

    def _choice(self, name, value):
        if value is None or value == "":
            return value
        return self.choices[name].get(str(value), value)

    def __call__(self, result: dict) -> PlainJSON:
        lines, notes, available_at, total = result["lines"], result["notes"], result["available_at"], result["total"]
        return PlainJSON(
            points=int_or_none(result["points"]),
            points_status=self._choice("points_status", result["points_status"]),
            available_at=None if available_at is None else self._time(available_at),
            member_id=text_or_none(result["member_id"]),
            currency=text_or_none(result["currency"]),
            total=None if total is None else self._money(total),
            lines=None if lines is None else [_line_json(line) for line in lines],
            unallocated_points=int_or_none(result["unallocated_points"]),
            notes=None
            if notes is None
            else [
                {"code": text_or_none(n["code"]), "message": text_or_none(n["message"]), "ref": text_or_none(n["ref"])}
                for n in notes
            ],
            id=text_or_none(result["id"]),
            external_id=text_or_none(result["external_id"]),
            status=self._choice("status", result["status"]),
            points_reversed=int_or_none(result["points_reversed"]),
        )


def order_result_json(result: dict, fields) -> PlainJSON:
    """OrderOutputSerializer(result).data for one order (OrderJson)."""
    return OrderJson(fields)(result)


def is_plain(value) -> bool:
    """Whether `value` is PlainJSON's kind of data (an error's details, whose contents vary)."""
    if value is None or isinstance(value, str | int):  # bool is an int; ErrorDetail a str
        return True
    if isinstance(value, dict):
        return all(isinstance(key, str) and is_plain(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return all(map(is_plain, value))
    return False


def error_json(error: dict | None) -> dict | None:
    """ErrorDetailSerializer(error).data."""
    if error is None:
        return None
    details = error["details"]
    return {
        "code": text_or_none(error["code"]),
        "message": text_or_none(error["message"]),
        "details": None if details is None else {str(key): value for key, value in details.items()},
    }
