"""Channels and deliveries, read-only. A channel is connected, changed and tested only through the channel forms
and services, which check who owns it, ask for the secrets again when its endpoint moves and keep only the
settings a form offers; the admin's generic form could do none of that (it could hand the stored token to any
server), so here people only look."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from channels.models import Channel, Delivery


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Channel)
class ChannelAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "owner", "enabled", "dry_run", "has_credentials", "problem"]
    list_filter = ["kind", "enabled", "dry_run"]
    fields = readonly_fields = (
        "kind", "name", "owner", "enabled", "dry_run", "config", "has_credentials", "problem", "problem_at",
    )  # fmt: skip

    @admin.display(boolean=True, description="credentials")
    def has_credentials(self, obj: Channel) -> bool:
        return bool(obj.encrypted_credentials)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["update", "channel", "state", "attempts", "last_error", "updated_at"]
    list_filter = ["state", "channel__kind"]
    list_select_related = ["update__incident", "channel"]
    readonly_fields = [f.name for f in Delivery._meta.fields]
