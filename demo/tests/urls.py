"""The site's URL map plus the demo shop, which loyalty_site/urls.py adds only in local mode (DEBUG)."""

from django.urls import include, path

from loyalty_site.urls import handler404, handler500  # noqa: F401
from loyalty_site.urls import urlpatterns as site_urlpatterns

urlpatterns = [*site_urlpatterns, path("demo/", include("demo.urls"))]
