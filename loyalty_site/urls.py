from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularRedocView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="members:dashboard", permanent=False)),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("me/", include("members.urls")),
    path("", include("referrals.urls")),  # /r/<code> and /me/referrals/
    path("api/v1/", include("loyalty_site.api_v1")),
    path("email/", include("notifications.urls")),
    path("api/docs/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-docs"),
]

if settings.DEBUG:  # local mode only: a make-believe shop with the widget (demo/shop.py)
    urlpatterns.append(path("demo/", include("demo.urls")))

handler404 = "core.views.not_found"
handler500 = "core.views.server_error"
