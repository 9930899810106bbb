"""The public URL map: the OpenAPI schema and the API docs are where the integration guide says."""

import pytest


@pytest.mark.django_db
def test_openapi_schema_is_served_without_a_key(client):
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    assert b"openapi: 3" in response.content


@pytest.mark.django_db
def test_api_docs_page_points_at_the_schema(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"/api/v1/schema/" in response.content
