"""Reminders: the acknowledgement clock at half its target, at the target and past twice it; a promised update
10 and 2 minutes before it falls due. Found by the beat (``tasks.remind``, every 20 s), each recorded once (a
unique row) and sent by its own task: an e-mail to each person and a line in the team's Slack channel, if set.

Who hears: at half and at the target, the incident's commander, primary communicator and the publishers on its
roster (every publisher if its roster has none); past twice the target, every publisher. A promise: the primary
communicator and the commander (every publisher if neither role is held).
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse

from incidents.documents import absolute
from incidents.models import Incident, IncidentRole
from incidents.permissions import PUBLISH
from people import roles
from warroom.clock import clock, detected_at, policy_for
from warroom.models import Promise, Reminder
from warroom.services import name_of

K = Reminder.Kind
TTA_STEPS = [(K.TTA_HALF, 0.5), (K.TTA_TARGET, 1.0), (K.TTA_DOUBLE, 2.0)]
PROMISE_STEPS = [(K.PROMISE_10, timedelta(minutes=10)), (K.PROMISE_2, timedelta(minutes=2))]
# A step that fell due longer ago than this is not worth a reminder any more (the beat was down, or the incident
# was left unacknowledged for days): nobody is mailed about it all at once.
STALE = timedelta(hours=1)


def publishers() -> list[User]:
    return list(
        User.objects.filter(is_active=True, groups__name=roles.PUBLISHER).distinct().order_by("username")
    )


def recipients(incident: Incident, kind: str) -> list[User]:
    held = list(IncidentRole.objects.filter(incident=incident).select_related("user"))
    by_role = {
        role: [r.user for r in held if r.role == role and r.user.is_active]
        for role in (IncidentRole.Role.COMMANDER, IncidentRole.Role.PRIMARY_COMMUNICATOR)
    }
    people = by_role[IncidentRole.Role.COMMANDER] + by_role[IncidentRole.Role.PRIMARY_COMMUNICATOR]
    if kind in (K.TTA_HALF, K.TTA_TARGET):
        people += [r.user for r in held if r.user.is_active and r.user.has_perm(PUBLISH)]
    if kind == K.TTA_DOUBLE or not people:
        people += publishers()
    unique: dict[int, User] = {}
    for person in people:
        unique.setdefault(person.pk, person)
    return list(unique.values())


@dataclass
class Due:
    incident: Incident
    kind: str
    due_at: datetime
    promise: Promise | None = None


def due(now: datetime) -> list[Due]:
    """Every reminder whose moment has come and that was not recorded yet; for each clock or promise only the
    latest step crossed (a clock found at three times its target is told it is past twice, not three things at once)."""
    found: list[Due] = []
    waiting = Incident.objects.filter(kind=Incident.Kind.INCIDENT, acknowledged_at__isnull=True).exclude(
        status__in=Incident.CLOSED_STATUSES
    )
    for incident in waiting:
        policy = policy_for(incident.severity)
        start = detected_at(incident)
        crossed = [(kind, start + policy.tta_target * factor) for kind, factor in TTA_STEPS]
        crossed = [(kind, at) for kind, at in crossed if at <= now]
        if crossed and now - crossed[-1][1] <= STALE:
            kind, at = crossed[-1]
            found.append(Due(incident, kind, at))
    promises = Promise.objects.filter(
        kept_at__isnull=True, closed_at__isnull=True, due_at__gt=now, due_at__lte=now + PROMISE_STEPS[0][1]
    ).select_related("incident")
    for promise in promises:
        steps = [(kind, promise.due_at - before) for kind, before in PROMISE_STEPS]
        steps = [(kind, at) for kind, at in steps if at <= now]
        if steps:
            kind, at = steps[-1]
            found.append(Due(promise.incident, kind, at, promise))
    return found


def still_due(reminder: Reminder) -> bool:
    """Whether what the reminder is about is still owed when it is sent (a queue may have held it a while)."""
    if reminder.promise is None:
        incident = Incident.objects.get(pk=reminder.incident.pk)
        return incident.acknowledged_at is None and not incident.is_closed
    promise = reminder.promise
    return promise is not None and promise.is_open


def record(item: Due) -> Reminder | None:
    """The reminder's row, once: None if it (or a later step of the same clock or promise) was recorded."""
    later: list[str] = [k for k, _ in (TTA_STEPS if item.promise is None else PROMISE_STEPS)]
    later = later[later.index(item.kind) :]
    already = Reminder.objects.filter(incident=item.incident, kind__in=later)
    already = already.filter(promise=item.promise) if item.promise else already.filter(promise__isnull=True)
    if already.exists():
        return None
    people = recipients(item.incident, item.kind)
    try:
        with transaction.atomic():
            return Reminder.objects.create(
                incident=item.incident,
                kind=item.kind,
                promise=item.promise,
                due_at=item.due_at,
                recipients=[p.get_username() for p in people],
            )
    except IntegrityError:  # another beat run recorded it first
        return None


def console_url(incident: Incident) -> str:
    return absolute(reverse("manage:incident", args=[incident.pk]))


def message(reminder: Reminder, now: datetime) -> tuple[str, str]:
    """(subject, body): what happened, what to do, and the link that does it."""
    incident = reminder.incident
    site = settings.STATUSHUB_SITE_NAME
    url = console_url(incident)
    sev = incident.severity.upper()
    if reminder.promise is None:
        c = clock(incident, policy_for(incident.severity), now)
        minutes = int(c.elapsed.total_seconds() // 60)
        target = int(c.target.total_seconds() // 60)
        subject = (
            f"[{site}] {sev} not acknowledged after {minutes} min (target {target} min): {incident.title}"
        )
        body = (
            f"{incident.title} ({sev}) was detected at {c.detected_at:%H:%M} UTC and nothing public has been said "
            f"yet: {minutes} minutes against a target of {target}.\n\n"
            "What to do: open the incident's console and press “Draft the first acknowledgement”. Check the "
            "words, then publish it (a publisher, or the incident's primary communicator).\n\n"
            f"{url}#acknowledge\n"
        )
    else:
        promise = reminder.promise
        left = max(0, math.ceil((promise.due_at - now).total_seconds() / 60))
        subject = (
            f"[{site}] Next update promised by {promise.due_at:%H:%M} UTC ({left} min): {incident.title}"
        )
        body = (
            f"Our last update on {incident.title} promised the next one by {promise.due_at:%H:%M} UTC, "
            f"{left} minutes from now.\n\n"
            "What to do: open the compose screen, say what has changed (or that we are still working on it) and "
            "promise the next update; a publisher signs and publishes it.\n\n"
            f"{absolute(reverse('manage:compose', args=[incident.pk]))}\n\nThe console: {url}\n"
        )
    return subject, body


def slack_text(reminder: Reminder, now: datetime) -> str:
    subject, _ = message(reminder, now)
    people = ", ".join(reminder.recipients) or "nobody on the roster"
    title = subject.split("] ", 1)[-1]
    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f":alarm_clock: <{console_url(reminder.incident)}|{escaped}> · reminded: {people}"


def names(reminder: Reminder) -> str:
    users = User.objects.filter(username__in=reminder.recipients).order_by("username")
    return ", ".join(name_of(u) for u in users) or "nobody"


def who_to_mail(reminder: Reminder) -> list[User]:
    return list(
        User.objects.filter(username__in=reminder.recipients, is_active=True)
        .exclude(Q(email=""))
        .order_by("email")
    )
