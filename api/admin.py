"""Administrators see everyone's tokens (never the tokens themselves) and can revoke any of them."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from api import services
from api.models import ApiToken

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
        count = sum(services.token_revoke(token=token, by=user, request=request) for token in queryset)
        self.message_user(request, f"{count} token(s) revoked: they stop working now.", messages.SUCCESS)
