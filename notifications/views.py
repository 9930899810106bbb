"""The signed unsubscribe link (no login): GET shows one button, POST turns the category off; the RFC 8058
one-click POST (body List-Unsubscribe=One-Click) comes from the mail client, so it alone skips the CSRF check."""

from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from notifications.models import Category
from notifications.services import ALL, email_unsubscribe, unsubscribe_read

_NAMES = {Category.ACTIVITY: Category.ACTIVITY.label, Category.MARKETING: Category.MARKETING.label}


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    found = unsubscribe_read(token)
    if found is None:
        return render(request, "notifications/unsubscribe_invalid.html", status=400)
    member, category = found
    context = {"category": category, "category_name": _NAMES.get(category, ""), "everything": category == ALL}
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        if not one_click:
            rejected = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
            if rejected is not None:
                return rejected
        email_unsubscribe(member=member, category=category)
        return render(request, "notifications/unsubscribe_done.html", context)
    return render(request, "notifications/unsubscribe.html", context)
