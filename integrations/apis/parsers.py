"""A JSON parser for the order endpoints: DRF's JSONParser's very data, read by orjson when that cannot differ.

DRF's JSONParser decodes the body and hands it to the standard library's json: for a 500-order batch (about
300 kB) that took a fifth of the API layer's time outside the service. orjson reads UTF-8 JSON to the same
Python values (the same types, keys in the same order, the last of repeated keys, floats rounded alike), and
refuses what json refuses; it differs only where OrderJSONParser hands the body to JSONParser instead:
- a charset other than UTF-8;
- whole numbers beyond 64 bits, which orjson reads as floats: any 19 digits in a row (in a text too) send
  the body to json;
- what orjson refuses and json takes: lone surrogates ("\\ud800"), numbers beyond a float's range (json
  reads 1e400 as inf), nesting deeper than orjson's 1024 levels; JSONParser then answers as before;
- nesting deeper than 254 levels (orjson.dumps's limit, the cheap way to learn the depth): json may run out
  of stack there, and it still does.
"""

import codecs
import io

import orjson
from rest_framework.parsers import JSONParser, get_encoding

# Digits to 1, anything else to 0: a run of 19 ones is a run of 19 digits, found by a plain bytes search
# (a regex took as long as parsing the body with orjson).
_DIGIT_MARKS = bytes(int(48 <= byte <= 57) for byte in range(256))
_NINETEEN_DIGITS = b"\x01" * 19  # 2**63 has 19 digits; every whole number orjson keeps as an int has fewer


class JSONDocument(dict):
    """A JSON object that OrderJSONParser read with orjson: its floats are all finite (orjson refuses the
    others) and it nests at most 254 levels deep, so json.dumps takes any value in it (DRF's JSONField
    checks that, at a json.dumps per value)."""


class OrderJSONParser(JSONParser):
    """JSONParser's data (a JSONDocument for an object orjson read), or JSONParser's own error."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = get_encoding(parser_context)  # its ParseError for a charset that is no text encoding
        if codecs.lookup(encoding).name == "utf-8":
            body = stream.read()
            if _NINETEEN_DIGITS not in body.translate(_DIGIT_MARKS):
                try:
                    data = orjson.loads(body)
                    orjson.dumps(data)  # raises beyond 254 levels
                except (orjson.JSONDecodeError, orjson.JSONEncodeError):
                    pass
                else:
                    return JSONDocument(data) if type(data) is dict else data
            stream = io.BytesIO(body)
        return super().parse(stream, media_type, parser_context)
