"""The project's URLs plus the bare order view, mounted only here."""

from django.urls import include, path

from http_site.views import bare_order

urlpatterns = [
    path("bench/bare-order", bare_order, name="bench-bare-order"),
    path("", include("loyalty_site.urls")),
]
