"""Referrals, their rewards and the members' codes in the admin: read-only (referrals.services writes them),
with the review queue of the referrals the fraud checks held.

The review queue is the referrals' list narrowed to review=pending (oldest first). "Approve" and "Reject"
(actions on the list, buttons on a held referral's page) ask for a note on a page of their own, required to
reject, and call referral_review for each referral; what the service refuses shows as an error message.
Nothing is approved by itself: a held referral waits for a person.
"""

from collections import defaultdict

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.exceptions import ApplicationError
from referrals import checks
from referrals.admin.pages import review_queue_url, stats_csv_view, stats_url, stats_view
from referrals.models import Referral, ReferralCode, ReferralReward
from referrals.selectors import referral_program_get
from referrals.selectors.staff import review_queue_count
from referrals.services import referral_review
from rewards.admin import ProgramTimeZoneMixin, ReadOnlyAdminMixin, admin_link, member_label, short_datetime

REVIEW_MAX_SELECTED = 100  # one transaction per referral; a larger batch is a sign to change the rules instead

# What each fact the checks gather means, in the order the page lists them.
FACT_LABELS = {
    "same_member": _("The friend is the referrer"),
    "same_email": _("The friend's e-mail is the referrer's (canonical)"),
    "already_member": _("The friend was already a member"),
    "already_customer": _("The friend had already ordered"),
    "already_referred": _("The friend was already referred"),
    "same_ip": _("Same IP address as the referrer"),
    "same_device": _("Same device as the referrer"),
    "referrer_day": _("The referrer's sign-ups in the last day (with this one)"),
    "referrer_week": _("The referrer's sign-ups in the last 7 days (with this one)"),
    "qualifying": _("Checked again at a qualifying order"),
    "same_address": _("The order ships to an address of the referrer's orders"),
    "same_payment": _("The order was paid with a payment method of the referrer's"),
    "referrer_rewarded": _("The referrer's rewarded referrals before this one"),
}
ACTION_LABELS = {checks.ACCEPT: _("accept"), checks.FLAG: _("hold for review"), checks.REJECT: _("reject")}


def outcome_label(outcome: str) -> str:
    return str(ACTION_LABELS.get(outcome, outcome))


def reward_value(reward: ReferralReward) -> str:
    """What a referral reward gives, in words: "500 points", "10.00 EUR", or the catalogue reward's title."""
    if reward.kind == "points":
        return ngettext("%(count)d point", "%(count)d points", reward.points) % {"count": reward.points}
    if reward.kind == "store_credit":
        return f"{reward.amount}\u00a0{reward.currency}" if reward.amount is not None else "–"
    if reward.kind == "reward":
        return reward.reward.title if reward.reward_id else "–"
    return reward.kind


def _table(head, rows):
    """A small read-only table for a change page's field."""
    return format_html(
        '<table class="referral-table"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
        format_html_join("", "<th scope='col'>{}</th>", ((h,) for h in head)),
        format_html_join("", "<tr>" + "<td>{}</td>" * len(head) + "</tr>", rows),
    )


# --- the review ------------------------------------------------------------------------------------------


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Why: kept with the referral and your name. Required to reject (the member may ask)."),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == "reject" and not (cleaned.get("note") or "").strip():
            self.add_error("note", _("Say why the referral is rejected."))
        return cleaned


def _review_apply(model_admin, request, referrals: list[Referral], *, approve: bool, note: str) -> None:
    """referral_review for each referral; what it refuses becomes an error message, grouped by reason."""
    done, refused = [], defaultdict(list)
    for referral in referrals:
        try:
            referral_review(referral=referral, approve=approve, note=note, user=request.user)
        except ApplicationError as error:
            refused[error.message].append(referral.code)
            continue
        done.append(referral.code)
    if done:
        text = (
            ngettext("Approved %(count)d referral: %(codes)s.", "Approved %(count)d referrals: %(codes)s.", len(done))
            if approve
            else ngettext(
                "Rejected %(count)d referral: %(codes)s.", "Rejected %(count)d referrals: %(codes)s.", len(done)
            )
        )
        model_admin.message_user(request, text % {"count": len(done), "codes": ", ".join(done)}, messages.SUCCESS)
    for message, codes in refused.items():
        model_admin.message_user(
            request,
            _("Not reviewed: %(codes)s. %(message)s") % {"codes": ", ".join(codes), "message": message},
            messages.ERROR,
        )


