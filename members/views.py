"""Member pages: parse the request, call one service or selector, render."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from core.exceptions import ApplicationError
from members.forms import CloseAccountForm, PreferencesForm, ProfileForm
from members.page_selectors import (
    dashboard_rewards_get,
    how_to_earn_get,
    member_redemption_get,
    reward_option_get,
    rewards_page_get,
    tier_page_get,
)
from members.reward_forms import RedeemForm, redemption_key_new
from members.selectors import member_entry_get, member_for_user
from members.services import member_close, member_preferences_update, member_profile_update
from members.templatetags.member_ui import zone
from members.words import coupon_gives, pay_with_points_value, redeem_error_words, refusal_words, reward_gives
from notifications.services import email_preferences_get, email_preferences_update
from rewards.models import PointEntry, Reward
from rewards.selectors import account_entries, next_expiry_get, program_cached
from rewards.selectors.catalogue import coupon_display_status, member_coupons
from rewards.services.ledger import Actor
from rewards.services.redemptions import redemption_coupon, reward_redeem

HISTORY_PAGE_SIZE = 25
RECENT_ENTRIES = 5
COUPONS_PAGE_SIZE = 20


def member_required(view):
    """Sign-in required; the view gets the signed-in user's member as its second argument.

    A login without an open membership (a staff user, typically) gets a friendly page with a 403 that
    says so and points staff to the admin, rather than an error."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        member = member_for_user(request.user)
        if member is None:
            return render(request, "members/no_membership.html", status=403)
        return view(request, member, *args, **kwargs)

    return wrapper


@member_required
def dashboard(request, member):
    account = member.points_account
    return render(
        request,
        "members/dashboard.html",
        {
            "member": member,
            "account": account,
            "next_expiry": next_expiry_get(account=account),
            "recent": account_entries(account=account)[:RECENT_ENTRIES],
            "summary": dashboard_rewards_get(member=member, program=program_cached()),
        },
    )


@member_required
def history(request, member):
    kind = request.GET.get("kind") or None
    if kind not in PointEntry.Kind.values:
        kind = None
    entries = account_entries(account=member.points_account, kind=kind)
    page = Paginator(entries, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "members/history.html",
        {"member": member, "page": page, "kind": kind, "kinds": PointEntry.Kind.choices},
    )


@member_required
def history_entry(request, member, entry_id):
    entry = member_entry_get(member=member, entry_id=entry_id)
    return render(request, "members/history_entry.html", {"member": member, "entry": entry})


@member_required
@require_http_methods(["GET", "POST"])
def profile(request, member):
    form = ProfileForm(request.POST if request.method == "POST" else None, instance=member)
    if request.method == "POST" and form.is_valid():
        member_profile_update(member=member, **{f: form.cleaned_data[f] for f in ProfileForm.Meta.fields})
        messages.success(request, _("Your profile is saved."))
        return redirect("members:profile")
    return render(request, "members/profile.html", {"member": member, "form": form})


@member_required
@require_http_methods(["GET", "POST"])
def preferences(request, member):
    emails = email_preferences_get(member=member)
    form = PreferencesForm(
        request.POST if request.method == "POST" else None,
        initial={
            "marketing_consent": member.marketing_consent,
            "email_activity": emails.activity,
            "email_marketing": emails.marketing,
        },
    )
    if request.method == "POST" and form.is_valid():
        member_preferences_update(member=member, marketing_consent=form.cleaned_data["marketing_consent"])
        email_preferences_update(
            member=member, activity=form.cleaned_data["email_activity"], marketing=form.cleaned_data["email_marketing"]
        )
        messages.success(request, _("Your preferences are saved."))
        return redirect("members:preferences")
    return render(request, "members/preferences.html", {"member": member, "form": form})


@member_required
@require_http_methods(["GET", "POST"])
def close_account(request, member):
    form = CloseAccountForm(request.POST if request.method == "POST" else None, user=request.user)
    if request.method == "POST" and form.is_valid():
        member_close(member=member, actor=Actor.member(request.user))
        logout(request)
        messages.info(request, _("Your account is closed and your personal details are removed. Thank you."))
        return redirect("account_login")
    return render(request, "members/close.html", {"member": member, "account": member.points_account, "form": form})


# --- rewards, coupons, tier, how to earn -------------------------------------------------------------------
# These pages only read the program (its currency and time zone): program_cached() spares a query per page
# between staff changes (settings.CONFIG_CACHE_SECONDS).
# Dates written out in words by the selectors (tier and campaign end dates) are in the program's time zone,
# as the templates show theirs (base.html): the selectors run under timezone.override(program zone).


