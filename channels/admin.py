import json
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from channels import services
from channels.models import Channel, Delivery


class ChannelForm(forms.ModelForm):
    new_credentials = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text='JSON, e.g. {"secret": "whsec_…"} for a webhook. Stored encrypted and never shown again; '
        "leave blank to keep the current credentials.",
    )

    class Meta:
        model = Channel
        fields = ["kind", "name", "owner", "enabled", "dry_run", "config"]

    def clean_new_credentials(self) -> dict[str, str] | None:
        raw = self.cleaned_data.get("new_credentials", "").strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg}") from exc
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise forms.ValidationError("Give an object of text values.")
        return value


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ["name", "kind", "owner", "enabled", "dry_run", "has_credentials", "problem"]
    list_filter = ["kind", "enabled", "dry_run"]
    readonly_fields = ["problem", "problem_at"]

    @admin.display(boolean=True, description="credentials")
    def has_credentials(self, obj: Channel) -> bool:
        return bool(obj.encrypted_credentials)

    def save_model(self, request: HttpRequest, obj: Channel, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        credentials = form.cleaned_data.get("new_credentials")
        if credentials is not None:
            services.channel_set_credentials(channel=obj, credentials=credentials)
            obj.problem = ""
            obj.save(update_fields=["problem"])


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["update", "channel", "state", "attempts", "last_error", "updated_at"]
    list_filter = ["state", "channel__kind"]
    list_select_related = ["update__incident", "channel"]
    readonly_fields = [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
