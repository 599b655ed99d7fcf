"""The acknowledgement clock and the update cadence, per severity: pure arithmetic over an incident's times."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from incidents.models import Incident
from warroom.models import DEFAULT_ACK_TEMPLATE, DEFAULTS, SeverityPolicy


def policy_for(severity: str) -> SeverityPolicy:
    """The severity's policy as set in the admin, or the defaults (SEV1 5 min / 30 min … SEV4 2 h / 4 h)."""
    policy = SeverityPolicy.objects.filter(severity=severity).first()
    if policy is None:
        target, cadence = DEFAULTS.get(severity, DEFAULTS[Incident.Severity.SEV3])  # type: ignore[call-overload]
        policy = SeverityPolicy(
            severity=severity,
            tta_target_minutes=target,
            cadence_minutes=cadence,
            ack_template=DEFAULT_ACK_TEMPLATE,
        )
    return policy


@dataclass(frozen=True)
class Clock:
    detected_at: datetime
    acknowledged_at: datetime | None
    target: timedelta
    elapsed: timedelta
    state: str  # ok | amber | red (running) · met | missed (stopped)

    @property
    def running(self) -> bool:
        return self.acknowledged_at is None

    @property
    def deadline(self) -> datetime:
        return self.detected_at + self.target

    @property
    def amber_at(self) -> datetime:
        return self.detected_at + self.target / 2

    @property
    def fraction(self) -> float:
        """Elapsed over target, capped at 2 (for the clock's bar)."""
        return min(2.0, self.elapsed / self.target) if self.target else 2.0


def detected_at(incident: Incident) -> datetime:
    """Detection: the alert's start (alerts set it), else when the incident was opened."""
    return incident.detected_at or incident.created_at


def clock(incident: Incident, policy: SeverityPolicy, now: datetime) -> Clock:
    start = detected_at(incident)
    target = policy.tta_target
    if incident.acknowledged_at is not None:
        elapsed = max(timedelta(0), incident.acknowledged_at - start)
        state = "met" if elapsed <= target else "missed"
        return Clock(start, incident.acknowledged_at, target, elapsed, state)
    elapsed = max(timedelta(0), now - start)
    if elapsed < target / 2:
        state = "ok"
    elif elapsed <= target:
        state = "amber"
    else:
        state = "red"
    return Clock(start, None, target, elapsed, state)


def proposed_next_update(policy: SeverityPolicy, now: datetime) -> datetime:
    """Now plus the severity's cadence, rounded up to the next 5 minutes: a time people can read and remember."""
    at = (now + policy.cadence).replace(second=0, microsecond=0)
    return at + timedelta(minutes=(-at.minute) % 5)
