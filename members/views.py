"""Member pages: parse the request, call one service or selector, render."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from members.forms import CloseAccountForm, PreferencesForm, ProfileForm
from members.selectors import member_entry_get, member_for_user
from members.services import member_close, member_preferences_update, member_profile_update
from rewards.models import PointEntry
from rewards.selectors import account_entries, next_expiry_get
from rewards.services.ledger import Actor

HISTORY_PAGE_SIZE = 25
RECENT_ENTRIES = 5


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
    form = PreferencesForm(
        request.POST if request.method == "POST" else None, initial={"marketing_consent": member.marketing_consent}
    )
    if request.method == "POST" and form.is_valid():
        member_preferences_update(member=member, marketing_consent=form.cleaned_data["marketing_consent"])
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
