"""The referral fraud checks as pure functions: canonical e-mails and addresses, keyed hashes, and
`decide`, which turns what the checks saw (a referral's `facts`) and the program's rules into a decision
with its reasons. Services gather the facts; the admin's preview runs `decide` again with other rules.
"""

import re
import unicodedata
from dataclasses import dataclass, field

from django.utils.crypto import salted_hmac

# Providers that deliver "a.b+tag@" to "ab@" (dots and plus tags ignored), and those that ignore only the tag.
DOTS_AND_TAGS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}
TAGS_ONLY = {
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "fastmail.com",
    "proton.me",
    "protonmail.com",
    "pm.me",
    "yandex.com",
    "zoho.com",
}


def email_canonical(email: str) -> str:
    """The mailbox an address reaches: lower case; without dots and +tags where the provider ignores them."""
    email = (email or "").strip().lower()
    local, at, domain = email.rpartition("@")
    if not at:
        return email
    if domain in DOTS_AND_TAGS:
        domain = DOTS_AND_TAGS[domain]
        local = local.split("+", 1)[0].replace(".", "")
    elif domain in TAGS_ONLY:
        local = local.split("+", 1)[0]
    return f"{local}@{domain}"


# Words shops and shoppers spell in more than one way, reduced to one spelling before hashing.
_ADDRESS_WORDS = {
    "street": "st",
    "str": "st",
    "strasse": "st",
    "road": "rd",
    "avenue": "ave",
    "av": "ave",
    "boulevard": "blvd",
    "drive": "dr",
    "lane": "ln",
    "place": "pl",
    "square": "sq",
    "court": "ct",
    "apartment": "apt",
    "flat": "apt",
    "suite": "ste",
    "number": "no",
}


def address_normalised(address) -> str:
    """One spelling of a postal address, from a string or a dict of its parts (line1, line2, city,
    postal_code, country, ...; the name is left out): accents, case, punctuation and common abbreviations
    do not matter."""
    if isinstance(address, dict):
        parts = [str(v) for k, v in sorted(address.items()) if v and k not in {"name", "first_name", "last_name"}]
        text = " ".join(parts)
    else:
        text = str(address or "")
    text = unicodedata.normalize("NFKD", text.replace("ß", "ss")).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", text)
    return " ".join(sorted(_ADDRESS_WORDS.get(word, word) for word in words))


def keyed_hash(kind: str, value: str) -> str:
    """A keyed SHA-256 (the deployment's secret) of `value`: comparable, not reversible, "" for nothing."""
    if not value:
        return ""
    return salted_hmac(f"referrals.{kind}", value, algorithm="sha256").hexdigest()


ACCEPT, FLAG, REJECT = "accept", "flag", "reject"

# The checks that always reject, whatever the rules say.
ALWAYS_REJECT = {
    "same_member": "The friend is the referrer.",
    "same_email": "The friend's e-mail is the referrer's (after canonicalisation).",
    "already_member": "The friend was already a member.",
    "already_customer": "The friend had already ordered from the shop.",
    "already_referred": "The friend was already referred.",
}

# The checks whose action (flag, reject, ignore) the program's rules choose: fact name -> rule field.
CONFIGURABLE = {
    "same_device": "The friend signed up on a device the referrer used.",
    "same_ip": "The friend signed up from the referrer's IP address.",
    "same_address": "The friend's order ships to an address the referrer's orders shipped to.",
    "same_payment": "The friend's order was paid with a payment method the referrer used.",
}


@dataclass(frozen=True)
class Decision:
    outcome: str  # ACCEPT, FLAG or REJECT
    reasons: list[dict] = field(default_factory=list)  # {"code", "action", "message"} for each check that fired

    @property
    def first_reason(self) -> dict | None:
        """The reason that decided the outcome (the first reject, else the first flag)."""
        for action in (REJECT, FLAG):
            for reason in self.reasons:
                if reason["action"] == action:
                    return reason
        return None


def decide(facts: dict, rules) -> Decision:
    """The decision on a referral from its `facts` under `rules` (a ReferralProgram, saved or not)."""
    reasons = []
    for code, message in ALWAYS_REJECT.items():
        if facts.get(code):
            reasons.append({"code": code, "action": REJECT, "message": message})
    for code, message in CONFIGURABLE.items():
        action = getattr(rules, code)
        if facts.get(code) and action != "ignore":
            reasons.append({"code": code, "action": action, "message": message})
    day, week = facts.get("referrer_day", 0), facts.get("referrer_week", 0)
    if rules.max_per_day and day > rules.max_per_day:
        reasons.append(
            {
                "code": "velocity_day",
                "action": FLAG,
                "message": f"The referrer brought {day} sign-ups in a day (the limit is {rules.max_per_day}).",
            }
        )
    if rules.max_per_week and week > rules.max_per_week:
        reasons.append(
            {
                "code": "velocity_week",
                "action": FLAG,
                "message": f"The referrer brought {week} sign-ups in 7 days (the limit is {rules.max_per_week}).",
            }
        )
    rewarded = facts.get("referrer_rewarded", 0)
    if facts.get("qualifying") and rules.max_rewarded and rewarded >= rules.max_rewarded:
        reasons.append(
            {
                "code": "cap_reached",
                "action": REJECT,
                "message": f"The referrer has had {rewarded} referrals rewarded; the cap is {rules.max_rewarded}.",
            }
        )
    actions = {reason["action"] for reason in reasons}
    outcome = REJECT if REJECT in actions else FLAG if FLAG in actions else ACCEPT
    return Decision(outcome=outcome, reasons=reasons)
