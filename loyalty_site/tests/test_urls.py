"""The public URL map: the OpenAPI schema and the API docs are where the integration guide says."""

import json

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


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/members/not-a-uuid", "/api/v1/nothing-here", "/api/v2/orders"])
def test_an_api_url_that_matches_no_route_answers_in_the_error_shape(client, path):
    response = client.get(path, HTTP_X_API_KEY="lk_live_whatever")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "No such endpoint or resource.", "details": {}}
    }


@pytest.mark.django_db
def test_a_page_that_does_not_exist_is_still_an_html_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_an_api_crash_answers_in_the_error_shape(rf):
    from core.views import server_error

    response = server_error(rf.get("/api/v1/orders"))
    assert response.status_code == 500
    assert json.loads(response.content)["error"]["code"] == "server_error"
