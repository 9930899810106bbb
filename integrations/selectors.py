"""Reads for shops and API keys."""

from django.utils import timezone

from integrations.keys import key_hash_matches, key_prefix
from integrations.models import ApiKey


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The live key (with its shop) that `raw` is, or None: malformed, unknown, wrong secret, revoked, or its
    shop inactive. One indexed query by the unique prefix, then a constant-time comparison of hashes."""
    raw = (raw or "").strip()
    prefix = key_prefix(raw)
    if prefix is None:
        return None
    api_key = ApiKey.objects.select_related("shop").filter(prefix=prefix).first()
    if api_key is None or not key_hash_matches(raw, api_key.key_hash):
        return None
    if api_key.is_revoked(timezone.now()) or not api_key.shop.active:
        return None
    return api_key
