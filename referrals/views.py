"""The referral pages: the short link /r/<code>, and the member's page /me/referrals/ with their link, its QR
code, share links, their friends, their rewards and the invitation form. Parse, call one service or
selector, render.

Attribution at sign-up (members.adapters): a code the friend typed or left in the sign-up form wins over the
link's cookie; the form is filled in with the cookie's code, so a friend who changes nothing is credited to
the link they followed.
"""

import re
from urllib.parse import quote, urlencode

import segno
from django.contrib import messages
from django.core.cache import cache
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from core.exceptions import ApplicationError
from members.views import member_required
from referrals.cookies import (
    attribution_cookie,
    attribution_cookie_set,
    client_ip,
    device_cookie_set,
    device_id_ensure,
    device_id_or_new,
)
from referrals.forms import InviteForm
from referrals.selectors import referral_program_get
from referrals.selectors.member import referral_page_get
from referrals.services import click_from_cookie, referral_click, referral_code_seen, referral_invite_send
from rewards.selectors import program_cached

# Invitation posts per browser session and per IP address in a window, before the page asks to wait. The
# service's own limit (invites_per_day per member) counts sent invitations; this one counts attempts, so
# that nobody can use the form to probe addresses quickly, whatever the answers.
INVITE_POSTS = 10
INVITE_WINDOW = 10 * 60


# Messaging apps and social sites fetch a shared link to show its preview: those fetches are not visits.
LINK_PREVIEWERS = re.compile(
    r"facebookexternalhit|facebookcatalog|meta-externalagent|whatsapp|telegrambot|twitterbot|slackbot|"
    r"discordbot|linkedinbot|skypeuripreview|pinterest|redditbot|applebot|googlebot|bingbot|embedly|"
    r"mastodon|viber|iframely|bot\b|crawler|spider",
    re.IGNORECASE,
)
# Clicks counted per IP address in a window; more still lead to the sign-up but add no row (a script
# requesting a link in a loop cannot fill the table or the member's click count).
CLICKS_PER_IP = 30
CLICK_WINDOW = 60 * 60


@require_safe
@never_cache
def referral_link(request, code):
    """/r/<code>: count the click, keep the attribution in a cookie, and go to the sign-up with the code
    filled in. An unknown code or a program that is off goes to the sign-up without a code; a member who is
    signed in goes to their own referral page. HEAD, link previews and a flood from one address count nothing."""
    if request.user.is_authenticated:
        return redirect("referrals:page")
    if (
        request.method == "HEAD"
        or LINK_PREVIEWERS.search(request.headers.get("User-Agent", ""))
        or _over_limit(request, scope="click", limit=CLICKS_PER_IP, window=CLICK_WINDOW, per_session=False)
    ):
        return redirect("account_signup")
    cookie = attribution_cookie(request)
    referral, value = referral_click(code=code, cookie=cookie)
    rules = referral_program_get()
    if referral is not None:
        code_to_fill = referral.code
    else:
        # First click kept, the same link again, or a code that leads nowhere: the live click, if any.
        current = click_from_cookie(cookie, rules=rules) if rules.active else None
        code_to_fill = current.code if current is not None else ""
    url = reverse("account_signup")
    if code_to_fill:
        url += "?" + urlencode({"ref": code_to_fill})
    response = redirect(url)
    if value:
        attribution_cookie_set(request, response, value, days=rules.attribution_days)
    device_id_ensure(request, response)
    return response


def _over_limit(request, *, scope: str, limit: int, window: int, per_session: bool = True) -> bool:
    """Count one more request of `scope` from this IP address (and session); True when one is over `limit`
    in the current window. Counters live in the shared cache (Redis in production), so every web process
    counts against the same limit."""
    keys = [f"referrals:{scope}:ip:{client_ip(request)}"]
    if per_session and request.session.session_key:
        keys.append(f"referrals:{scope}:session:{request.session.session_key}")
    over = False
    for key in keys:
        if cache.add(key, 1, timeout=window):
            continue
        try:
            count = cache.incr(key)
        except ValueError:  # expired between the two calls: this request starts a new window
            cache.add(key, 1, timeout=window)
            continue
        over = over or count > limit
    return over


