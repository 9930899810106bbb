"""Every API error has one shape: {"error": {"code", "message", "details"}} with the right status."""

import pytest
from django.http import Http404
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated, Throttled
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from core.api import exception_handler
from core.exceptions import ApplicationError


def answer(exc):
    request = APIRequestFactory().get("/")
    return exception_handler(exc, {"view": APIView(), "request": request})


def test_application_error_keeps_code_status_and_details():
    response = answer(ApplicationError("Not enough points.", code="insufficient_points", extra={"available": 3}))
    assert response.status_code == 422
    assert response.data == {
        "error": {"code": "insufficient_points", "message": "Not enough points.", "details": {"available": 3}}
    }


def test_conflict_status_is_kept():
    response = answer(ApplicationError("Used.", code="idempotency_conflict", status=409))
    assert response.status_code == 409
    assert response.data["error"]["code"] == "idempotency_conflict"


def test_validation_error_is_400_with_field_details():
    class Input(serializers.Serializer):
        points = serializers.IntegerField(min_value=1)

    serializer = Input(data={"points": 0})
    with pytest.raises(serializers.ValidationError) as caught:
        serializer.is_valid(raise_exception=True)
    response = answer(caught.value)
    assert response.status_code == 400
    assert response.data["error"]["code"] == "validation_error"
    assert "points" in response.data["error"]["details"]


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (Http404(), 404, "not_found"),
        (NotAuthenticated(), 401, "not_authenticated"),
        (Throttled(wait=7), 429, "throttled"),
    ],
)
def test_framework_errors_use_the_same_shape(exc, status, code):
    response = answer(exc)
    assert response.status_code == status
    assert set(response.data) == {"error"}
    assert response.data["error"]["code"] == code
    assert response.data["error"]["message"]


def test_unknown_exceptions_are_left_to_django():
    assert answer(RuntimeError("boom")) is None
