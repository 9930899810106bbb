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