def _redeem_context(*, member, program, option, form, error=None) -> dict:
    reward = option.reward
    account = member.points_account
    cost = reward.points
    if reward.kind == Reward.Kind.PAY_WITH_POINTS:
        field = form.fields["points"]
        try:
            cost = int(form["points"].value())
        except (TypeError, ValueError):
            cost = field.min_value
        if not field.min_value <= cost <= field.max_value:
            cost = field.min_value
    return {
        "member": member,
        "account": account,
        "option": option,
        "reward": reward,
        "gives": reward_gives(reward, currency=program.currency),
        "currency": reward.currency or program.currency,
        "form": form,
        "cost": cost,
        "balance_after": account.available - cost,
        "worth": pay_with_points_value(reward, cost) if reward.kind == Reward.Kind.PAY_WITH_POINTS else None,
        "why": refusal_words(option.refusal) if option.refusal else "",
        "error": error,
    }


@member_required
@require_GET
def rewards(request, member):
    program = program_cached()
    with timezone.override(zone(program.time_zone)):
        page = rewards_page_get(member=member, program=program)

    def row(option) -> dict:
        why = refusal_words(option.refusal) if option.refusal else ""
        return {"option": option, "gives": reward_gives(option.reward, currency=program.currency), "why": why}

    return render(
        request,
        "members/rewards.html",
        {
            "member": member,
            "account": member.points_account,
            "available": [row(o) for o in page.available],
            "unavailable": [row(o) for o in page.unavailable],
            "store_credit": page.store_credit,
        },
    )


@member_required
@require_http_methods(["GET", "POST"])
def reward_redeem_confirm(request, member, reward_id):
    """GET: what redeeming will do, with a fresh idempotency key in the form. POST: redeem once (the same key
    again, a double submit, finds the first redemption), then show its result; a refusal changes nothing and
    is shown on the same page."""
    program = program_cached()
    option = reward_option_get(member=member, reward_id=reward_id, program=program)
    account = member.points_account
    if request.method == "POST":
        form = RedeemForm(request.POST, reward=option.reward, account=account)
        if form.is_valid():
            try:
                redemption, _created = reward_redeem(
                    member=member,
                    reward=option.reward,
                    idempotency_key=form.cleaned_data["key"],
                    channel="web",
                    points=form.cleaned_data.get("points"),
                )
            except ApplicationError as error:
                # Shown as things are now: the balance, and whether the reward can still be redeemed at all.
                account.refresh_from_db(fields=["available"])
                option = reward_option_get(member=member, reward_id=reward_id, program=program)
                fresh = RedeemForm(
                    initial={"key": redemption_key_new(), "points": form.cleaned_data.get("points")},
                    reward=option.reward,
                    account=account,
                )
                context = _redeem_context(
                    member=member, program=program, option=option, form=fresh, error=redeem_error_words(error)
                )
                return render(request, "members/reward_confirm.html", context, status=error.status)
            return redirect("members:redemption", redemption_id=redemption.public_id)
        form.data = form.data.copy()
        form.data["key"] = redemption_key_new()  # nothing was redeemed: the next try gets a key of its own
        context = _redeem_context(member=member, program=program, option=option, form=form)
        return render(request, "members/reward_confirm.html", context, status=422)
    form = RedeemForm(initial={"key": redemption_key_new()}, reward=option.reward, account=account)
    context = _redeem_context(member=member, program=program, option=option, form=form)
    return render(request, "members/reward_confirm.html", context)


@member_required
@require_GET
def redemption(request, member, redemption_id):
    redemption = member_redemption_get(member=member, redemption_id=redemption_id)
    coupon = redemption_coupon(redemption)
    return render(
        request,
        "members/redemption.html",
        {
            "member": member,
            "account": member.points_account,
            "redemption": redemption,
            "coupon": coupon,
            "coupon_gives": coupon_gives(coupon) if coupon else "",
            "coupon_status": coupon_display_status(coupon) if coupon else "",
        },
    )


@member_required
@require_GET
def coupons(request, member):
    page = Paginator(member_coupons(member=member), COUPONS_PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [(c, coupon_gives(c), coupon_display_status(c, now=now)) for c in page.object_list]
    return render(request, "members/coupons.html", {"member": member, "page": page, "rows": rows})


@member_required
@require_GET
def tier(request, member):
    program = program_cached()
    with timezone.override(zone(program.time_zone)):
        page = tier_page_get(member=member, program=program)
    return render(request, "members/tier.html", {"member": member, "page": page})


@member_required
@require_GET
def earn(request, member):
    program = program_cached()
    with timezone.override(zone(program.time_zone)):
        ways = how_to_earn_get(member=member, program=program)
    return render(request, "members/earn.html", {"member": member, "ways": ways})
