"""The API key format: `lk_live_` + 8 lowercase letters/digits (together the prefix) + `_` + 40-letter secret.

Only letters, digits and underscores, so a double click selects the whole key and secret scanners can
match it. The secret has 40 * log2(62) ~ 238 bits of entropy, so SHA-256 (fast) is the right hash: there is
nothing to brute-force, and checking a key costs microseconds per request.
"""

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass

KEY_TAG = "lk_live_"
PREFIX_ID_ALPHABET = string.ascii_lowercase + string.digits
SECRET_ALPHABET = string.ascii_letters + string.digits
PREFIX_ID_LENGTH = 8
SECRET_LENGTH = 40
KEY_RE = re.compile(rf"^({KEY_TAG}[a-z0-9]{{{PREFIX_ID_LENGTH}}})_([A-Za-z0-9]{{{SECRET_LENGTH}}})\Z")


@dataclass(frozen=True)
class NewKey:
    prefix: str
    plaintext: str
    key_hash: str


def key_hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def key_generate() -> NewKey:
    prefix = KEY_TAG + "".join(secrets.choice(PREFIX_ID_ALPHABET) for _ in range(PREFIX_ID_LENGTH))
    secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    plaintext = f"{prefix}_{secret}"
    return NewKey(prefix=prefix, plaintext=plaintext, key_hash=key_hash(plaintext))


def key_prefix(plaintext: str) -> str | None:
    """The prefix of a well-formed key, or None (a malformed key is refused without a query)."""
    match = KEY_RE.match(plaintext)
    return match.group(1) if match else None


def key_hash_matches(plaintext: str, stored_hash: str) -> bool:
    """Constant-time comparison, so response times leak nothing about the stored hash."""
    return hmac.compare_digest(key_hash(plaintext), stored_hash)
