from django.urls import path, re_path

from referrals import views

app_name = "referrals"
urlpatterns = [
    # /r/ANNA7K3P, with or without a trailing slash (links get retyped and shortened by apps).
    re_path(r"^r/(?P<code>[^/]{1,64})/?$", views.referral_link, name="link"),
    path("me/referrals/", views.referral_page, name="page"),
]
