"""The history of the loyalty configuration: who changed what, and when (docs/admin.md).

django-simple-history keeps a historical row for every save of the configuration models (CONFIG_MODELS);
the acting staff user comes from its middleware (or the admin), the reason from the optional "Reason for
this change" field the admin forms get here. Two ways to look at it:

- each model's "History" button (ConfigHistoryAdmin): every version of one object, with the changed fields'
  old and new values. It is read-only: reverting to an old version is switched off (edit the object instead,
  so its form's validation applies).
- "Configuration changes" (config_changes_view): the newest changes across all these models, filtered by
  model and by user, each linking to its object's history.
"""

import heapq
import itertools

from django import forms
from django.apps import apps
from django.contrib.auth import get_permission_codename, get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from simple_history import utils
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

# The models whose changes are kept, in the order the model filter lists them.
CONFIG_MODELS = (
    "rewards.Program",
    "rewards.EarningRule",
    "rewards.EventRule",
    "rewards.Tier",
    "rewards.Segment",
    "rewards.Campaign",
    "rewards.Reward",
    "rewards.Cause",
    "integrations.Shop",
    "referrals.ReferralProgram",
)
PAGE_SIZE = 50
MAX_PAGES = 20  # "recent" changes: 1,000 rows back; each object's own history page keeps everything
REASON_MAX_LENGTH = 100  # simple-history's history_change_reason column


