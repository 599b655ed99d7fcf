from django.contrib import admin
from django.http import HttpRequest

from warroom.models import JargonTerm, Promise, Reminder, SeverityPolicy, SituationVersion, TimelineEntry


@admin.register(SeverityPolicy)
class SeverityPolicyAdmin(admin.ModelAdmin):
    list_display = ["severity", "tta_target_minutes", "cadence_minutes"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # one row per severity, made by the migration

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(JargonTerm)
class JargonTermAdmin(admin.ModelAdmin):
    list_display = ["term", "note"]
    search_fields = ["term", "note"]


class ReadOnly(admin.ModelAdmin):
    """Records of what happened: read, never edited."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(SituationVersion)
class SituationVersionAdmin(ReadOnly):
    list_display = ["incident", "version", "affected", "author", "created_at"]
    list_select_related = ["incident", "author"]


@admin.register(Promise)
class PromiseAdmin(ReadOnly):
    list_display = ["incident", "promised_at", "due_at", "kept_at", "closed_at"]
    list_select_related = ["incident"]


@admin.register(Reminder)
class ReminderAdmin(ReadOnly):
    list_display = ["incident", "kind", "due_at", "sent_at", "recipients", "last_error"]
    list_select_related = ["incident"]


@admin.register(TimelineEntry)
class TimelineEntryAdmin(ReadOnly):
    list_display = ["incident", "at", "kind", "text"]
    list_filter = ["kind"]
    list_select_related = ["incident"]
