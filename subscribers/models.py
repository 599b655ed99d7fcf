"""People who asked to be told: e-mail subscribers and webhook/Slack subscriptions, and what each was sent.

Nothing here is active before its owner confirmed by e-mail (double opt-in). Links in mails are signed
tokens (``tokens.py``), so no token is stored; the per-row ``token_nonce`` only lets us void them all.
"""

import secrets

from django.db import models

from statushub.lib.models import TimeStampedModel
from statushub.lib.outbox import OutboxRow


def new_nonce() -> str:
    return secrets.token_urlsafe(9)


class Subscriber(TimeStampedModel):
    """One e-mail address. The address is unique: asking again never makes a second row (or a second mail)."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for confirmation"
        ACTIVE = "active", "Subscribed"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        DISABLED = "disabled", "Disabled (bounced or complained)"

    email = models.EmailField(max_length=254, unique=True, help_text="Stored lower-cased.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    all_components = models.BooleanField(default=True, help_text="Every update, including new components.")
    components = models.ManyToManyField("incidents.Component", blank=True, related_name="+")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    token_nonce = models.CharField(max_length=16, default=new_nonce, editable=False)

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    @property
    def is_active(self) -> bool:
        return self.state == self.State.ACTIVE


class Fanout(models.Model):
    """Marks an update whose mail deliveries were all written, so the sweeper knows what a crash left undone."""

    update = models.OneToOneField("incidents.IncidentUpdate", on_delete=models.CASCADE, related_name="+")
    completed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"fan-out of update {self.update_id}"


class MailDelivery(OutboxRow):
    """One update mailed to one subscriber: the unique row is what makes "exactly once" hold across retries."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed, will retry"
        DEAD = "dead", "Failed permanently"
        SKIPPED = "skipped", "Skipped (no longer subscribed)"

    OPEN_STATES = (State.PENDING, State.SENDING, State.FAILED)

    # No index of its own: the unique (update, subscriber) index serves lookups by update. A second one cost
    # writes on every state change, and while a large fan-out outran the planner's statistics, queries for
    # some subscribers' rows went through it and read every row of the update, batch after batch.
    update = models.ForeignKey(
        "incidents.IncidentUpdate", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="deliveries")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Stable across retries, so a resent mail is the same message to the receiving side, and later mails
    # about the incident can name the first one in In-Reply-To/References.
    message_id = models.CharField(max_length=250)

    class Meta:
        verbose_name_plural = "mail deliveries"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["update", "subscriber"], name="one_mail_per_update_subscriber")
        ]
        indexes = [models.Index(fields=["state", "updated_at"])]

    def __str__(self) -> str:
        return f"update {self.update_id} to {self.subscriber_id}: {self.get_state_display()}"


class HookSubscription(TimeStampedModel):
    """A customer's endpoint (a signed webhook or a Slack incoming webhook), owned by a confirmed e-mail."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        SLACK = "slack", "Slack"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for the owner to confirm"
        ACTIVE = "active", "Active"
        CANCELLED = "cancelled", "Cancelled"
        DISABLED = "disabled", "Disabled after failures"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    owner_email = models.EmailField(max_length=254, help_text="Confirms the subscription; told if it stops.")
    # The URL may itself be a secret (a Slack webhook URL is): it lives encrypted with the signing secret.
    encrypted_target = models.TextField(editable=False)
    target_display = models.CharField(max_length=200, help_text="The URL with its secret parts hidden.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    all_components = models.BooleanField(default=True)
    components = models.ManyToManyField("incidents.Component", blank=True, related_name="+")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    token_nonce = models.CharField(max_length=16, default=new_nonce, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.target_display}"

    @property
    def is_active(self) -> bool:
        return self.state == self.State.ACTIVE


class HookDelivery(OutboxRow):
    """One update POSTed to one hook subscription, retried with backoff like a channel delivery."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed, will retry"
        DEAD = "dead", "Failed permanently"
        SKIPPED = "skipped", "Skipped (subscription stopped)"

    OPEN_STATES = (State.PENDING, State.SENDING, State.FAILED)

    update = models.ForeignKey("incidents.IncidentUpdate", on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey(HookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "hook deliveries"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["update", "subscription"], name="one_hook_delivery_per_update")
        ]
        indexes = [models.Index(fields=["state", "updated_at"])]

    def __str__(self) -> str:
        return f"update {self.update_id} to hook {self.subscription_id}: {self.get_state_display()}"
