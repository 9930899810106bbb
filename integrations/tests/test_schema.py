"""The OpenAPI schema builds without a warning, and documents the X-Api-Key scheme and GET /shop."""

import yaml
from django.core.management import call_command


def test_the_schema_builds_without_warnings(db, tmp_path):
    path = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--file", str(path))
    schema = yaml.safe_load(path.read_text())
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": schema["components"]["securitySchemes"]["ApiKeyAuth"]["description"],
    }
    operation = schema["paths"]["/api/v1/shop"]["get"]
    assert operation["security"] == [{"ApiKeyAuth": []}]
    assert set(operation["responses"]) == {"200", "401", "403", "429"}
    ok = operation["responses"]["200"]["content"]["application/json"]
    assert ok["examples"] and ok["schema"] == {"$ref": "#/components/schemas/Shop"}
    assert set(schema["components"]["schemas"]["Shop"]["properties"]) == {"id", "name", "kind", "currency", "time_zone"}


def test_the_member_endpoints_are_documented_with_examples(db, tmp_path):
    path = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--file", str(path))
    schema = yaml.safe_load(path.read_text())
    paths = schema["paths"]
    operations = {
        ("/api/v1/members", "post"): "201",
        ("/api/v1/members", "get"): "200",
        ("/api/v1/members/{member_id}", "get"): "200",
        ("/api/v1/members/{member_id}/activity", "get"): "200",
        ("/api/v1/members/{member_id}/adjustments", "post"): "201",
    }
    for (url, method), ok in operations.items():
        operation = paths[url][method]
        assert operation["security"] == [{"ApiKeyAuth": []}]
        assert {"401", "403", "429"} <= set(operation["responses"])
        assert operation["responses"][ok]["content"]["application/json"]["examples"], (url, method)
    detail = schema["components"]["schemas"]["MemberDetail"]["properties"]
    assert {"points", "tier", "tier_progress", "lifetime", "member_number", "status"} <= set(detail)
    assert paths["/api/v1/members/{member_id}/activity"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/PaginatedMemberEntryList"}
