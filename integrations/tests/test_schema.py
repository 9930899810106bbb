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


def _schema(tmp_path) -> dict:
    path = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def _operations(schema: dict):
    for url, methods in schema["paths"].items():
        for method, operation in methods.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield f"{method.upper()} {url}", operation


def test_every_operation_has_examples_for_its_body_and_its_success_answers(db, tmp_path):
    """Endpoints added later cannot forget them: Redoc shows these examples to shop developers."""
    missing = []
    operations = list(_operations(_schema(tmp_path)))
    assert len(operations) >= 11  # the test looks at the real schema, not an empty one
    for name, operation in operations:
        body = operation.get("requestBody")
        if body and not any(media.get("examples") for media in body["content"].values()):
            missing.append(f"{name}: request body")
        successes = {code: answer for code, answer in operation["responses"].items() if code.startswith("2")}
        assert successes, name
        for code, answer in successes.items():
            content = answer.get("content")
            if content and not any(media.get("examples") for media in content.values()):
                missing.append(f"{name}: {code} answer")
    assert missing == []


def test_every_operation_lists_its_errors_in_the_one_error_shape(db, tmp_path):
    schema = _schema(tmp_path)
    for name, operation in _operations(schema):
        errors = {code: answer for code, answer in operation["responses"].items() if code[0] in "45"}
        assert {"401", "403", "429"} <= set(errors), name
        for code, answer in errors.items():
            media = answer["content"]["application/json"]
            assert media["schema"] == {"$ref": "#/components/schemas/Error"}, (name, code)
    # The endpoints of this module name the codes each error status carries.
    refund = schema["paths"]["/api/v1/orders/{external_id}/refunds"]["post"]["responses"]
    assert "`refund_exceeds_order`" in refund["422"]["description"]
    assert "`throttled`" in refund["429"]["description"]
