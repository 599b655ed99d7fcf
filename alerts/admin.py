"""Alert sources (staff configure them here), the alerts incidents track, and every webhook received.

A source's token or signing secret is shown once, in the response that made it (never through the session or a
message, which are stored), with the webhook URL and the configuration to paste into Alertmanager or Grafana.
"""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from alerts import services
from alerts.models import Alert, AlertReceipt, AlertSource
from incidents.documents import absolute
from incidents.models import Component, Incident

SEVERITIES = {s.value for s in Incident.Severity}


def webhook_url(source: AlertSource) -> str:
    return absolute(reverse("alerts:receive", args=[source.slug]))


class AlertSourceForm(forms.ModelForm):
    slack_webhook_url = forms.URLField(
        required=False,
        assume_scheme="https",
        label="Slack incoming webhook",
        widget=forms.URLInput(attrs={"autocomplete": "off", "size": 60}),
        help_text="https://hooks.slack.com/services/… (Slack → your app → Incoming Webhooks). Told when an alert "
        "opens an incident. Stored encrypted and never shown again; leave blank to keep the current one.",
    )
    clear_slack_webhook = forms.BooleanField(required=False, label="Remove the Slack webhook")

    class Meta:
        model = AlertSource
        fields = [
            "kind", "name", "slug", "enabled", "component_labels", "component_map", "severity_label",
            "severity_map", "default_severity", "notify_email",
        ]  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and "kind" in self.fields:  # absent from a view-only form (communicators)
            # The secret's form depends on the kind (token or signing secret): make a new source instead.
            self.fields["kind"].disabled = True

    def clean_component_labels(self) -> list[str]:
        value = self.cleaned_data.get("component_labels") or []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise forms.ValidationError('Give a list of label names, e.g. ["component", "service"].')
        return [v.strip() for v in value]

    def clean_component_map(self) -> dict[str, str]:
        value = self.cleaned_data.get("component_map") or {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise forms.ValidationError(
                'Give an object of label value → component name, e.g. {"pay": "Payments"}.'
            )
        known = {name.lower() for name in Component.objects.values_list("name", flat=True)}
        unknown = sorted(v for v in value.values() if v.strip().lower() not in known)
        if unknown:
            raise forms.ValidationError(f"No component is named {', '.join(unknown)}.")
        return value

    def clean_severity_map(self) -> dict[str, str]:
        value = self.cleaned_data.get("severity_map") or {}
        if not isinstance(value, dict):
            raise forms.ValidationError('Give an object of label value → severity, e.g. {"p1": "sev1"}.')
        cleaned = {str(k): str(v).strip().lower() for k, v in value.items()}
        wrong = sorted(k for k, v in cleaned.items() if v not in SEVERITIES)
        if wrong:
            raise forms.ValidationError(f"Severities are sev1 to sev4; check {', '.join(wrong)}.")
        return cleaned

    def clean_slack_webhook_url(self) -> str:
        url = self.cleaned_data.get("slack_webhook_url", "").strip()
        if url and not url.startswith("https://"):
            raise forms.ValidationError("The webhook must be an https:// address.")
        return url


def setup_html(source: AlertSource, secret: str = "") -> SafeString:
    context = {"source": source, "url": webhook_url(source), "secret": secret}
    return mark_safe(render_to_string("alerts/admin/_setup.html", context))  # noqa: S308 (a template: escaped)


@admin.register(AlertSource)
class AlertSourceAdmin(admin.ModelAdmin):
    form = AlertSourceForm
    change_form_template = "alerts/admin/change_form.html"
    list_display = ["name", "kind", "webhook", "enabled", "has_slack", "last_received_at"]
    list_filter = ["kind", "enabled"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["webhook", "secret_hint", "last_received_at", "setup"]
    fieldsets = [
        (None, {"fields": ["kind", "name", "slug", "enabled", "webhook", "secret_hint", "last_received_at"]}),
        (
            "From labels to components and severity",
            {
                "fields": [
                    "component_labels",
                    "component_map",
                    "severity_label",
                    "severity_map",
                    "default_severity",
                ]
            },
        ),
        ("Telling the team", {"fields": ["notify_email", "slack_webhook_url", "clear_slack_webhook"]}),
        ("Connecting the sender", {"fields": ["setup"]}),
    ]

    @admin.display(description="webhook URL")
    def webhook(self, obj: AlertSource) -> str:
        return webhook_url(obj) if obj.pk else "Shown once the source is saved."

    @admin.display(boolean=True, description="Slack")
    def has_slack(self, obj: AlertSource) -> bool:
        return bool(obj.encrypted_credentials) and bool(
            services.source_credentials(obj).get("slack_webhook_url")
        )

    @admin.display(description="How to connect")
    def setup(self, obj: AlertSource) -> SafeString:
        if not obj.pk:
            return format_html("{}", "Save the source: its token and configuration are shown next.")
        return setup_html(obj)

    def save_model(self, request: HttpRequest, obj: AlertSource, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("clear_slack_webhook"):
            services.source_set_slack_webhook(source=obj, url="")
        elif form.cleaned_data.get("slack_webhook_url"):
            services.source_set_slack_webhook(source=obj, url=form.cleaned_data["slack_webhook_url"])
        if not change:
            obj._new_secret = services.source_issue_secret(  # type: ignore[attr-defined]
                source=obj,
                by=request.user,  # type: ignore[arg-type]
                request=request,
            )

    def response_add(
        self, request: HttpRequest, obj: AlertSource, post_url_continue: Any = None
    ) -> HttpResponse:
        secret = getattr(obj, "_new_secret", "")
        if not secret:
            return super().response_add(request, obj, post_url_continue)
        return self._secret_page(request, obj, secret, created=True)

    def get_urls(self) -> list[URLPattern]:
        rotate = self.admin_site.admin_view(require_POST(self.rotate_view))
        return [
            path("<int:pk>/secret/", rotate, name="alerts_alertsource_secret"),
            *super().get_urls(),
        ]

    def rotate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        source = get_object_or_404(AlertSource, pk=pk)
        if not self.has_change_permission(request, source):
            raise PermissionDenied
        secret = services.source_issue_secret(source=source, by=request.user, request=request)  # type: ignore[arg-type]
        messages.warning(request, "The previous secret no longer works: update the sender's configuration.")
        return self._secret_page(request, source, secret, created=False)

    def _secret_page(
        self, request: HttpRequest, source: AlertSource, secret: str, *, created: bool
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": f"{'New alert source' if created else 'New secret'}: {source.name}",
            "source": source,
            "secret": secret,
            "what": "signing secret" if source.uses_signature else "token",
            "setup": setup_html(source, secret),
            "change_url": reverse("admin:alerts_alertsource_change", args=[source.pk]),
            "opts": self.model._meta,
        }
        response = TemplateResponse(request, "alerts/admin/secret.html", context)
        response["Cache-Control"] = "no-store"  # the page carries the secret in clear
        return response


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "status",
        "severity",
        "component",
        "incident",
        "starts_at",
        "ends_at",
        "times_seen",
    ]
    list_filter = ["status", "severity", "source"]
    list_select_related = ["component", "incident", "source"]
    search_fields = ["name", "fingerprint", "incident__title"]
    date_hierarchy = "starts_at"


RECEIPT_FIELDS: Any = [
    "received_at",
    "source",
    "outcome",
    "summary",
    "error",
    "incident_link",
    "remote_addr",
    "payload",
]


@admin.register(AlertReceipt)
class AlertReceiptAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "source", "outcome", "summary", "incident_link"]
    list_filter = ["outcome", "source"]
    list_select_related = ["source", "incident"]
    date_hierarchy = "received_at"
    fields = RECEIPT_FIELDS
    readonly_fields = RECEIPT_FIELDS

    @admin.display(description="incident")
    def incident_link(self, obj: AlertReceipt) -> str:
        if obj.incident_id is None:
            return "—"
        url = reverse("admin:incidents_incident_change", args=[obj.incident_id])
        return format_html('<a href="{}">#{}</a>', url, obj.incident_id)

    @admin.display(description="body as received")
    def payload(self, obj: AlertReceipt) -> str:
        try:
            text = json.dumps(json.loads(obj.body), indent=2, ensure_ascii=False)
        except ValueError:
            text = obj.body
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", text)

    def get_queryset(self, request: HttpRequest) -> QuerySet[AlertReceipt]:
        return super().get_queryset(request).select_related("source", "incident")
