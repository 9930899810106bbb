"""What the integrations tests share besides fixtures (conftest.py)."""

from rest_framework.test import APIClient

from integrations.models import Shop
from integrations.services.shops import api_key_create


def api_client(shop: Shop, *scopes: str, **client_kwargs) -> APIClient:
    """An APIClient that sends a new key of `shop` with `scopes` (default: read)."""
    _, plaintext = api_key_create(shop=shop, name="Test key", scopes=scopes or ("read",))
    client = APIClient(**client_kwargs)
    client.credentials(HTTP_X_API_KEY=plaintext)
    return client