def _review_page(model_admin, request, referrals, *, decisions, action: str = "", skipped: int = 0):
    """The page that asks for the note (first call), or the review itself (the page posted back: `apply`).
    Returns None when done (the caller redirects), else the page."""
    if "apply" in request.POST:
        form = ReviewForm(request.POST)
        if form.is_valid():
            approve = form.cleaned_data["decision"] == "approve"
            _review_apply(model_admin, request, referrals, approve=approve, note=form.cleaned_data["note"])
            return None
    else:
        form = ReviewForm(initial={"decision": decisions[0]})
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Review referrals"),
        "opts": model_admin.model._meta,
        "form": form,
        "referrals": referrals,
        "decisions": decisions,
        "skipped": skipped,
        "action": action,
        "selected": [r.pk for r in referrals],
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "queue_url": review_queue_url(),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/referrals/review.html", context)


# --- referrals -----------------------------------------------------------------------------------------


class ReferralRewardInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ReferralReward
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("rewards")
    fields = readonly_fields = (
        "side",
        "sequence",
        "value",
        "status",
        "due_at",
        "granted_at",
        "order_display",
        "end_reason",
    )
    ordering = ("side", "sequence")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("reward", "order")

    @admin.display(description=_("what"))
    def value(self, reward):
        return reward_value(reward)

    @admin.display(description=_("order"))
    def order_display(self, reward):
        return admin_link(reward.order, reward.order.external_id) if reward.order_id else "–"


class QueueOrderingMixin:
    def get_ordering(self, request):
        if request.GET.get("review__exact") == Referral.Review.PENDING:
            return ("signed_up_at", "id")  # a queue: the longest waiting first
        return super().get_ordering(request)


