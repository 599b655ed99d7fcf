"""Where updates go (channels), and what happened to each update on each channel (deliveries)."""

from typing import Any

from django.conf import settings
from django.db import models

from integrations.registry import channel_choices
from statushub.lib.models import TimeStampedModel
from statushub.lib.outbox import OutboxRow


def _kinds() -> Any:
    """The kinds with a transport, as listed once in ``integrations.registry`` (``Channel.Kind.SLACK`` …)."""
    return models.TextChoices("Kind", [(key.upper(), (key, label)) for key, label in channel_choices()])  # type: ignore[call-overload]


class Channel(TimeStampedModel):
    Kind = _kinds()

    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=100)
    # Blank: the brand's channel. Set: an executive's own account, so the update also goes out in their name.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="channels"
    )
    config = models.JSONField(default=dict, blank=True, help_text="Non-secret settings (URL, channel id, …).")
    encrypted_credentials = models.TextField(blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    dry_run = models.BooleanField(default=False, help_text="Record exactly what would be sent; send nothing.")
    # Set when the service answered with a permanent error (bad credentials, forbidden): a human must look.
    problem = models.CharField(max_length=300, blank=True)
    problem_at = models.DateTimeField(null=True, blank=True)
    # The last "test connection": who we post as, or what went wrong.
    checked_at = models.DateTimeField(null=True, blank=True)
    check_ok = models.BooleanField(default=False)
    check_message = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["kind", "name"]

    @property
    def is_personal(self) -> bool:
        return self.owner_id is not None

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"


class Delivery(OutboxRow):
    """One message on one channel, worked by the Celery worker: an update (written with it, in its transaction),
    or a person's reply to someone's post or private message to someone (written when they press Send)."""

    class Kind(models.TextChoices):
        UPDATE = "update", "Update"
        REPLY = "reply", "Reply"
        DIRECT = "direct", "Private message"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        AWAITING = "awaiting", "Waiting for a person to post it"
        FAILED = "failed", "Failed, will retry"
        DEAD = "dead", "Failed permanently"
        CANCELLED = "cancelled", "Cancelled"

    OPEN_STATES = (State.PENDING, State.SENDING, State.FAILED)

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.UPDATE)
    # Set for an update; blank for a reply or a private message, which carry their words and addressee instead.
    update = models.ForeignKey(
        "incidents.IncidentUpdate", null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    text = models.TextField(
        blank=True, help_text="A reply's or private message's words, as the person wrote them."
    )
    to = models.JSONField(
        default=dict, blank=True, help_text="Whom it answers: the post's or account's id, handle, link."
    )
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    # While "sending": until when the worker that claimed it holds it. A worker killed mid-attempt leaves the row
    # "sending"; once the lease has run out the sweeper hands it to another (the broker's own redelivery, hours
    # later, is not relied on).
    lease_until = models.DateTimeField(null=True, blank=True)
    # When an attempt first handed the post to the service (set just before the call, so a worker killed during
    # it leaves it set). Only then may an earlier post exist to look up, and only from then: a retry after
    # failures that never reached the post skips the lookup, and one that did reads a shorter window.
    first_send_at = models.DateTimeField(null=True, blank=True)
    last_send_at = models.DateTimeField(null=True, blank=True)  # when the latest such call began
    # How many worker tasks ran for it (claims, waits, retries, duplicates): the chaos run keeps this low.
    tasks = models.PositiveIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    dry_run = models.BooleanField(default=False)
    # What was (or, in dry run, would have been) sent, and what the service answered.
    request = models.JSONField(default=dict, blank=True)
    remote_id = models.CharField(max_length=200, blank=True)
    remote_url = models.URLField(max_length=500, blank=True)
    # For manual channels: who said they posted it.
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["channel__kind", "channel__name"]
        constraints = [
            models.UniqueConstraint(fields=["update", "channel"], name="one_delivery_per_update_channel")
        ]
        indexes = [models.Index(fields=["state", "updated_at"])]

    def __str__(self) -> str:
        return f"{self.channel} · {self.get_state_display()}"


class ChannelThread(models.Model):
    """The first post of an incident on a channel, so later updates reply to it."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="threads")
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="+")
    root_id = models.CharField(max_length=200)
    last_id = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "incident"], name="one_thread_per_channel_incident")
        ]

    def __str__(self) -> str:
        return f"{self.channel} thread for incident {self.incident_id}"