class ConfigHistoryAdmin(SimpleHistoryAdmin):
    """A configuration model's admin with its history (read-only) and a reason field for each change."""

    object_history_template = "admin/config_history/object_history.html"
    history_list_per_page = PAGE_SIZE

    # --- the history pages: look, never revert --------------------------------------------------------

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied  # reverting would skip what the change form checks; edit the object instead
        return super().history_form_view(request, object_id, version_id, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        extra_context = {**(extra_context or {}), "config_changes_url": config_changes_url()}
        in_zone = getattr(self, "_in_program_time_zone", None)  # ProgramTimeZoneMixin's, when the admin has it
        if in_zone is None:
            return super().history_view(request, object_id, extra_context)
        return in_zone(super().history_view, request, object_id, extra_context)

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        """The library's, with many-to-many changes read in one query per field for the whole page."""
        records = list(historical_records)
        m2m = m2m_values(self.model, [r.history_id for r in records]) if records else {}
        for record, previous in itertools.pairwise(records):
            record.history_delta_changes = changes_between(self.model, record, previous, m2m)

    # --- the change form: an optional reason, kept with the change -------------------------------------

    def get_form(self, request, obj=None, change=False, **kwargs):
        if "form" not in kwargs:
            kwargs["form"] = _with_reason(self.form)
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        return [f for f in super().get_fields(request, obj) if f != "change_reason"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None and self.has_change_permission(request, obj):
            fieldsets.append((_("History"), {"fields": ("change_reason",)}))
        return fieldsets

    def save_form(self, request, form, change):
        obj = super().save_form(request, form, change)
        obj._history_user = request.user  # also for admins whose save_model does not call super()
        reason = (form.cleaned_data.get("change_reason") or "").strip()
        if reason:
            obj._change_reason = reason
        return obj


def _with_reason(form_class):
    """`form_class` with the optional "Reason for this change" field (empty at first, like the others)."""

    def __init__(self, *args, **kwargs):
        form_class.__init__(self, *args, **kwargs)
        self.initial.setdefault("change_reason", "")

    reason = forms.CharField(
        label=_("Reason for this change"),
        required=False,
        max_length=REASON_MAX_LENGTH,
        help_text=_("Optional; kept in the history with your name and the values changed."),
    )
    return type(form_class.__name__, (form_class,), {"change_reason": reason, "__init__": __init__})


# --- "Configuration changes": the newest changes across the models ---------------------------------


def config_models() -> list:
    return [apps.get_model(label) for label in CONFIG_MODELS]


def _can_view(user, model) -> bool:
    opts = model._meta
    return any(
        user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}") for action in ("view", "change")
    )


def config_changes_url() -> str:
    try:
        return reverse("admin:config_changes")
    except NoReverseMatch:
        return ""


def config_changes_urls(admin_site) -> list:
    """The page's URL, for a ModelAdmin's get_urls (rewards.admin.ProgramAdmin adds it)."""

    def view(request):
        return config_changes_view(request, admin_site=admin_site)

    return [path("changes/", admin_site.admin_view(view), name="config_changes")]


def _latest(model, *, user: str, limit: int):
    """The model's newest `limit` historical rows (optionally one user's), each with its previous version's id."""
    history = model.history
    previous = history.filter(id=OuterRef("id"), history_id__lt=OuterRef("history_id")).order_by("-history_id")
    rows = history.all()
    if user == "none":
        rows = rows.filter(history_user__isnull=True)
    elif user.isdigit():
        rows = rows.filter(history_user_id=int(user))
    rows = (
        rows.select_related("history_user")
        ._select_related_history_tracked_objs()
        .annotate(previous_history_id=Subquery(previous.values("history_id")[:1]))
        .order_by("-history_date", "-history_id")
    )
    return list(rows[:limit])


def m2m_values(model, history_ids) -> dict:
    """{history_id: {field name: sorted names}} of `model`'s many-to-many fields in those versions: per field
    one query for the historical links and one for the linked objects' names (instead of two per version)."""
    values: dict = {history_id: {} for history_id in history_ids}
    history_model = model.history.model
    for field in history_model._history_m2m_fields:
        links = getattr(history_model, field.name).model  # the historical links of this field
        target = utils.get_m2m_reverse_field_name(field)
        pairs = list(links.objects.filter(history_id__in=values).values_list("history_id", f"{target}_id"))
        names = field.related_model._base_manager.in_bulk({pk for _, pk in pairs})
        for history_id in values:
            values[history_id][field.name] = []
        for history_id, pk in pairs:
            values[history_id][field.name].append(str(names.get(pk, pk)))
        for history_id in values:
            values[history_id][field.name].sort()
    return values


def changes_between(model, record, previous, m2m: dict) -> list[dict]:
    """The fields `record` changed against `previous` (its version before), old and new values formatted for
    a page; `m2m` is m2m_values() of both versions."""
    names = [field.name for field in record._history_m2m_fields]
    delta = record.diff_against(previous, excluded_fields=names, foreign_keys_are_objs=True)
    changes = HistoricalRecordContextHelper(model, record).context_for_delta_changes(delta)
    for name in names:
        old, new = m2m[previous.history_id][name], m2m[record.history_id][name]
        if old != new:
            label = capfirst(model._meta.get_field(name).verbose_name)
            changes.append({"field": label, "old": ", ".join(old) or "–", "new": ", ".join(new) or "–"})
    return changes


def config_changes_view(request, *, admin_site):
    """Newest first; `?model=app_label.model_name`, `?user=<id>` (or `none`: changes made outside the admin),
    `?page=`. A fixed number of queries whatever the page holds: per model one for its rows and one for the
    previous versions they are compared with; for campaigns and rewards two per many-to-many field."""
    allowed = [model for model in config_models() if _can_view(request.user, model)]
    if not allowed:
        raise PermissionDenied
    labels = {model._meta.label_lower: model for model in allowed}
    chosen_model = request.GET.get("model", "")
    models = [labels[chosen_model]] if chosen_model in labels else allowed
    chosen_user = request.GET.get("user", "")
    try:
        page = min(max(int(request.GET.get("page", "1")), 1), MAX_PAGES)
    except ValueError:
        page = 1

    # Each model's newest page * PAGE_SIZE rows, merged newest first; this page's slice of them.
    limit = page * PAGE_SIZE + 1
    streams = [[(model, record) for record in _latest(model, user=chosen_user, limit=limit)] for model in models]
    merged = heapq.merge(*streams, key=lambda row: (row[1].history_date, row[1].history_id), reverse=True)
    window = list(itertools.islice(merged, (page - 1) * PAGE_SIZE, page * PAGE_SIZE + 1))
    has_next = len(window) > PAGE_SIZE and page < MAX_PAGES
    window = window[:PAGE_SIZE]

    previous_ids: dict = {}
    for model, record in window:
        if record.previous_history_id:
            previous_ids.setdefault(model, []).append(record.previous_history_id)
    previous = {}
    for model, ids in previous_ids.items():
        for record in model.history.filter(history_id__in=ids)._select_related_history_tracked_objs():
            previous[(model, record.history_id)] = record

    m2m = {}
    for model in {m for m, _record in window}:
        ids = [r.history_id for m, r in window if m is model] + [i for m, i in previous if m is model]
        m2m[model] = m2m_values(model, ids)

    rows = []
    for model, record in window:
        before = previous.get((model, record.previous_history_id))
        opts = model._meta
        rows.append(
            {
                "when": record.history_date,
                "model": opts.verbose_name,
                "object": record.history_object,
                "history_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[record.id]),
                "action": record.get_history_type_display(),
                "user": record.history_user,
                "reason": record.history_change_reason or "",
                "changes": changes_between(model, record, before, m2m[model]) if before else [],
            }
        )

    staff = get_user_model().objects.filter(is_staff=True).order_by("email")
    context = {
        **admin_site.each_context(request),
        "title": _("Configuration changes"),
        "rows": rows,
        "model_choices": [(label, model._meta.verbose_name_plural) for label, model in labels.items()],
        "user_choices": [(str(user.pk), user.email) for user in staff],
        "chosen_model": chosen_model,
        "chosen_user": chosen_user,
        "page": page,
        "previous_page": page - 1 if page > 1 else None,
        "next_page": page + 1 if has_next else None,
    }
    return TemplateResponse(request, "admin/config_history/changes.html", context)
