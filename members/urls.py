from django.urls import path

from members import views

app_name = "members"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("history/", views.history, name="history"),
    path("history/<uuid:entry_id>/", views.history_entry, name="history_entry"),
    path("rewards/", views.rewards, name="rewards"),
    path("rewards/<uuid:reward_id>/redeem/", views.reward_redeem_confirm, name="reward_redeem"),
    path("rewards/redeemed/<uuid:redemption_id>/", views.redemption, name="redemption"),
    path("coupons/", views.coupons, name="coupons"),
    path("tier/", views.tier, name="tier"),
    path("earn/", views.earn, name="earn"),
    path("profile/", views.profile, name="profile"),
    path("preferences/", views.preferences, name="preferences"),
    path("close/", views.close_account, name="close"),
]
