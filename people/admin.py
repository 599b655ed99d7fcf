from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from people import audit, tokens
from people.models import ApiToken, AuditEvent, Passkey, Profile, RecoveryCodes, TOTPDevice


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "display_name", "title"]
    search_fields = ["user__username", "display_name", "title"]


class ActionFilter(admin.SimpleListFilter):
    """By the actions the apps registered, named as they named them."""

    title = "action"
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return audit.choices()

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: an audit log that admins could edit would prove nothing."""

    list_display = ["at", "actor_name", "action_label", "target", "ip"]
    list_filter = [ActionFilter]
    search_fields = ["actor_name", "target"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SecondFactorAdmin(admin.ModelAdmin):
    """Administrators may only remove a device (someone lost their phone): they then set up a new one. No one
    sees or sets a key here."""

    list_display = ["user", "name", "confirmed", "throttling_failure_count"]
    fields = readonly_fields = ("user", "name", "confirmed", "throttling_failure_count")
    search_fields = ["user__username"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


admin.site.register(TOTPDevice, SecondFactorAdmin)
admin.site.register(RecoveryCodes, SecondFactorAdmin)


@admin.register(Passkey)
class PasskeyAdmin(SecondFactorAdmin):
    list_display = ["user", "name", "created_at", "last_used_at"]
    fields = readonly_fields = ("user", "name", "created_at", "last_used_at")


# Administrators see everyone's API tokens (never the tokens themselves) and can revoke any of them.
FIELDS = (
    "name", "display_prefix", "owner", "scopes", "created_at", "expires_at",
    "last_used_at", "last_used_ip", "revoked_at", "revoked_by",
)  # fmt: skip


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "display_prefix",
        "owner",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["owner"]
    search_fields = ["name", "key_id", "owner__username"]
    fields = FIELDS
    readonly_fields = FIELDS
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # people create their own, at /manage/tokens/, where the token is shown once

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoked rows stay: the audit log points at them

    @admin.display(description="token")
    def display_prefix(self, obj: ApiToken) -> str:
        return obj.display_prefix

    @admin.action(description="Revoke selected tokens now", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        user: Any = request.user
        count = sum(tokens.token_revoke(token=token, by=user, request=request) for token in queryset)
        self.message_user(request, f"{count} token(s) revoked: they stop working now.", messages.SUCCESS)