def _invite_error_words(error: ApplicationError) -> str:
    match error.code:
        case "own_address":
            return _("That is your own address. Enter a friend's address.")
        case "invite_limit":
            return _("You have sent %(n)s invitations today, the most for one day. You can send more tomorrow.") % {
                "n": error.extra.get("limit", "")
            }
        case "invalid_email":
            return _("Enter one valid e-mail address.")
        case "referrals_inactive":
            return _("The referral program is not running at the moment.")
        case _:
            return error.message


def qr_svg(text: str) -> str:
    """`text` as a QR code, an inline SVG that scales to its box (dark on white, with the quiet zone)."""
    qr = segno.make_qr(text, error="m")
    svg = qr.svg_inline(scale=1, border=4, dark="#000", light="#fff", omitsize=True, svgclass="qr", lineclass=None)
    return mark_safe(svg)  # noqa: S308  segno's own markup of our own URL


def _share_links(*, link: str, message: str, subject: str) -> list[dict]:
    """Plain links that open the member's own mail, messaging app or X with the message filled in."""
    text = f"{message} {link}"
    return [
        {"name": _("E-mail"), "href": f"mailto:?subject={quote(subject)}&body={quote(text)}", "slug": "email"},
        {"name": "WhatsApp", "href": f"https://wa.me/?text={quote(text)}", "slug": "whatsapp"},
        {
            "name": "Telegram",
            "href": f"https://t.me/share/url?url={quote(link, safe='')}&text={quote(message)}",
            "slug": "telegram",
        },
        {"name": _("Text message"), "href": f"sms:?&body={quote(text)}", "slug": "sms"},
        {
            "name": "X",
            "href": f"https://x.com/intent/tweet?text={quote(message)}&url={quote(link, safe='')}",
            "slug": "x",
        },
    ]


@member_required
@require_http_methods(["GET", "POST"])
def referral_page(request, member):
    """GET: the member's link, code, QR code, share links, terms, friends and rewards. POST: invite one friend
    by e-mail (the fixed invitation), then back to the page with the answer."""
    rules = referral_program_get()
    program = program_cached()
    form = InviteForm()
    invite_error = ""
    status = 200
    if request.method == "POST" and rules.active:
        if _over_limit(request, scope="invite", limit=INVITE_POSTS, window=INVITE_WINDOW):
            invite_error = _("That was a lot of invitations in a short time. Please wait a few minutes and try again.")
            status = 429
        else:
            form = InviteForm(request.POST)
            if form.is_valid():
                try:
                    answer = referral_invite_send(member=member, email=form.cleaned_data["email"])
                except ApplicationError as error:
                    invite_error, status = _invite_error_words(error), error.status
                else:
                    messages.success(request, answer)
                    return redirect("referrals:page")
            else:
                status = 422
    elif request.method == "POST":
        return redirect("referrals:page")

    device, new_device = device_id_or_new(request)
    if rules.active:
        referral_code_seen(member=member, ip=client_ip(request), device=device)
    page = referral_page_get(member=member, rules=rules, currency=program.currency, pending_days=program.pending_days)
    context = {"member": member, "page": page, "form": form, "invite_error": invite_error}
    if page.active and page.code:
        link = request.build_absolute_uri(reverse("referrals:link", kwargs={"code": page.code}))
        if page.friend_gets:
            message = _("Join %(program)s with my link and get %(gift)s:") % {
                "program": program.name,
                "gift": page.friend_gets,
            }
        else:
            message = _("Join %(program)s with my link:") % {"program": program.name}
        subject = _("Join me at %(program)s") % {"program": program.name}
        context.update(link=link, qr=qr_svg(link), share=_share_links(link=link, message=message, subject=subject))
    response = render(request, "referrals/page.html", context, status=status)
    if new_device:
        device_cookie_set(request, response, device)
    return response
