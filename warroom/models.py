"""The war room's records: per-severity targets, the situation (versioned), promises, reminders, suggestions and
the team's timeline. The incident, its updates and its roster belong to ``incidents``; this app watches them."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from incidents.models import Incident, IncidentUpdate
from statushub.lib.models import TimeStampedModel

DEFAULT_ACK_TEMPLATE = (
    "We are aware that {affected} {verb} affected. We are investigating and will update by {next_update}."
)

# severity: (TTA target, cadence of updates), in minutes
DEFAULTS = {
    Incident.Severity.SEV1: (5, 30),
    Incident.Severity.SEV2: (10, 60),
    Incident.Severity.SEV3: (30, 120),
    Incident.Severity.SEV4: (120, 240),
}


class SeverityPolicy(models.Model):
    """How fast each severity must be acknowledged, how often it is updated, and its first words."""

    severity = models.CharField(max_length=8, choices=Incident.Severity.choices, unique=True)
    tta_target_minutes = models.PositiveIntegerField(
        validators=[MinValueValidator(1)],
        help_text="Time to acknowledge: from detection to the first public update. Amber at half, red past it.",
    )
    cadence_minutes = models.PositiveIntegerField(
        validators=[MinValueValidator(1)],
        help_text="How often to update while the incident is open: the compose screen proposes the next promise.",
    )
    ack_template = models.TextField(
        default=DEFAULT_ACK_TEMPLATE,
        help_text="The one-click first acknowledgement. {affected}, {verb} (is/are), {next_update} (HH:MM UTC), "
        "{customers}, {workaround} are filled from the situation panel.",
    )

    class Meta:
        ordering = ["severity"]
        verbose_name_plural = "severity policies"

    def __str__(self) -> str:
        return self.severity.upper()

    def clean(self) -> None:
        sample = dict.fromkeys(["affected", "verb", "next_update", "customers", "workaround"], "x")
        try:
            self.ack_template.format(**sample)
        except (ValueError, IndexError, KeyError) as exc:
            raise ValidationError(
                {
                    "ack_template": f"Use only {{affected}}, {{verb}}, {{next_update}}, {{customers}}, {{workaround}} "
                    f"(and {{{{ }}}} for a literal brace): {exc}"
                }
            ) from exc

    @property
    def tta_target(self) -> timedelta:
        return timedelta(minutes=self.tta_target_minutes)

    @property
    def cadence(self) -> timedelta:
        return timedelta(minutes=self.cadence_minutes)


class JargonTerm(models.Model):
    """An internal name the public does not know (a tool, a team, a host): the tone guard flags it."""

    term = models.CharField(max_length=100, unique=True)
    note = models.CharField(max_length=200, blank=True, help_text="What it is, for the next admin.")

    class Meta:
        ordering = ["term"]

    def __str__(self) -> str:
        return self.term


class SituationVersion(models.Model):
    """What the tech liaison knows, as of one moment: every communicator says the same thing from it."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="situations")
    version = models.PositiveIntegerField()
    affected = models.CharField(
        max_length=300, blank=True, help_text="Components, features, regions or locations affected."
    )
    customers = models.CharField(max_length=200, blank=True, help_text="How many customers, or which.")
    since = models.DateTimeField(null=True, blank=True, help_text="Since when customers are affected.")
    spread = models.CharField(max_length=200, blank=True, help_text="Growing, stable, shrinking…")
    expected_duration = models.CharField(max_length=200, blank=True)
    workaround = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    FACTS = ("affected", "customers", "since", "spread", "expected_duration", "workaround")

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "version"], name="uniq_situation_version"),
        ]

    def __str__(self) -> str:
        return f"Situation v{self.version} of {self.incident}"

    def facts(self) -> list[tuple[str, str]]:
        """(label, sentence) for each fact known, as a communicator would insert it into a draft."""
        out = []
        if self.affected:
            out.append(("Affected", f"Affected: {self.affected}."))
        if self.customers:
            out.append(("Customers", f"Customers affected: {self.customers}."))
        if self.since:
            out.append(("Since", f"Since {self.since:%H:%M} UTC."))
        if self.spread:
            out.append(("Spread", f"Spread: {self.spread}."))
        if self.expected_duration:
            out.append(("Expected duration", f"Expected duration: {self.expected_duration}."))
        if self.workaround:
            out.append(("Workaround", f"Workaround: {self.workaround}"))
        return out


