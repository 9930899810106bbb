"""What every API view shares: the one error shape, and pagination."""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.exceptions import ApplicationError


def error_response(*, code: str, message: str, details: dict | None = None, status_code: int) -> Response:
    return Response({"error": {"code": code, "message": message, "details": details or {}}}, status=status_code)


def exception_handler(exc, context):
    """Answer every error as {"error": {"code", "message", "details"}} with the right status."""
    if isinstance(exc, ApplicationError):
        return error_response(code=exc.code, message=exc.message, details=exc.extra, status_code=exc.status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return error_response(
            code="validation_error",
            message="The request is not valid.",
            details=details,
            status_code=status.HTTP_400_BAD_REQUEST,
        )
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    response.data = {
        "error": {
            "code": code if isinstance(code, str) else "error",
            "message": str(detail),
            "details": {},
        }
    }
    return response


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200
