"""The incident domain: components and their history, incidents, their people, updates and notes.

Models stay lean: fields, constraints and values derived from the row itself.
Anything that crosses relations or has side effects lives in ``services.py``.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from statushub.lib.markdown import render_markdown
from statushub.lib.models import TimeStampedModel


class ComponentGroup(TimeStampedModel):
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Component(TimeStampedModel):
    class Status(models.TextChoices):
        # Atlassian Statuspage's names, so the public JSON can match its v2 API.
        OPERATIONAL = "operational", "Operational"
        DEGRADED_PERFORMANCE = "degraded_performance", "Degraded performance"
        PARTIAL_OUTAGE = "partial_outage", "Partial outage"
        MAJOR_OUTAGE = "major_outage", "Major outage"
        UNDER_MAINTENANCE = "under_maintenance", "Under maintenance"

    group = models.ForeignKey(
        ComponentGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="components"
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.OPERATIONAL)
    showcase = models.BooleanField(default=True, help_text="Show the 90-day availability bar.")
    only_show_if_degraded = models.BooleanField(default=False)
    start_date = models.DateField(null=True, blank=True, help_text="Availability is counted from this day.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "name"]
        permissions = [("change_component_status", "Can change a component's status")]

    def __str__(self) -> str:
        return self.name


class ComponentStatusChange(models.Model):
    """One row per status change: the source of truth for availability history."""

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="status_changes")
    status = models.CharField(max_length=32, choices=Component.Status.choices)
    previous_status = models.CharField(max_length=32, choices=Component.Status.choices, blank=True)
    changed_at = models.DateTimeField()
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    incident = models.ForeignKey("Incident", null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["component", "changed_at"])]

    def __str__(self) -> str:
        before = self.get_previous_status_display() or "—"
        return f"{before} → {self.get_status_display()} at {self.changed_at:%Y-%m-%d %H:%M} UTC"


class ComponentDay(models.Model):
    """Availability of one component on one UTC day, precomputed so the page reads 90 rows, not the history."""

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="days")
    day = models.DateField()
    observed_seconds = models.PositiveIntegerField(default=0)
    degraded_seconds = models.PositiveIntegerField(default=0)
    partial_seconds = models.PositiveIntegerField(default=0)
    major_seconds = models.PositiveIntegerField(default=0)
    maintenance_seconds = models.PositiveIntegerField(default=0)
    worst_status = models.CharField(max_length=32, choices=Component.Status.choices, default="operational")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["component", "day"], name="uniq_component_day")]

    def __str__(self) -> str:
        return f"{self.component_id} on {self.day}: {self.worst_status}"

    @property
    def downtime_seconds(self) -> float:
        # Statuspage's convention: a major outage counts in full, a partial outage at 30%.
        return self.major_seconds + 0.3 * self.partial_seconds

    @property
    def uptime_ratio(self) -> float | None:
        if not self.observed_seconds:
            return None
        return max(0.0, 1 - self.downtime_seconds / self.observed_seconds)


class Incident(TimeStampedModel):
    class Kind(models.TextChoices):
        INCIDENT = "incident", "Incident"
        MAINTENANCE = "maintenance", "Scheduled maintenance"

    class Severity(models.TextChoices):
        SEV1 = "sev1", "SEV1 — critical: core service down or data at risk for many customers"
        SEV2 = "sev2", "SEV2 — major: a core function broken or badly degraded for many customers"
        SEV3 = "sev3", "SEV3 — minor: partial degradation with a workaround, or a non-core function down"
        SEV4 = "sev4", "SEV4 — low: limited or cosmetic issue, little customer impact"

    class Impact(models.TextChoices):
        NONE = "none", "None"
        MINOR = "minor", "Minor"
        MAJOR = "major", "Major"
        CRITICAL = "critical", "Critical"
        MAINTENANCE = "maintenance", "Maintenance"

    class Status(models.TextChoices):
        INVESTIGATING = "investigating", "Investigating"
        IDENTIFIED = "identified", "Identified"
        MONITORING = "monitoring", "Monitoring"
        RESOLVED = "resolved", "Resolved"
        POSTMORTEM = "postmortem", "Postmortem"
        SCHEDULED = "scheduled", "Scheduled"
        IN_PROGRESS = "in_progress", "In progress"
        VERIFYING = "verifying", "Verifying"
        COMPLETED = "completed", "Completed"

    INCIDENT_STATUSES = (
        Status.INVESTIGATING,
        Status.IDENTIFIED,
        Status.MONITORING,
        Status.RESOLVED,
        Status.POSTMORTEM,
    )
    MAINTENANCE_STATUSES = (Status.SCHEDULED, Status.IN_PROGRESS, Status.VERIFYING, Status.COMPLETED)
    CLOSED_STATUSES = (Status.RESOLVED, Status.POSTMORTEM, Status.COMPLETED)
    DEFAULT_IMPACT = {
        Severity.SEV1: Impact.CRITICAL,
        Severity.SEV2: Impact.MAJOR,
        Severity.SEV3: Impact.MINOR,
        Severity.SEV4: Impact.NONE,
    }

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.INCIDENT)
    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.SEV3)
    impact = models.CharField(
        max_length=16,
        choices=Impact.choices,
        blank=True,
        help_text="Public impact. Left blank, it follows the severity.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVESTIGATING)
    components: "models.ManyToManyField[Component, AffectedComponent]" = models.ManyToManyField(
        Component, through="AffectedComponent", related_name="incidents"
    )

    detected_at = models.DateTimeField(
        null=True, blank=True, help_text="When we first knew (alert or report)."
    )
    started_at = models.DateTimeField(null=True, blank=True, help_text="When customers were first affected.")
    acknowledged_at = models.DateTimeField(
        null=True, blank=True, help_text="First public acknowledgement; the incident is public from then on."
    )
    monitoring_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    scheduled_until = models.DateTimeField(null=True, blank=True)
    postmortem_url = models.URLField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-started_at", "-id"]
        permissions = [("edit_incident_details", "Can edit an incident's details, status and people")]
        indexes = [
            models.Index(fields=["kind", "status"]),
            models.Index(fields=["acknowledged_at"]),
            # The public reads must not scan the history (bench/scaling.py): the latest resolution and the
            # last week's, the few open incidents.
            models.Index(fields=["resolved_at"]),
            models.Index(
                fields=["kind", "acknowledged_at"],
                condition=~Q(status__in=["resolved", "postmortem", "completed"]),
                name="incident_open_idx",
            ),
        ]
        # Also maintenance_schedule_idx (scheduled_for DESC NULLS LAST, maintenance only), made by migration 0003
        # on PostgreSQL only: SQLite cannot put NULLS LAST in an index.
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="maintenance")
                | Q(status__in=["investigating", "identified", "monitoring", "resolved", "postmortem"]),
                name="incident_status_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind="incident")
                | Q(status__in=["scheduled", "in_progress", "verifying", "completed"]),
                name="maintenance_status_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: object, **kwargs: object) -> None:
        if not self.impact:
            self.impact = (
                self.Impact.MAINTENANCE
                if self.is_maintenance
                else self.DEFAULT_IMPACT[self.Severity(self.severity)]
            )
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def is_maintenance(self) -> bool:
        return self.kind == self.Kind.MAINTENANCE

    @property
    def is_public(self) -> bool:
        return self.acknowledged_at is not None

    @property
    def is_closed(self) -> bool:
        return self.status in self.CLOSED_STATUSES

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        if self.acknowledged_at and self.detected_at:
            return self.acknowledged_at - self.detected_at
        return None

    @property
    def duration(self) -> timedelta | None:
        start = self.started_at or self.scheduled_for
        if start and self.resolved_at:
            return self.resolved_at - start
        return None


class AffectedComponent(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="affected")
    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=32, choices=Component.Status.choices)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "component"], name="uniq_affected_component"),
        ]

    def __str__(self) -> str:
        return f"{self.component} ({self.get_status_display()})"


class IncidentRole(models.Model):
    """An incident's people. One voice: a single commander, primary communicator, liaison and spokesperson."""

    class Role(models.TextChoices):
        COMMANDER = "commander", "Commander"
        PRIMARY_COMMUNICATOR = "primary_communicator", "Primary communicator"
        SECONDARY_COMMUNICATOR = "secondary_communicator", "Secondary communicator / listener"
        TECH_LIAISON = "tech_liaison", "Tech liaison"
        EXECUTIVE_SPOKESPERSON = "executive_spokesperson", "Executive spokesperson"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="roles")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="incident_roles"
    )
    role = models.CharField(max_length=32, choices=Role.choices)

    history = HistoricalRecords()

    class Meta:
        ordering = ["role"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "user", "role"], name="uniq_incident_user_role"),
            models.UniqueConstraint(
                fields=["incident", "role"],
                condition=~Q(role="secondary_communicator"),
                name="one_holder_per_singular_role",
                violation_error_message="This incident already has someone in that role.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.user}"


def new_public_id() -> str:
    """Opaque like Statuspage's ids, and known before the row exists so an offline signer can sign it."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


class IncidentUpdate(TimeStampedModel):
    """A public update: once published it is never edited in place (corrections are new updates)."""

    public_id = models.CharField(max_length=12, unique=True, default=new_public_id, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    status = models.CharField(max_length=16, choices=Incident.Status.choices)
    body = models.TextField(help_text="Markdown.")
    body_html = models.TextField(editable=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    author_name = models.CharField(max_length=150)
    author_title = models.CharField(max_length=150, blank=True)
    published_at = models.DateTimeField(db_index=True)
    # [{code, name, old_status, new_status}] as in Statuspage's incident_updates.
    affected_components = models.JSONField(default=list, blank=True)
    next_update_at = models.DateTimeField(
        null=True, blank=True, help_text="The next update promised to readers."
    )
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections"
    )

    # The signature: see docs/signing-wire-format.md. ``statement`` holds the exact signed bytes.
    seq = models.PositiveIntegerField(null=True, blank=True, unique=True)
    signing_key = models.ForeignKey(
        "incidents.SigningKey", null=True, blank=True, on_delete=models.PROTECT, related_name="updates"
    )
    statement = models.BinaryField(editable=False, default=b"")
    statement_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    signature = models.CharField(max_length=100, blank=True, editable=False)
    prev_sha256 = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-published_at", "-id"]
        permissions = [("publish_update", "Can publish public updates")]

    def __str__(self) -> str:
        return f"{self.get_status_display()} update on {self.incident}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.body_html = render_markdown(self.body)
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def author_line(self) -> str:
        return f"{self.author_name}, {self.author_title}" if self.author_title else self.author_name

    @property
    def is_signed(self) -> bool:
        return bool(self.signature)


class ProgressNote(TimeStampedModel):
    """An engineer's note. Internal unless marked public; public notes join the public timeline."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    text_html = models.TextField(editable=False, blank=True)
    is_public = models.BooleanField(
        default=False, help_text="Show on the public timeline as an engineering note."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["incident", "is_public", "created_at"])]

    def __str__(self) -> str:
        return self.text[:60]

    def save(self, *args: object, **kwargs: object) -> None:
        self.text_html = render_markdown(self.text)
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def author_name(self) -> str:
        return self.author.get_full_name() or self.author.get_username()
