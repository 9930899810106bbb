"""The demo shop's URLs; loyalty_site/urls.py includes them in local mode (DEBUG) only."""

from django.urls import path

from demo import views

app_name = "demo"
urlpatterns = [
    path("shop/", views.shop, name="shop"),
]
