"""Spike detection: mention volume and negative share in the last hour against the same hour's baseline (the past
week), counting only what no open incident explains. A spike tells the team and offers a draft incident; it never
publishes anything."""

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core import mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from incidents import services as incident_services
from incidents.documents import absolute
from incidents.models import Incident
from integrations.slack import incoming as slack_incoming
from mentions.models import Mention, Spike
from mentions.services import _words
from people import roles
from statushub.lib.outbound import OutboundError

log = logging.getLogger(__name__)
MIN_VOLUME = 10
FACTOR = 3.0
NEGATIVE_SHARE = 0.4
BASELINE_DAYS = 7


def _unexplained(start: datetime, end: datetime) -> Q:
    open_incidents = Incident.objects.exclude(status__in=Incident.CLOSED_STATUSES)
    return (
        Q(posted_at__gte=start, posted_at__lt=end)
        & ~Q(state=Mention.State.SET_ASIDE)
        & ~Q(incident__in=open_incidents)
        & ~Q(suggested_incident__in=open_incidents)
    )


def detect(now: datetime | None = None) -> Spike | None:
    """The spike in the hour before ``now``, recorded once per hour; None when there is none."""
    now = now or timezone.now()
    start = now - timedelta(hours=1)
    window = list(
        Mention.objects.filter(_unexplained(start, now))
        .order_by("-priority")
        .values("pk", "text", "sentiment")[:2000]
    )
    volume = len(window)
    if volume < MIN_VOLUME:
        return None
    past = [
        Mention.objects.filter(
            posted_at__gte=start - timedelta(days=d), posted_at__lt=now - timedelta(days=d)
        )
        .exclude(state=Mention.State.SET_ASIDE)
        .count()
        for d in range(1, BASELINE_DAYS + 1)
    ]
    baseline = sum(past) / len(past)
    negative = sum(1 for m in window if m["sentiment"] <= -0.05)
    if volume < FACTOR * max(baseline, 1.0) or negative / volume < NEGATIVE_SHARE:
        return None
    words = Counter(w for m in window if m["sentiment"] <= -0.05 for w in _words(m["text"]) if len(w) > 3)
    brand = {w.lower() for w in settings.STATUSHUB_SITE_NAME.split()}
    top = [w for w, _ in words.most_common(12) if w not in brand][:6]
    hour = now.replace(minute=0, second=0, microsecond=0)
    try:
        with transaction.atomic():
            return Spike.objects.create(
                hour=hour, window_start=start, window_end=now, volume=volume, negative=negative,
                baseline=round(baseline, 1), words=top, samples=[m["pk"] for m in window[:10]],
            )  # fmt: skip
    except IntegrityError:
        return None  # this hour's spike is known already


def notify(spike: Spike) -> int:
    """Tell the people who speak for the company (mail, and the team's Slack if set); returns how many mails."""
    url = absolute(reverse("manage:dashboard"))
    subject = (
        f"[{settings.STATUSHUB_SITE_NAME}] Mentions spike: {', '.join(spike.words[:3]) or 'unknown topic'}"
    )
    body = (
        f"{spike.summary}\n\nNo open incident explains it. Look at what they say and, if something is broken, "
        f"open a draft incident in one click (nothing is published until a person does):\n\n{url}\n"
    )
    people = (
        User.objects.filter(is_active=True, groups__name__in=[roles.PUBLISHER, roles.COMMUNICATOR])
        .exclude(email="")
        .distinct()
    )
    messages = [mail.EmailMessage(subject=subject[:200], body=body, to=[p.email]) for p in people]
    if messages:
        with mail.get_connection() as connection:
            connection.send_messages(messages)
    if settings.STATUSHUB_TEAM_SLACK_WEBHOOK_URL:
        try:
            slack_incoming.post_text(
                settings.STATUSHUB_TEAM_SLACK_WEBHOOK_URL,
                f":loudspeaker: <{url}|{spike.summary}>",
                timeout=10.0,
            )
        except OutboundError as exc:  # the mail went; the dashboard shows the spike either way
            log.warning("Spike notice not posted to Slack: %s", exc)
    Spike.objects.filter(pk=spike.pk).update(notified_at=timezone.now())
    return len(messages)


@transaction.atomic
def open_incident(*, spike: Spike, by: User) -> Incident:
    """A draft, internal incident from the spike: its words as the title, its mentions suggested for it."""
    locked = Spike.objects.select_for_update().get(pk=spike.pk)
    if locked.incident_id is not None:
        return locked.incident  # type: ignore[return-value]
    title = "Customers report problems: " + (", ".join(locked.words[:3]) or "unknown")
    incident = Incident.objects.create(
        title=title[:200], severity=Incident.Severity.SEV3, detected_at=locked.window_start,
        started_at=locked.window_start,
    )  # fmt: skip
    samples = Mention.objects.filter(pk__in=locked.samples).order_by("-priority")[:5]
    quoted = "\n".join(f"- {m.text[:200]}" for m in samples)
    incident_services.note_add(
        incident=incident, author=by, text=f"Opened from a mentions spike. {locked.summary}\n\n{quoted}"
    )
    Mention.objects.filter(_unexplained(locked.window_start, locked.window_end)).update(
        suggested_incident=incident
    )
    locked.incident = incident
    locked.save(update_fields=["incident"])
    return incident
