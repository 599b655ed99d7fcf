"""Where customers talk about us (sources) and what they said (mentions), stored once per service and post."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from incidents.models import Incident
from statushub.lib.models import TimeStampedModel


class Service(models.TextChoices):
    MASTODON = "mastodon", "Mastodon"
    BLUESKY = "bluesky", "Bluesky"
    REDDIT = "reddit", "Reddit"
    DISCOURSE = "discourse", "Discourse"
    X = "x", "X"
    FACEBOOK = "facebook", "Facebook Page"
    RSS = "rss", "RSS/Atom feed"
    WEBHOOK = "webhook", "Inbound webhook"
    MANUAL = "manual", "Entered by hand"


class MentionSource(TimeStampedModel):
    """One place we listen: an account's notifications and saved searches, a feed, an inbound webhook."""

    kind = models.CharField(max_length=16, choices=Service.choices)
    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    config = models.JSONField(default=dict, blank=True, help_text='e.g. {"url": "https://…/feed.xml"}')
    searches = models.TextField(
        blank=True, help_text="Saved searches, one per line: the brand, product names, handles."
    )
    channel = models.ForeignKey(
        "channels.Channel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The connected account whose credentials the listener uses (Mastodon, Bluesky, Reddit, X…).",
    )
    dry_run = models.BooleanField(
        default=False, help_text="Demo: hear the demo's fake posts instead of calling the service."
    )
    poll_seconds = models.PositiveIntegerField(default=120)
    # An inbound webhook source: posts arrive at /hooks/mentions/<slug>/, signed with its secret (kept encrypted).
    slug = models.SlugField(max_length=60, unique=True, null=True, blank=True)
    encrypted_secret = models.TextField(blank=True, editable=False)
    secret_hint = models.CharField(max_length=20, blank=True, editable=False)
    cursor = models.TextField(blank=True, editable=False)
    last_polled_at = models.DateTimeField(null=True, blank=True, editable=False)
    next_poll_at = models.DateTimeField(null=True, blank=True, editable=False)
    failures = models.PositiveIntegerField(default=0, editable=False)
    last_error = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def search_terms(self) -> list[str]:
        return [line.strip() for line in self.searches.splitlines() if line.strip()]


