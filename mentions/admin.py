from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from mentions import inbound
from mentions.models import Mention, MentionSource, SavedReply, Spike


@admin.register(MentionSource)
class MentionSourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "enabled", "dry_run", "last_polled_at", "failures", "last_error"]
    list_filter = ["kind", "enabled"]
    readonly_fields = ["secret_hint", "last_polled_at", "next_poll_at", "failures", "last_error"]
    fields = ["kind", "name", "enabled", "dry_run", "channel", "config", "searches", "poll_seconds", "slug",
              *readonly_fields]  # fmt: skip
    actions = ["make_secret"]

    @admin.action(description="Make a new signing secret (inbound webhook sources)")
    def make_secret(self, request: HttpRequest, queryset: QuerySet[MentionSource]) -> None:
        for source in queryset.filter(kind__in=["webhook", "discourse"]):
            secret = inbound.new_secret(source)
            # Shown once, here: only its encrypted form is kept.
            self.message_user(
                request,
                f"{source}: POST to /hooks/mentions/{source.slug}/ signed with {secret}",
                messages.WARNING,
            )


@admin.register(Mention)
class MentionAdmin(admin.ModelAdmin):
    """Read here; worked in the inbox (/manage/mentions/)."""

    list_display = ["author_handle", "service", "priority", "sentiment", "state", "posted_at"]
    list_filter = ["service", "state"]
    search_fields = ["text", "author_handle", "author_name"]
    list_select_related = ["incident"]
    show_full_result_count = False  # no count over a million rows

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(SavedReply)
class SavedReplyAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "position"]
    list_editable = ["position"]


@admin.register(Spike)
class SpikeAdmin(admin.ModelAdmin):
    list_display = ["hour", "volume", "negative", "baseline", "words", "incident", "dismissed_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
