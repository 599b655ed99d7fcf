"""The engineers' admin: quick notes during an outage, status actions, and the whole timeline on one page."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import SafeString
from simple_history.admin import SimpleHistoryAdmin

from incidents import drafts, services, signing
from incidents.models import (
    AffectedComponent,
    Component,
    ComponentGroup,
    ComponentStatusChange,
    Incident,
    IncidentRole,
    IncidentUpdate,
    ProgressNote,
    SigningKey,
)
from incidents.permissions import COMPOSE
from incidents.selectors import admin_timeline
from incidents.templatetags.status_tags import duration


class RecordOnlyHistoryAdmin(SimpleHistoryAdmin):
    """History can be read, never reverted: a revert saves an old row directly, bypassing services and roles."""

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponse:
        if request.method != "GET":
            raise PermissionDenied("History is a record; make changes on the object itself.")
        return super().history_form_view(request, object_id, version_id, extra_context)


def _can_edit_details(request: HttpRequest) -> bool:
    return request.user.has_perm("incidents.edit_incident_details")


@admin.register(ComponentGroup)
class ComponentGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "position"]
    list_editable = ["position"]


class StatusChangeInline(admin.TabularInline):
    model = ComponentStatusChange
    fields = ["changed_at", "previous_status", "status", "incident", "changed_by"]
    readonly_fields = ["changed_at", "previous_status", "status", "incident", "changed_by"]
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-changed_at"]
    verbose_name_plural = "Status history"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ComponentStatusChange]:
        return super().get_queryset(request).select_related("incident", "changed_by")


@admin.register(Component)
class ComponentAdmin(RecordOnlyHistoryAdmin):
    list_display = ["name", "group", "status", "position", "showcase"]
    list_filter = ["status", "group"]
    list_select_related = ["group"]
    search_fields = ["name", "description"]
    inlines = [StatusChangeInline]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) or request.user.has_perm(
            "incidents.change_component_status"
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if request.user.has_perm("incidents.change_component"):
            return []
        # Engineers may move the status, nothing else.
        return [f.name for f in Component._meta.fields if f.name not in ("status", "id")]

    def save_model(self, request: HttpRequest, obj: Component, form: ModelForm, change: bool) -> None:
        new_status = obj.status
        if change and "status" in form.changed_data:
            obj.status = form.initial["status"]
        super().save_model(request, obj, form, change)
        if change and new_status != obj.status:
            services.component_change_status(component=obj, status=new_status, by=request.user)  # type: ignore[arg-type]
        elif not change:
            ComponentStatusChange.objects.create(
                component=obj,
                status=obj.status,
                changed_at=obj.created_at,
                changed_by=request.user,  # type: ignore[misc]
            )


class ActiveFilter(admin.SimpleListFilter):
    title = "activity"
    parameter_name = "active"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Open"), ("no", "Closed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Incident]) -> QuerySet[Incident]:
        if self.value() == "yes":
            return queryset.exclude(status__in=Incident.CLOSED_STATUSES)
        if self.value() == "no":
            return queryset.filter(status__in=Incident.CLOSED_STATUSES)
        return queryset


class AffectedComponentInline(admin.TabularInline):
    model = AffectedComponent
    extra = 0
    verbose_name_plural = "Affected components (setting a status here changes the component's status)"


class RoleFormSet(BaseInlineFormSet):
    """The primary communicator may publish an incident's first acknowledgement, so only its commander or a
    publisher names one (nobody gives themselves that)."""

    request_user: Any = None

    def clean(self) -> None:
        super().clean()
        user = self.request_user
        if user is None or user.has_perm("incidents.publish_update"):
            return
        commanders = {
            form.instance.user_id
            for form in self.initial_forms
            if form.instance.role == IncidentRole.Role.COMMANDER
        }
        for form in self.forms:
            if (
                not form.has_changed()
                or not getattr(form, "cleaned_data", None)
                or form.cleaned_data.get("DELETE")
            ):
                continue
            if (
                form.cleaned_data.get("role") == IncidentRole.Role.PRIMARY_COMMUNICATOR
                and user.pk not in commanders
            ):
                raise ValidationError(
                    "Only the incident's commander or a publisher names the primary communicator."
                )


class RoleInline(admin.TabularInline):
    model = IncidentRole
    extra = 0
    formset = RoleFormSet
    verbose_name_plural = "People (one commander, one primary communicator: one voice)"

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        formset.request_user = request.user  # type: ignore[attr-defined]
        return formset


class NoteForm(ModelForm):
    """A saved note can be edited (text, public flag) by its author only; history keeps every version."""

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.author_id != getattr(user, "pk", None):
            for field in self.fields.values():
                field.disabled = True


class NoteFormSet(BaseInlineFormSet):
    def get_queryset(self) -> QuerySet[ProgressNote]:
        return super().get_queryset().select_related("author")


class ProgressNoteInline(admin.StackedInline):
    model = ProgressNote
    form = NoteForm
    formset = NoteFormSet
    extra = 1
    fields = ["text", "is_public", "author_display", "created_at"]
    readonly_fields = ["author_display", "created_at"]
    ordering = ["-created_at"]
    verbose_name = "progress note"
    verbose_name_plural = "Progress notes (internal unless marked public)"

    @admin.display(description="Author")
    def author_display(self, obj: ProgressNote) -> str:
        return obj.author_name if obj.pk else "you"


class UpdateInline(admin.StackedInline):
    """Published updates, read-only: they are composed, signed and published at /manage/."""

    model = IncidentUpdate
    extra = 0
    fields = ["status", "body", "author_title", "author_name", "published_at"]
    readonly_fields = ["author_name", "published_at"]
    ordering = ["-published_at"]
    verbose_name = "public update"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Publishing happens on the compose screen (preview, re-authentication, signing), never here.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Incident)
class IncidentAdmin(RecordOnlyHistoryAdmin):
    list_display = ["title", "severity_short", "impact", "status", "started_at", "tta", "is_public"]
    list_filter = [ActiveFilter, "status", "severity", "kind", "impact"]
    search_fields = ["title", "notes__text", "updates__body", "affected__component__name"]
    date_hierarchy = "started_at"
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ["mark_identified", "mark_monitoring", "mark_resolved", "mark_in_progress", "mark_completed"]
    inlines = [ProgressNoteInline, AffectedComponentInline, RoleInline, UpdateInline]
    computed = [
        "acknowledged_at",
        "monitoring_at",
        "resolved_at",
        "tta",
        "created_at",
        "updated_at",
        "timeline",
    ]
    fieldsets: Any = [
        (None, {"fields": ["title", "kind", "status", "severity", "impact"]}),
        (
            "When",
            {"fields": ["detected_at", "started_at", "scheduled_for", "scheduled_until", "postmortem_url"]},
        ),
        ("Computed", {"fields": computed}),
    ]

    @admin.display(description="severity")
    def severity_short(self, obj: Incident) -> str:
        return obj.severity.upper()

    @admin.display(description="time to acknowledge")
    def tta(self, obj: Incident) -> str:
        return duration(obj.time_to_acknowledge) or "—"

    @admin.display(boolean=True, description="public")
    def is_public(self, obj: Incident) -> bool:
        return obj.is_public

    @admin.display(description="Timeline (all notes, updates and component changes, newest first)")
    def timeline(self, obj: Incident) -> SafeString:
        if not obj.pk:
            return format_html("<p>{}</p>", "The timeline starts when the incident is saved.")
        return render_to_string("admin/incidents/incident/_timeline.html", {"entries": admin_timeline(obj)})

    def get_formset_kwargs(self, request: HttpRequest, obj: Any, inline: Any, prefix: str) -> dict[str, Any]:
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, ProgressNoteInline):
            kwargs["form_kwargs"] = {"user": request.user}
        return kwargs

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if _can_edit_details(request):
            # A public incident's status moves with a published update (the Mark … actions open its compose
            # screen), never silently from here.
            return [*self.computed, "status"] if obj is not None and obj.is_public else list(self.computed)
        return [f for fs in self.fieldsets for f in fs[1]["fields"]]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Incident]:
        return super().get_queryset(request)

    def save_model(self, request: HttpRequest, obj: Incident, form: ModelForm, change: bool) -> None:
        new_status = obj.status
        if change and "status" in form.changed_data:
            obj.status = form.initial["status"]
        super().save_model(request, obj, form, change)
        if change and new_status != obj.status:
            services.incident_set_status(incident=obj, status=new_status, by=request.user)  # type: ignore[arg-type]

    def save_formset(self, request: HttpRequest, form: ModelForm, formset: Any, change: bool) -> None:
        user: Any = request.user
        incident: Incident = form.instance
        instances = formset.save(commit=False)
        for instance in instances:
            if isinstance(instance, ProgressNote) and instance.pk is None:
                instance.author = user
            if isinstance(instance, AffectedComponent):
                services.incident_set_component_status(
                    incident=incident, component=instance.component, status=instance.status, by=user
                )
                continue
            instance.save()
        for deleted in formset.deleted_objects:
            deleted.delete()
        formset.save_m2m()

    def _set_status(
        self, request: HttpRequest, queryset: QuerySet[Incident], status: str
    ) -> HttpResponse | None:
        """Internal incidents change at once; a public one changes only by a published update, composed next."""
        public = [incident for incident in queryset if incident.is_public]
        internal = [incident for incident in queryset if not incident.is_public]
        if internal:
            self._set_internal_status(request, internal, status)
        if not public:
            return None
        if len(public) > 1:
            self.message_user(
                request,
                f"{len(public)} public incidents not changed: customers hear of a status change through a "
                "published update. Choose them one at a time to compose each update.",
                messages.WARNING,
            )
            return None
        if not request.user.has_perm(COMPOSE):
            self.message_user(
                request, "Only communicators can change a public incident's status.", messages.ERROR
            )
            return None
        try:
            draft = drafts.draft_propose_status(incident=public[0], user=request.user, status=status)  # type: ignore[arg-type]
        except ValueError:
            self.message_user(request, "That status does not apply to it.", messages.WARNING)
            return None
        label = Incident.Status(status).label.lower()
        self.message_user(
            request,
            f"“{public[0]}” is public: it becomes {label} when this update is published, so customers hear it.",
            messages.INFO,
        )
        return redirect("manage:draft", pk=draft.pk)

    def _set_internal_status(self, request: HttpRequest, incidents: list[Incident], status: str) -> None:
        done, skipped = 0, 0
        for incident in incidents:
            try:
                services.incident_set_status(incident=incident, status=status, by=request.user)  # type: ignore[arg-type]
                done += 1
            except ValueError:
                skipped += 1
        label = Incident.Status(status).label
        self.message_user(request, f"{done} marked {label.lower()}.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} skipped: that status does not apply to them.", messages.WARNING
            )

    @admin.action(description="Mark identified", permissions=["edit_details"])
    def mark_identified(self, request: HttpRequest, queryset: QuerySet[Incident]) -> HttpResponse | None:
        return self._set_status(request, queryset, Incident.Status.IDENTIFIED)

    @admin.action(description="Mark monitoring", permissions=["edit_details"])
    def mark_monitoring(self, request: HttpRequest, queryset: QuerySet[Incident]) -> HttpResponse | None:
        return self._set_status(request, queryset, Incident.Status.MONITORING)

    @admin.action(description="Mark resolved", permissions=["edit_details"])
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[Incident]) -> HttpResponse | None:
        return self._set_status(request, queryset, Incident.Status.RESOLVED)

    @admin.action(description="Maintenance: mark in progress", permissions=["edit_details"])
    def mark_in_progress(self, request: HttpRequest, queryset: QuerySet[Incident]) -> HttpResponse | None:
        return self._set_status(request, queryset, Incident.Status.IN_PROGRESS)

    @admin.action(description="Maintenance: mark completed", permissions=["edit_details"])
    def mark_completed(self, request: HttpRequest, queryset: QuerySet[Incident]) -> HttpResponse | None:
        return self._set_status(request, queryset, Incident.Status.COMPLETED)

    def has_edit_details_permission(self, request: HttpRequest) -> bool:
        return _can_edit_details(request)


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    """Keys are made and rotated by their owners on the Keys page; admins can see them all and revoke any."""

    list_display = ["fingerprint", "owner_name", "owner_title", "created_at", "revoked_at", "is_offline"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["kid", "owner_name"]
    fields = ["kid", "owner", "owner_name", "owner_title", "created_at", "revoked_at", "revoked_reason"]
    readonly_fields = [
        "kid",
        "owner",
        "owner_name",
        "owner_title",
        "created_at",
        "revoked_at",
        "revoked_reason",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a deleted key would make every update it signed unverifiable

    @admin.display(boolean=True, description="offline")
    def is_offline(self, obj: SigningKey) -> bool:
        return obj.is_offline

    @admin.action(description="Revoke selected keys now", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[SigningKey]) -> None:
        user: Any = request.user
        for key in queryset.filter(revoked_at__isnull=True):
            signing.key_revoke(key=key, by=user, reason="revoked by an administrator", request=request)
        self.message_user(request, "Revoked. Updates signed before now stay valid.", messages.SUCCESS)