class Mention(models.Model):
    class State(models.TextChoices):
        NEW = "new", "New"
        ASSIGNED = "assigned", "Assigned"
        ANSWERED = "answered", "Answered"
        DONE = "done", "Done (no answer needed)"
        SET_ASIDE = "set_aside", "Set aside (spam or our own)"

    OPEN_STATES = (State.NEW, State.ASSIGNED)

    source = models.ForeignKey(
        MentionSource, null=True, blank=True, on_delete=models.SET_NULL, related_name="mentions"
    )
    service = models.CharField(max_length=16, choices=Service.choices)
    remote_id = models.CharField(max_length=300, help_text="The post's id on its service: stored once.")
    url = models.URLField(max_length=1000, blank=True)
    text = models.TextField()
    author_handle = models.CharField(max_length=200, blank=True)
    author_name = models.CharField(max_length=200, blank=True)
    author_id = models.CharField(max_length=200, blank=True, help_text="The account's id on its service.")
    followers = models.PositiveIntegerField(null=True, blank=True)
    posted_at = models.DateTimeField()
    received_at = models.DateTimeField()
    found_by = models.CharField(max_length=200, blank=True)
    in_reply_to = models.CharField(max_length=300, blank=True)

    sentiment = models.FloatField(default=0.0)
    cues = models.JSONField(default=list, blank=True)
    priority = models.PositiveSmallIntegerField(default=0)
    priority_reasons = models.JSONField(default=list, blank=True)
    set_aside_reason = models.CharField(max_length=100, blank=True)

    state = models.CharField(max_length=16, choices=State.choices, default=State.NEW)
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="mentions"
    )
    suggested_incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    suggestion_reason = models.CharField(max_length=200, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_response_at = models.DateTimeField(null=True, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A reply drafted for a person to review and send (from the API, or someone without the say on an incident).
    reply_draft = models.TextField(blank=True)
    reply_draft_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reply_draft_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-priority", "-posted_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["service", "remote_id"], name="uniq_mention_per_service_post"),
        ]
        indexes = [
            # The inbox: open mentions, most urgent first.
            models.Index(
                fields=["-priority", "-posted_at", "-id"],
                condition=Q(state__in=["new", "assigned"]),
                name="mention_inbox_idx",
            ),
            models.Index(fields=["incident", "posted_at"]),
            models.Index(fields=["author_handle", "service", "posted_at"]),
            models.Index(fields=["posted_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.author_handle or self.author_name}: {self.text[:60]}"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES

    @property
    def response_target(self) -> timedelta:
        """How soon a person should answer, by priority (``STATUSHUB_MENTION_RESPONSE_MINUTES``)."""
        for floor, minutes in sorted(settings.STATUSHUB_MENTION_RESPONSE_MINUTES.items(), reverse=True):
            if self.priority >= floor:
                return timedelta(minutes=minutes)
        return timedelta(hours=24)

    @property
    def response_due_at(self) -> datetime:
        return self.received_at + self.response_target

    def response_state(self, now: datetime | None = None) -> str:
        """ok | amber (half the target gone) | red (past it) while unanswered; met | missed once answered;
        "" when set aside or closed without an answer."""
        if self.first_response_at is not None:
            return "met" if self.first_response_at <= self.response_due_at else "missed"
        if not self.is_open:
            return ""
        elapsed = (now or timezone.now()) - self.received_at
        if elapsed > self.response_target:
            return "red"
        return "amber" if elapsed >= self.response_target / 2 else "ok"


class SavedReply(models.Model):
    """A reply that follows the doctrine: identify yourself, apologise for the frustration, act (take it offline,
    point at the signed update, check it works now). Placeholders: {name} (theirs), {me}, {my_title},
    {my_email}, {my_phone}, {my_handle}, {incident}, {update_url}, {company}."""

    class Kind(models.TextChoices):
        OFFLINE = "offline", "Take it offline"
        ON_IT = "on_it", "We are on it"
        FIXED = "fixed", "It should be working now"
        OTHER = "other", "Other"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OTHER)
    body = models.TextField()
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "saved replies"

    def __str__(self) -> str:
        return self.name


class MentionReply(models.Model):
    """What a named person sent in answer to a mention: in the thread, or as a private message. The delivery
    engine sends it (retried, never twice); the delivery says how it went and where it is."""

    class Kind(models.TextChoices):
        REPLY = "reply", "Public reply in the thread"
        DIRECT = "direct", "Private message"
        BY_HAND = "by_hand", "Answered by hand (phone, e-mail, elsewhere)"

    mention = models.ForeignKey(Mention, on_delete=models.CASCADE, related_name="replies")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    body = models.TextField()
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    sent_at = models.DateTimeField()
    delivery = models.OneToOneField(
        "channels.Delivery", null=True, blank=True, on_delete=models.SET_NULL, related_name="mention_reply"
    )

    class Meta:
        ordering = ["sent_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.mention}"


class Spike(models.Model):
    """More people talking than usual, mostly unhappy, about nothing we know of: the team is told and offered a
    draft incident. Never published by itself."""

    hour = models.DateTimeField(unique=True, help_text="The hour it was found in (one alert per hour).")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    volume = models.PositiveIntegerField()
    negative = models.PositiveIntegerField()
    baseline = models.FloatField(
        help_text="Mentions in the same hour of the day, on average over the past week."
    )
    words = models.JSONField(default=list, help_text="What they talk about most.")
    samples = models.JSONField(default=list, help_text="Ids of the most urgent mentions in it.")
    notified_at = models.DateTimeField(null=True, blank=True)
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dismissed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-hour"]

    def __str__(self) -> str:
        return f"Spike at {self.hour:%Y-%m-%d %H:00}: {self.volume} mentions"

    @property
    def summary(self) -> str:
        said = ", ".join(self.words[:4]) or "something"
        return (
            f"People are saying: {said} — {self.volume} mentions in the last hour, {self.negative} negative "
            f"(usually {self.baseline:.0f})."
        )
