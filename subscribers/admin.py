from django.contrib import admin

from subscribers.models import HookDelivery, HookSubscription, MailDelivery, Subscriber


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ["email", "state", "all_components", "confirmed_at", "disabled_reason"]
    list_filter = ["state", "all_components"]
    search_fields = ["email"]
    filter_horizontal = ["components"]
    readonly_fields = ["confirmed_at", "unsubscribed_at", "disabled_at", "disabled_reason"]


@admin.register(MailDelivery)
class MailDeliveryAdmin(admin.ModelAdmin):
    list_display = ["update", "subscriber", "state", "attempts", "last_error", "sent_at"]
    list_filter = ["state"]
    search_fields = ["subscriber__email"]
    list_select_related = ["update__incident", "subscriber"]
    readonly_fields = [field.name for field in MailDelivery._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(HookSubscription)
class HookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["target_display", "kind", "owner_email", "state", "consecutive_failures", "last_error"]
    list_filter = ["kind", "state"]
    search_fields = ["owner_email", "target_display"]
    filter_horizontal = ["components"]
    # The target (URL and secret) is encrypted and never shown; its owner manages it from the mailed link.
    exclude = ["encrypted_target"]
    readonly_fields = ["kind", "target_display", "confirmed_at", "cancelled_at", "disabled_at", "disabled_reason",
                       "last_error"]  # fmt: skip

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(HookDelivery)
class HookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["update", "subscription", "state", "attempts", "last_error", "delivered_at"]
    list_filter = ["state", "subscription__kind"]
    list_select_related = ["update__incident", "subscription"]
    readonly_fields = [field.name for field in HookDelivery._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False