class Promise(models.Model):
    """An update's promise of the next one: kept by the next update in time, or missed by how long."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="promises")
    made_by_update = models.OneToOneField(IncidentUpdate, on_delete=models.CASCADE, related_name="promise")
    promised_at = models.DateTimeField()
    due_at = models.DateTimeField()
    kept_at = models.DateTimeField(null=True, blank=True, help_text="When the next update was published.")
    kept_by_update = models.ForeignKey(
        IncidentUpdate, null=True, blank=True, on_delete=models.SET_NULL, related_name="kept_promises"
    )
    closed_at = models.DateTimeField(
        null=True, blank=True, help_text="The incident was resolved before the promise fell due."
    )

    class Meta:
        ordering = ["-due_at"]
        indexes = [models.Index(fields=["kept_at", "closed_at", "due_at"])]

    def __str__(self) -> str:
        return f"Next update on {self.incident} by {self.due_at:%H:%M}"

    @property
    def is_open(self) -> bool:
        return self.kept_at is None and self.closed_at is None

    def missed_by(self, now: datetime | None = None) -> timedelta | None:
        """How late the next update came (or is, while it has not come; or was, when the incident closed without
        it); None while on time."""
        end = self.kept_at or self.closed_at or now or timezone.now()
        return end - self.due_at if end > self.due_at else None

    def state(self, now: datetime | None = None) -> str:
        if self.kept_at is not None:
            return "kept" if self.kept_at <= self.due_at else "missed"
        if self.closed_at is not None:
            return "missed" if self.closed_at > self.due_at else "closed"
        return "overdue" if (now or timezone.now()) > self.due_at else "open"


class Reminder(TimeStampedModel):
    """One reminder, sent once: the acknowledgement clock at half, at and past twice its target; a promise 10 and
    2 minutes before it falls due."""

    class Kind(models.TextChoices):
        TTA_HALF = "tta_half", "Half the time to acknowledge has gone"
        TTA_TARGET = "tta_target", "The time to acknowledge is up"
        TTA_DOUBLE = "tta_double", "Twice the time to acknowledge has gone"
        PROMISE_10 = "promise_10", "Promised update due in 10 minutes"
        PROMISE_2 = "promise_2", "Promised update due in 2 minutes"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    promise = models.ForeignKey(Promise, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    due_at = models.DateTimeField()
    recipients = models.JSONField(default=list, help_text="Usernames reminded.")
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-due_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "kind"],
                condition=models.Q(promise__isnull=True),
                name="uniq_tta_reminder",
            ),
            models.UniqueConstraint(fields=["promise", "kind"], name="uniq_promise_reminder"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.incident})"


class Suggestion(TimeStampedModel):
    """Wording anyone on the team proposes; the primary communicator (or a publisher) accepts or declines it."""

    class State(models.TextChoices):
        OPEN = "open", "Waiting"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="suggestions")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.body[:60]


class TimelineEntry(models.Model):
    """Something the team did or was told: acknowledged, promised, kept, handed a role over, overrode the tone
    guard, accepted a suggestion, was reminded."""

    class Kind(models.TextChoices):
        UPDATE = "update", "Update published"
        ACK = "ack", "First acknowledgement"
        PROMISE = "promise", "Promise"
        ROLE = "role", "Role"
        SITUATION = "situation", "Situation"
        OVERRIDE = "override", "Tone guard overridden"
        SUGGESTION = "suggestion", "Suggestion"
        REMINDER = "reminder", "Reminder"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    text = models.TextField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["incident", "at"])]
        verbose_name_plural = "timeline entries"

    def __str__(self) -> str:
        return self.text[:60]
