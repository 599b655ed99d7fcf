"""Inbound alerts: where they come from, which alert an incident tracks, and every webhook we received.

An alert never publishes: it opens (or adds to) a draft, internal incident for the team, and a human speaks.
Secrets follow the house rule: a bearer token is kept as its SHA-256 only; the generic format's signing secret
and the Slack incoming-webhook URL, which must be usable again, are encrypted (``encrypted_credentials``).
"""

from django.db import models

from incidents.models import Component, Incident
from statushub.lib.models import TimeStampedModel


def _default_component_labels() -> list[str]:
    return ["component", "service"]


class AlertSource(TimeStampedModel):
    class Kind(models.TextChoices):
        ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
        GRAFANA = "grafana", "Grafana"
        GENERIC = "generic", "Generic signed JSON"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(
        max_length=100, help_text="Shown in notes and notifications, e.g. “Prometheus (production)”."
    )
    slug = models.SlugField(
        max_length=50, unique=True, help_text="The webhook address ends with it: /hooks/alerts/<slug>/."
    )
    enabled = models.BooleanField(default=True, help_text="A disabled source's webhooks are refused (403).")
    token_hash = models.CharField(max_length=64, blank=True, editable=False)
    secret_hint = models.CharField(
        max_length=20, blank=True, editable=False, help_text="Enough of the secret to recognise it."
    )
    # {"signing_secret": "whsec_…" (generic), "slack_webhook_url": "https://hooks.slack.com/…"}
    encrypted_credentials = models.TextField(blank=True, editable=False)

    component_labels = models.JSONField(
        default=_default_component_labels,
        blank=True,
        help_text='Labels naming the component, tried in order, e.g. ["component", "service"].',
    )
    component_map = models.JSONField(
        default=dict,
        blank=True,
        help_text='Label value → component name, e.g. {"payments-api": "Payments"}. '
        "Without an entry, a component whose name equals the value (ignoring case) is used.",
    )
    severity_label = models.CharField(max_length=100, default="severity")
    severity_map = models.JSONField(
        default=dict,
        blank=True,
        help_text="Label value → sev1…sev4, added to the usual ones (critical → sev1, error → sev2, "
        'warning → sev3, info → sev4), e.g. {"p1": "sev1"}.',
    )
    default_severity = models.CharField(
        max_length=8,
        choices=Incident.Severity.choices,
        default=Incident.Severity.SEV3,
        help_text="When an alert has no severity label, or one not in the map.",
    )
    notify_email = models.BooleanField(
        default=True, help_text="E-mail publishers and communicators when an alert opens an incident."
    )
    last_received_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "alert source"

    def __str__(self) -> str:
        return self.name

    @property
    def uses_signature(self) -> bool:
        return self.kind == self.Kind.GENERIC


class Alert(models.Model):
    """One alert (by fingerprint) as tracked by one incident: repeats are counted here, not written again."""

    class Status(models.TextChoices):
        FIRING = "firing", "Firing"
        RESOLVED = "resolved", "Resolved"

    source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="alerts")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="alerts")
    fingerprint = models.CharField(max_length=128)
    # The group the alert arrived in (Alertmanager's groupKey); its SHA-256 finds the group's open incident.
    group_key = models.TextField(blank=True)
    group_hash = models.CharField(max_length=64, blank=True, db_index=True)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices)
    severity = models.CharField(max_length=8, choices=Incident.Severity.choices)
    labels = models.JSONField(default=dict)
    annotations = models.JSONField(default=dict)
    generator_url = models.TextField(blank=True)
    component = models.ForeignKey(
        Component, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    suggested_status = models.CharField(max_length=32, choices=Component.Status.choices, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    times_seen = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "fingerprint"], name="uniq_alert_per_incident"),
        ]
        indexes = [models.Index(fields=["source", "fingerprint"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display().lower()})"


class AlertReceipt(models.Model):
    """Every authenticated webhook, kept for a while with its body: what came in, and what we made of it."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected (bad payload)"
        DISABLED = "disabled", "Refused (source disabled)"

    source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="receipts")
    received_at = models.DateTimeField(db_index=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    summary = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    body = models.TextField(blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "alert receipt"

    def __str__(self) -> str:
        return f"{self.source} at {self.received_at:%Y-%m-%d %H:%M:%S} UTC: {self.get_outcome_display()}"
