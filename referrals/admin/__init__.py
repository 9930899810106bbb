"""The staff side of referrals (docs/referrals.md): the program's settings, the referrals with the decision
of the fraud checks and the review queue, the rewards, and two pages of their own: the preview of a change
of the rules and the referral stats.

- ReferralProgram: one row (pk 1); the changelist goes straight to it; its history shows on the
  "Configuration changes" page (rewards/admin/history.py, CONFIG_MODELS).
- Referral, ReferralReward, ReferralCode: read-only; only referrals.services write them. The review queue is
  the referrals' list narrowed to review=pending; "Approve" and "Reject" ask for a note and call
  referral_review for each (referrals/admin/referrals.py).
- The preview and the stats (referrals/admin/pages.py) read through referrals/selectors/staff.py.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from referrals.admin.pages import preview_view, review_queue_url, stats_url
from referrals.models import ReferralProgram
from referrals.selectors import referral_program_get
from referrals.selectors.staff import review_queue_count
from rewards.admin import ProgramTimeZoneMixin
from rewards.admin.history import ConfigHistoryAdmin
from rewards.services.redemptions import GIFTABLE

FriendReward, ReferrerReward = ReferralProgram.FriendReward, ReferralProgram.ReferrerReward


def _gift_error(reward) -> str | None:
    if reward is None:
        return str(_("Choose the reward from the catalogue."))
    if reward.kind not in GIFTABLE:
        return str(
            _(
                "“%(title)s” (%(kind)s) cannot be given as a gift: choose a discount code, free shipping, "
                "a free product, store credit or a perk."
            )
            % {"title": reward.title, "kind": reward.get_kind_display()}
        )
    return None


def referral_program_errors(cleaned: dict) -> dict[str, str]:
    """What is wrong with the settings in `cleaned` taken together: each chosen reward needs its value (a
    catalogue reward must be one that can be given), the "each order" trigger its counts, and the weekly
    limit cannot be below the daily one."""
    errors: dict[str, str] = {}
    friend = cleaned.get("friend_reward")
    if friend == FriendReward.POINTS and not cleaned.get("friend_points"):
        errors["friend_points"] = _("Give the friend's points (more than 0), or choose another reward.")
    if friend == FriendReward.REWARD and (error := _gift_error(cleaned.get("friend_reward_item"))):
        errors["friend_reward_item"] = error
    referrer = cleaned.get("referrer_reward")
    if referrer == ReferrerReward.POINTS and not cleaned.get("referrer_points"):
        errors["referrer_points"] = _("Give the referrer's points (more than 0), or choose another reward.")
    if referrer == ReferrerReward.STORE_CREDIT and not cleaned.get("referrer_store_credit"):
        errors["referrer_store_credit"] = _("Give the store credit's amount (more than 0), or choose another reward.")
    if referrer == ReferrerReward.REWARD and (error := _gift_error(cleaned.get("referrer_reward_item"))):
        errors["referrer_reward_item"] = error
    if cleaned.get("trigger") == ReferralProgram.Trigger.EACH_ORDER:
        if not cleaned.get("orders_count"):
            errors["orders_count"] = _("Say how many of the friend's orders are rewarded (1 or more).")
        if not cleaned.get("orders_within_days"):
            errors["orders_within_days"] = _("Say within how many days of the sign-up the orders count.")
    day, week = cleaned.get("max_per_day"), cleaned.get("max_per_week")
    if day and week and week < day:
        errors["max_per_week"] = _("The weekly limit cannot be below the daily limit (%(day)s).") % {"day": day}
    if cleaned.get("attribution_days") == 0:
        errors["attribution_days"] = _("A followed link must count for at least a day.")
    return errors


class ReferralProgramForm(forms.ModelForm):
    class Meta:
        model = ReferralProgram
        fields = (
            "active",
            "attribution",
            "attribution_days",
            "trigger",
            "min_order_total",
            "orders_count",
            "orders_within_days",
            "return_window_days",
            "friend_reward",
            "friend_points",
            "friend_reward_item",
            "referrer_reward",
            "referrer_points",
            "referrer_store_credit",
            "referrer_reward_item",
            "same_device",
            "same_ip",
            "same_address",
            "same_payment",
            "max_per_day",
            "max_per_week",
            "max_rewarded",
            "invites_per_day",
        )

    def clean(self):
        cleaned = super().clean()
        for name, message in referral_program_errors(cleaned).items():
            self.add_error(name, message)
        return cleaned


@admin.register(ReferralProgram)
class ReferralProgramAdmin(ProgramTimeZoneMixin, ConfigHistoryAdmin):
    """One row (pk 1): the changelist goes straight to it; it cannot be added or deleted."""

    form = ReferralProgramForm
    change_form_template = "admin/referrals/referralprogram/change_form.html"
    readonly_fields = ("updated_at",)
    fieldsets = (
        (_("Program and attribution"), {"fields": ("active", "attribution", "attribution_days")}),
        (
            _("When a referral qualifies"),
            {
                "description": _(
                    "The referrer is rewarded when the friend signs up, on the friend's first order of at least the "
                    "minimum total, or on each of their first N such orders within M days of signing up. The "
                    "referrer's reward waits for the order's return window and is reversed if the order is "
                    "refunded or cancelled in the meantime."
                ),
                "fields": ("trigger", "min_order_total", "orders_count", "orders_within_days", "return_window_days"),
            },
        ),
        (
            _("The friend's reward"),
            {
                "description": _("Given when the friend signs up with a referral (after a review, if one is held)."),
                "fields": ("friend_reward", "friend_points", "friend_reward_item"),
            },
        ),
        (
            _("The referrer's reward"),
            {"fields": ("referrer_reward", "referrer_points", "referrer_store_credit", "referrer_reward_item")},
        ),
        (
            _("Fraud rules"),
            {
                "description": _(
                    "Always rejected, whatever these say: the friend is the referrer or has the referrer's e-mail "
                    "(after removing dots and +tags where the provider ignores them), was already a member or "
                    "customer, or was already referred. “Hold for review” puts the referral in the review queue; "
                    "nothing is released until staff approve it. Use “Preview a change” to see what a change "
                    "would have decided over the last 90 days."
                ),
                "fields": ("same_device", "same_ip", "same_address", "same_payment"),
            },
        ),
        (_("Limits"), {"fields": ("max_per_day", "max_per_week", "max_rewarded", "invites_per_day")}),
        (None, {"fields": ("updated_at",)}),
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return redirect(reverse("admin:referrals_referralprogram_change", args=[referral_program_get().pk]))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "preview_url": reverse("admin:referrals_preview"),
            "stats_url": stats_url(),
            "review_count": review_queue_count(),
            "review_url": review_queue_url(),
        }
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        def view(request):
            return self._in_program_time_zone(preview_view, request, model_admin=self)

        return [path("preview/", self.admin_site.admin_view(view), name="referrals_preview"), *super().get_urls()]


# The referrals' own screens register themselves on import.
from referrals.admin import referrals  # noqa: E402, F401