@admin.register(Referral)
class ReferralAdmin(QueueOrderingMixin, ProgramTimeZoneMixin, admin.ModelAdmin):
    """Read-only; reviews go through the actions (the "change" permission on referrals is the right to review)."""

    change_list_template = "admin/referrals/referral/change_list.html"
    change_form_template = "admin/referrals/referral/change_form.html"
    list_display = (
        "signed_up",
        "status",
        "review",
        "referrer_display",
        "friend_display",
        "code",
        "channel",
        "reason_display",
    )
    list_filter = ("status", "review", "channel", "reason_code")
    list_select_related = ("referrer__user", "friend__user")
    search_fields = ("=code", "referrer__user__email", "friend__user__email")
    list_per_page = 50
    actions = ["approve_referrals", "reject_referrals"]
    inlines = [ReferralRewardInline]
    fieldsets = (
        (None, {"fields": ("referrer_link", "friend_link", "code", "channel", "status", "reason_code", "reason")}),
        (_("Review"), {"fields": ("review", "review_note", "reviewed_by", "reviewed_at")}),
        (
            _("What the checks saw and decided"),
            {"fields": ("facts_table", "decisions_table", "decision_today")},
        ),
        (
            _("Dates"),
            {
                "fields": (
                    "clicked_at",
                    "signed_up_at",
                    "qualified_at",
                    "rewarded_at",
                    "rejected_at",
                    "orders_rewarded",
                    "public_id",
                )
            },
        ),
    )
    readonly_fields = (
        "referrer_link",
        "friend_link",
        "code",
        "channel",
        "status",
        "reason_code",
        "reason",
        "review",
        "review_note",
        "reviewed_by",
        "reviewed_at",
        "facts_table",
        "decisions_table",
        "decision_today",
        "clicked_at",
        "signed_up_at",
        "qualified_at",
        "rewarded_at",
        "rejected_at",
        "orders_rewarded",
        "public_id",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("referrer__user", "friend__user", "reviewed_by")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # the page is read-only; has_review_permission says who may review

    def has_delete_permission(self, request, obj=None):
        return False

    def has_review_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("referrals.change_referral")

    # --- pages -----------------------------------------------------------------------------------------

    def get_urls(self):
        site = self.admin_site

        def stats(request):
            return self._in_program_time_zone(stats_view, request, model_admin=self)

        def stats_csv(request):
            return self._in_program_time_zone(stats_csv_view, request, model_admin=self)

        return [
            path("stats/", site.admin_view(stats), name="referrals_stats"),
            path("stats/referrals.csv", site.admin_view(stats_csv), name="referrals_stats_csv"),
            path("<int:object_id>/review/", site.admin_view(self.review_view), name="referrals_referral_review"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "review_count": review_queue_count(),
            "review_url": review_queue_url(),
            "stats_url": stats_url(),
        }
        return super().changelist_view(request, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "review_url": review_queue_url()}
        return super().changeform_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        can_review = obj is not None and obj.review == Referral.Review.PENDING and self.has_review_permission(request)
        context["review_here_url"] = reverse("admin:referrals_referral_review", args=[obj.pk]) if can_review else ""
        return super().render_change_form(request, context, add, change, form_url, obj)

    def review_view(self, request, object_id: int):
        """One held referral's review (from its page): approve or reject, with the note."""
        if not self.has_review_permission(request):
            raise PermissionDenied
        referral = get_object_or_404(self.get_queryset(request), pk=object_id)
        if referral.review != Referral.Review.PENDING:
            self.message_user(request, _("This referral is not waiting for review."), messages.WARNING)
            return redirect(reverse("admin:referrals_referral_change", args=[referral.pk]))
        response = _review_page(self, request, [referral], decisions=["approve", "reject"])
        return response or redirect(review_queue_url())

    # --- the actions ---------------------------------------------------------------------------------

    @admin.action(description=_("Approve selected referrals (with a note)"), permissions=["review"])
    def approve_referrals(self, request, queryset):
        return self._review_action(request, queryset, decision="approve")

    @admin.action(description=_("Reject selected referrals (with a note)"), permissions=["review"])
    def reject_referrals(self, request, queryset):
        return self._review_action(request, queryset, decision="reject")

    def _review_action(self, request, queryset, *, decision: str):
        if "apply" in request.POST:
            # The page posted back the referrals it listed, all waiting then. The list's own filter (the queue)
            # would drop one reviewed meanwhile in another tab; taken as posted, referral_review refuses it
            # and the message says so.
            posted = [pk for pk in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME) if pk.isdigit()]
            queryset = self.model.objects.filter(pk__in=posted)
        selected = list(queryset.values_list("pk", flat=True)[: REVIEW_MAX_SELECTED + 1])
        if len(selected) > REVIEW_MAX_SELECTED:
            self.message_user(
                request,
                _("Select at most %(max)d referrals at a time to review.") % {"max": REVIEW_MAX_SELECTED},
                messages.ERROR,
            )
            return None
        referrals = Referral.objects.filter(pk__in=selected).select_related("referrer__user", "friend__user")
        if "apply" not in request.POST:
            referrals = referrals.filter(review=Referral.Review.PENDING)  # the page offers only those waiting
        referrals = list(referrals.order_by("signed_up_at", "id"))
        if not referrals:
            self.message_user(request, _("None of the selected referrals is waiting for review."), messages.WARNING)
            return None
        action = f"{decision}_referrals"
        return _review_page(
            self, request, referrals, decisions=[decision], action=action, skipped=len(selected) - len(referrals)
        )

    # --- columns and fields ---------------------------------------------------------------------------

    @admin.display(description=_("signed up"), ordering="signed_up_at")
    def signed_up(self, referral):
        return short_datetime(referral.signed_up_at)

    @admin.display(description=_("referrer"), ordering="referrer__number")
    def referrer_display(self, referral):
        return member_label(referral.referrer)

    @admin.display(description=_("friend"), ordering="friend__number")
    def friend_display(self, referral):
        return member_label(referral.friend) if referral.friend_id else "–"

    @admin.display(description=_("reason"), ordering="reason_code")
    def reason_display(self, referral):
        # The code keeps the column narrow; the sentence shows on hover and on the referral's page.
        return (
            format_html('<span title="{}">{}</span>', referral.reason, referral.reason_code)
            if referral.reason_code
            else ""
        )

    @admin.display(description=_("referrer"))
    def referrer_link(self, referral):
        return admin_link(referral.referrer, member_label(referral.referrer))

    @admin.display(description=_("friend"))
    def friend_link(self, referral):
        return admin_link(referral.friend, member_label(referral.friend)) if referral.friend_id else "–"

    @admin.display(description=_("facts"))
    def facts_table(self, referral):
        facts = referral.facts or {}
        if not facts:
            return _("None recorded (the link was followed; nobody signed up yet).")
        keys = [k for k in FACT_LABELS if k in facts] + sorted(k for k in facts if k not in FACT_LABELS)
        rows = []
        for key in keys:
            value = facts[key]
            shown = (_("yes") if value else _("no")) if isinstance(value, bool) else value
            rows.append((FACT_LABELS.get(key, key), shown))
        return _table([_("fact"), _("value")], rows)

    @admin.display(description=_("decisions"))
    def decisions_table(self, referral):
        decisions = referral.decisions
        if not decisions:
            return _("No check fired: accepted.") if referral.facts else "–"
        rows = [
            (d.get("code", ""), outcome_label(d.get("action", "")), d.get("message", "")) for d in referral.decisions
        ]
        return _table([_("check"), _("action"), _("why")], rows)

    @admin.display(description=_("under today's rules"))
    def decision_today(self, referral):
        if not referral.facts:
            return "–"
        decision = checks.decide(referral.facts, referral_program_get())
        reason = decision.first_reason
        if reason is None:
            return outcome_label(decision.outcome)
        return f"{outcome_label(decision.outcome)}: {reason['message']}"


# --- rewards and codes (read-only) -------------------------------------------------------------------------


@admin.register(ReferralReward)
class ReferralRewardAdmin(ProgramTimeZoneMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created", "member_display", "side", "value", "status", "due", "granted", "referral_code")
    list_filter = ("side", "status", "kind")
    list_select_related = ("member__user", "referral", "reward")
    search_fields = ("=referral__code", "member__user__email", "=member__number")
    list_per_page = 50
    fields = readonly_fields = (
        "referral_link",
        "member_link",
        "side",
        "sequence",
        "kind",
        "value",
        "status",
        "order_link",
        "due_at",
        "granted_at",
        "ended_at",
        "end_reason",
        "grant_ref",
        "public_id",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("member__user", "referral", "reward", "order")

    @admin.display(description=_("made"), ordering="created_at")
    def created(self, reward):
        return short_datetime(reward.created_at)

    @admin.display(description=_("due"), ordering="due_at")
    def due(self, reward):
        return short_datetime(reward.due_at)

    @admin.display(description=_("granted"), ordering="granted_at")
    def granted(self, reward):
        return short_datetime(reward.granted_at)

    @admin.display(description=_("member"), ordering="member__number")
    def member_display(self, reward):
        return member_label(reward.member)

    @admin.display(description=_("what"))
    def value(self, reward):
        return reward_value(reward)

    @admin.display(description=_("referral"), ordering="referral__code")
    def referral_code(self, reward):
        return reward.referral.code

    @admin.display(description=_("referral"))
    def referral_link(self, reward):
        return admin_link(reward.referral, str(reward.referral))

    @admin.display(description=_("member"))
    def member_link(self, reward):
        return admin_link(reward.member, member_label(reward.member))

    @admin.display(description=_("order"))
    def order_link(self, reward):
        return admin_link(reward.order, reward.order.external_id) if reward.order_id else "–"


@admin.register(ReferralCode)
class ReferralCodeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The members' codes, to find whose a code is (the seen IPs and devices are hashes and stay hidden)."""

    list_display = ("code", "member_display", "created_at")
    list_select_related = ("member__user",)
    search_fields = ("=code", "member__user__email", "=member__number")
    fields = readonly_fields = ("code", "member_link", "referrals_link", "created_at", "public_id")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("member__user")

    @admin.display(description=_("member"), ordering="member__number")
    def member_display(self, code):
        return member_label(code.member)

    @admin.display(description=_("member"))
    def member_link(self, code):
        return admin_link(code.member, member_label(code.member))

    @admin.display(description=_("referrals"))
    def referrals_link(self, code):
        url = reverse("admin:referrals_referral_changelist") + f"?q={code.code}"
        return format_html('<a href="{}">{}</a>', url, _("Referrals with this code"))
