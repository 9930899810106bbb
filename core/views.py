"""Error pages: API clients get the JSON error shape, people get the HTML pages."""

from django.http import JsonResponse
from django.views import defaults

API_PREFIX = "/api/"


def _error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "details": {}}}, status=status)


def not_found(request, exception=None):
    # URLs the API's routes do not match (a malformed id, a typo) never reach DRF's handler.
    if request.path.startswith(API_PREFIX):
        return _error("not_found", "No such endpoint or resource.", 404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith(API_PREFIX):
        return _error("server_error", "Something went wrong on our side; it has been logged.", 500)
    return defaults.server_error(request)
