"""What the incident console and ``GET /api/v1/incidents/{id}/comms`` read: a fixed number of queries whatever
the incident's size (its notes, updates and timeline are read in pages)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.cache import cache
from django.utils import timezone

from incidents.models import Incident, IncidentRole
from warroom.clock import Clock, clock, policy_for
from warroom.models import Promise, SeverityPolicy
from warroom.services import name_of

PRESENCE_SECONDS = 30
R = IncidentRole.Role
# The roster's order on screen, and whether an empty role is worth a warning.
ROSTER = [
    (R.COMMANDER, True),
    (R.PRIMARY_COMMUNICATOR, True),
    (R.SECONDARY_COMMUNICATOR, False),
    (R.TECH_LIAISON, True),
    (R.EXECUTIVE_SPOKESPERSON, True),
]


@dataclass
class Seat:
    role: str
    label: str
    people: list[User]
    warn_if_vacant: bool

    @property
    def vacant(self) -> bool:
        return not self.people


def roster(incident: Incident) -> list[Seat]:
    held = list(IncidentRole.objects.filter(incident=incident).select_related("user").order_by("id"))
    return [
        Seat(role.value, role.label, [h.user for h in held if h.role == role], warn) for role, warn in ROSTER
    ]


def presence_touch(incident: Incident, user: User) -> list[str]:
    """Mark ``user`` as looking at the console; the names of everyone looking now (them included)."""
    key = f"warroom-presence:{incident.pk}"
    now = timezone.now().timestamp()
    present: dict[str, tuple[str, float]] = cache.get(key) or {}
    present[str(user.pk)] = (name_of(user), now)
    present = {k: v for k, v in present.items() if now - v[1] <= PRESENCE_SECONDS}
    cache.set(key, present, timeout=PRESENCE_SECONDS * 4)
    return sorted(name for name, _ in present.values())


@dataclass
class Comms:
    incident: Incident
    policy: SeverityPolicy
    clock: Clock
    seats: list[Seat]
    promises: list[Promise]
    now: datetime

    @property
    def open_promise(self) -> Promise | None:
        return next((p for p in self.promises if p.is_open), None)

    @property
    def next_update_due_at(self) -> datetime | None:
        promise = self.open_promise
        return promise.due_at if promise else None

    @property
    def vacant(self) -> list[Seat]:
        return [seat for seat in self.seats if seat.vacant and seat.warn_if_vacant]

    @property
    def kept_count(self) -> int:
        return sum(1 for p in self.promises if p.state(self.now) == "kept")

    @property
    def missed_count(self) -> int:
        return sum(1 for p in self.promises if p.state(self.now) in ("missed", "overdue"))


def comms(incident: Incident, now: datetime | None = None) -> Comms:
    now = now or timezone.now()
    policy = policy_for(incident.severity)
    promises = list(
        Promise.objects.filter(incident=incident).select_related("kept_by_update").order_by("-due_at")[:100]
    )
    return Comms(incident, policy, clock(incident, policy, now), roster(incident), promises, now)


@dataclass
class Row:
    incident: Incident
    clock: Clock
    next_update_due_at: datetime | None


def board(incidents: list[Incident], now: datetime | None = None) -> list[Row]:
    """The open incidents' clocks and next promised update, in three queries for any number of incidents."""
    now = now or timezone.now()
    policies = {p.severity: p for p in SeverityPolicy.objects.all()}
    due: dict[int, datetime] = {}
    for promise in Promise.objects.filter(
        incident__in=[i.pk for i in incidents], kept_at__isnull=True, closed_at__isnull=True
    ).order_by("due_at"):
        due.setdefault(promise.incident_id, promise.due_at)
    return [
        Row(i, clock(i, policies.get(i.severity) or policy_for(i.severity), now), due.get(i.pk))
        for i in incidents
    ]


def as_api(c: Comms) -> dict[str, Any]:
    """The machine's view (the OpenAPI schema documents it)."""
    running = c.clock.running
    return {
        "incident_id": c.incident.pk,
        "severity": c.incident.severity,
        "detected_at": c.clock.detected_at,
        "acknowledged_at": c.clock.acknowledged_at,
        "tta_seconds": int(c.clock.elapsed.total_seconds()),
        "tta_target_seconds": int(c.clock.target.total_seconds()),
        "tta_state": c.clock.state,
        "tta_running": running,
        "update_cadence_seconds": int(c.policy.cadence.total_seconds()),
        "roster": [
            {
                "role": seat.role,
                "label": str(seat.label),
                "people": [{"username": u.get_username(), "name": name_of(u)} for u in seat.people],
                "vacant": seat.vacant,
            }
            for seat in c.seats
        ],
        "next_update_due_at": c.next_update_due_at,
        "promises": [
            {
                "promised_at": p.promised_at,
                "due_at": p.due_at,
                "kept_at": p.kept_at,
                "kept_by_update": p.kept_by_update.public_id if p.kept_by_update else None,
                "missed_by_seconds": int(late.total_seconds()) if (late := p.missed_by(c.now)) else None,
                "state": p.state(c.now),
            }
            for p in c.promises
        ],
    }
