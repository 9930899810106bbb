from django.urls import path

from members import views

app_name = "members"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("history/", views.history, name="history"),
    path("history/<uuid:entry_id>/", views.history_entry, name="history_entry"),
    path("profile/", views.profile, name="profile"),
    path("preferences/", views.preferences, name="preferences"),
    path("close/", views.close_account, name="close"),
]
