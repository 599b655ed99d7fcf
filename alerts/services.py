"""Writes for inbound alerts: sources and their secrets, and turning a delivery of alerts into a draft incident.

Doctrine: machines may detect and draft, a human speaks. An alert opens (or adds to) an incident with no
published update, so it is on no public page or feed; the components it names and the statuses we suggest wait
in the incident's shared draft (``UpdateDraft.component_statuses``), which pre-fills the compose screen. No
``AffectedComponent`` row is written and no component status moves: an affected row, even on a draft, keeps a
component "held" when another incident closes and would appear on the incident once published, whatever the
publisher chose. Both happen only when a publisher publishes.
"""

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from alerts import auth, mapping
from alerts.audit import Action
from alerts.models import Alert, AlertReceipt, AlertSource
from alerts.notes import Change, note_text
from alerts.payloads import FIRING, AlertBatch, ParsedAlert
from incidents import drafts
from incidents.availability import worse
from incidents.models import Component, Incident
from incidents.services import note_add
from people.services import audit_record
from statushub.lib.after_commit import after_commit
from statushub.lib.secrets import decrypt_json, encrypt_json

log = logging.getLogger(__name__)

ALERTS_USERNAME = "statushub-alerts"
Sev = Incident.Severity


def alerts_user() -> User:
    """Who notes and drafts written by alerts are attributed to. It cannot log in."""
    user, created = User.objects.get_or_create(
        username=ALERTS_USERNAME, defaults={"first_name": "StatusHub alerts", "is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


# --- sources -----------------------------------------------------------------------------------------------


def _keys() -> list[str]:
    return list(settings.STATUSHUB_KEY_ENCRYPTION_KEYS)


def source_credentials(source: AlertSource) -> dict[str, Any]:
    return decrypt_json(source.encrypted_credentials, _keys())


def _store_credentials(source: AlertSource, credentials: dict[str, Any]) -> None:
    kept = {key: value for key, value in credentials.items() if value}
    source.encrypted_credentials = encrypt_json(kept, _keys()) if kept else ""


@transaction.atomic
def source_issue_secret(
    *, source: AlertSource, by: User | None, secret: str | None = None, request: HttpRequest | None = None
) -> str:
    """A new token (Alertmanager, Grafana) or signing secret (generic); the old one stops working at once.

    Returns it: it is stored only hashed or encrypted and the caller shows it once.
    """
    credentials = source_credentials(source)
    if source.uses_signature:
        secret = secret or auth.new_signing_secret()
        credentials["signing_secret"] = secret
        source.token_hash = ""
    else:
        secret = secret or auth.new_token()
        credentials.pop("signing_secret", None)
        source.token_hash = auth.token_hash(secret)
    _store_credentials(source, credentials)
    source.secret_hint = auth.hint(secret)
    source.save(update_fields=["token_hash", "secret_hint", "encrypted_credentials", "updated_at"])
    audit_record(
        action=Action.ALERT_SOURCE_SECRET,
        actor=by,
        target=f"Alert source {source} ({source.slug})",
        data={"source": source.pk, "kind": source.kind, "hint": source.secret_hint},
        request=request,
    )
    return secret


@transaction.atomic
def source_create(
    *, by: User | None, kind: str, name: str, slug: str, **fields: Any
) -> tuple[AlertSource, str]:
    source = AlertSource.objects.create(kind=AlertSource.Kind(kind), name=name, slug=slug, **fields)
    return source, source_issue_secret(source=source, by=by)


@transaction.atomic
def source_set_slack_webhook(*, source: AlertSource, url: str) -> None:
    credentials = source_credentials(source)
    credentials["slack_webhook_url"] = url.strip()
    _store_credentials(source, credentials)
    source.save(update_fields=["encrypted_credentials", "updated_at"])


# --- receiving -----------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    incident: Incident | None = None
    opened: bool = False
    new: int = 0
    repeated: int = 0
    resolved: int = 0
    ignored: int = 0
    touched: list[Incident] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{n} {what}" for n, what in [
            (self.new, "new"), (self.repeated, "repeated"), (self.resolved, "resolved"), (self.ignored, "ignored"),
        ] if n]  # fmt: skip
        head = f"opened incident #{self.incident.pk}" if self.opened and self.incident else ""
        if not head and self.incident:
            head = f"incident #{self.incident.pk}"
        return "; ".join(filter(None, [head, ", ".join(parts)])) or "nothing to do"


@dataclass
class _Plan:
    parsed: ParsedAlert
    action: str  # new, repeat, again, resolve, stale, unknown (resolved, never seen firing), duplicate
    row: Alert | None = None
    severity: str = Sev.SEV3
    component: Component | None = None
    looked_for: str = ""


def _hash(group_key: str) -> str:
    return hashlib.sha256(group_key.encode()).hexdigest() if group_key else ""


def _classify(parsed: ParsedAlert, row: Alert | None) -> str:
    """What this report means given what we know of the alert. Repeats and late arrivals change nothing.

    ``startsAt`` tells occurrences apart: the same start is the same occurrence (Alertmanager repeats it), an
    earlier one arrived late. A sender that gives no start (generic) fires again by firing after a resolve.
    """
    if row is None:
        return "new" if parsed.status == FIRING else "unknown"
    start = parsed.starts_at
    newer = start > row.starts_at if start else row.status == Alert.Status.RESOLVED
    older = start is not None and start < row.starts_at
    if parsed.status == FIRING:
        if newer:
            # Once a person has closed the incident, a new occurrence opens another; repeats of the old one don't.
            return "new" if row.incident.is_closed else "again"
        return "stale" if older or row.status == Alert.Status.RESOLVED else "repeat"
    if older:
        return "stale"
    return "resolve" if row.status == Alert.Status.FIRING else "repeat"


def _title(plans: list[_Plan]) -> str:
    first = plans[0].parsed
    summary = first.annotations.get("summary", "").strip()
    title = f"{first.name}: {summary}" if summary else first.name
    if len(plans) > 1:
        title += f" (+{len(plans) - 1} more)"
    return " ".join(title.split())[:200]


def _open_incident(*, source: AlertSource, plans: list[_Plan], bot: User, now: datetime) -> Incident:
    detected = min((p.parsed.starts_at or now for p in plans), default=now)
    detected = min(detected, now)
    incident = Incident(
        kind=Incident.Kind.INCIDENT,
        title=_title(plans),
        severity=mapping.worst_severity([p.severity for p in plans]),
        status=Incident.Status.INVESTIGATING,
        detected_at=detected,
        started_at=detected,
    )
    incident._history_user = bot  # type: ignore[attr-defined]  # simple_history: who made this version
    incident.save()
    audit_record(
        action=Action.ALERT_INCIDENT_OPENED,
        actor=bot,
        target=f"{incident} (#{incident.pk})",
        data={
            "source": source.slug,
            "incident": incident.pk,
            "alerts": [p.parsed.fingerprint for p in plans][:50],
        },
    )
    return incident


def _new_row(*, source: AlertSource, incident: Incident, plan: _Plan, group_key: str, now: datetime) -> Alert:
    parsed = plan.parsed
    return Alert.objects.create(
        source=source,
        incident=incident,
        fingerprint=parsed.fingerprint,
        group_key=group_key,
        group_hash=_hash(group_key),
        name=parsed.name[:200],
        status=Alert.Status.FIRING,
        severity=plan.severity,
        labels=parsed.labels,
        annotations=parsed.annotations,
        generator_url=parsed.generator_url,
        component=plan.component,
        suggested_status=mapping.SUGGESTED_STATUS[plan.severity] if plan.component else "",
        starts_at=min(parsed.starts_at or now, now),
        first_seen_at=now,
        last_seen_at=now,
    )


def _suggest_components(*, incident: Incident, rows: list[Alert], bot: User) -> None:
    """Add the alerts' components to the incident's open draft; what a person already chose there is kept."""
    suggested: dict[str, str] = {}
    for row in rows:
        if row.component_id and row.suggested_status:
            key = str(row.component_id)
            suggested[key] = worse(suggested.get(key, Component.Status.OPERATIONAL), row.suggested_status)
    if not suggested:
        return
    draft = drafts.draft_for_incident(incident=incident, user=bot)
    added = {key: status for key, status in suggested.items() if key not in draft.component_statuses}
    if not added:
        return
    draft.component_statuses = {**draft.component_statuses, **added}
    # A new version, so anyone with the draft open is told it changed rather than silently overwriting it.
    draft.version += 1
    draft.last_edited_by = bot
    draft.save(update_fields=["component_statuses", "version", "last_edited_by", "updated_at"])


def _escalate(*, incident: Incident, rows: list[Alert], bot: User) -> None:
    """Before anything is public, a worse alert raises the draft's severity; after, severity is people's call."""
    if incident.is_public or not rows:
        return
    worst = mapping.worst_severity([incident.severity, *(row.severity for row in rows)])
    detected = min([row.starts_at for row in rows] + ([incident.detected_at] if incident.detected_at else []))
    fields = []
    if worst != incident.severity:
        if incident.impact == Incident.DEFAULT_IMPACT[Sev(incident.severity)]:
            incident.impact = Incident.DEFAULT_IMPACT[Sev(worst)]
            fields.append("impact")
        incident.severity = worst
        fields.append("severity")
    if detected != incident.detected_at:
        incident.detected_at = detected
        fields.append("detected_at")
    if fields:
        incident._history_user = bot  # type: ignore[attr-defined]
        incident.save(update_fields=[*fields, "updated_at"])


def _plan(source: AlertSource, batch: AlertBatch) -> list[_Plan]:
    fingerprints = {a.fingerprint for a in batch.alerts}
    latest: dict[str, Alert] = {}
    rows = (
        Alert.objects.filter(source=source, fingerprint__in=fingerprints)
        .select_related("incident")
        .order_by("fingerprint", "-id")
    )
    for row in rows:
        latest.setdefault(row.fingerprint, row)
    components = {c.name.strip().lower(): c for c in Component.objects.all()}
    plans: list[_Plan] = []
    seen: set[str] = set()
    for parsed in batch.alerts:
        if parsed.fingerprint in seen:  # the same alert twice in one body: the first report counts
            plans.append(_Plan(parsed, "duplicate"))
            continue
        seen.add(parsed.fingerprint)
        known = latest.get(parsed.fingerprint)
        severity = mapping.severity_for(
            parsed.labels,
            label=source.severity_label,
            overrides=source.severity_map or {},
            default=source.default_severity,
        )
        component, looked_for = mapping.component_for(
            parsed.labels,
            label_names=list(source.component_labels or []),
            mapping=source.component_map or {},
            components=components,
        )
        plans.append(_Plan(parsed, _classify(parsed, known), known, severity, component, looked_for))
    return plans


def _update_row(row: Alert, plan: _Plan, now: datetime) -> None:
    """Count a report of a known alert; move it when it fired again or resolved."""
    parsed = plan.parsed
    row.last_seen_at = now
    row.times_seen += 1
    if plan.action == "again":
        row.status, row.starts_at, row.ends_at = Alert.Status.FIRING, min(parsed.starts_at or now, now), None
        row.severity, row.labels, row.annotations = plan.severity, parsed.labels, parsed.annotations
        row.generator_url = parsed.generator_url
    elif plan.action == "resolve":
        row.status, row.ends_at = Alert.Status.RESOLVED, min(parsed.ends_at or now, now)
    row.save()


def _group_incident(source: AlertSource, plans: list[_Plan], group_key: str) -> Incident | None:
    """The open incident already tracking this group: through one of its alerts, or its group key."""
    for plan in plans:
        if plan.row is not None and not plan.row.incident.is_closed:
            return plan.row.incident
    if not group_key:
        return None
    row = (
        Alert.objects.filter(source=source, group_hash=_hash(group_key))
        .exclude(incident__status__in=Incident.CLOSED_STATUSES)
        .select_related("incident")
        .order_by("-id")
        .first()
    )
    return row.incident if row else None


@transaction.atomic
def alerts_receive(
    *,
    source: AlertSource,
    batch: AlertBatch,
    body: str,
    content_type: str = "",
    remote_addr: str | None = None,
    now: datetime | None = None,
) -> tuple[Outcome, AlertReceipt]:
    """Record a delivery of alerts. Idempotent: repeated and out-of-order deliveries change nothing twice."""
    now = now or timezone.now()
    # One delivery at a time per source: an Alertmanager HA pair sends each notification from both peers.
    source = AlertSource.objects.select_for_update().get(pk=source.pk)
    bot = alerts_user()
    plans = _plan(source, batch)
    outcome = Outcome()
    group = _group_incident(source, plans, batch.group_key)
    fresh = [p for p in plans if p.action == "new"]
    if fresh and group is None:
        group = _open_incident(source=source, plans=fresh, bot=bot, now=now)
        outcome.opened = True

    changes: dict[int, list[Change]] = {}
    incidents: dict[int, Incident] = {}
    for plan in plans:
        parsed, row = plan.parsed, plan.row
        if plan.action in ("stale", "unknown"):
            outcome.ignored += 1
        elif plan.action in ("repeat", "duplicate"):
            outcome.repeated += 1
        elif plan.action == "resolve":
            outcome.resolved += 1
        if plan.action == "new":
            assert group is not None
            row = _new_row(source=source, incident=group, plan=plan, group_key=batch.group_key, now=now)
            outcome.new += 1
        elif row is not None and plan.action != "duplicate":
            _update_row(row, plan, now)
        kind = {"new": "firing", "again": "firing_again", "resolve": "resolved"}.get(plan.action)
        if row is not None and kind:
            incidents[row.incident_id] = row.incident
            links = tuple(parsed.links.items())
            changes.setdefault(row.incident_id, []).append(Change(kind, row, plan.looked_for, links))

    for incident_id, incident_changes in changes.items():
        incident = incidents[incident_id]
        firing_rows = [c.alert for c in incident_changes if c.kind != "resolved"]
        if not incident.is_closed:
            _suggest_components(incident=incident, rows=firing_rows, bot=bot)
            _escalate(incident=incident, rows=firing_rows, bot=bot)
        all_resolved = 0
        if any(c.kind == "resolved" for c in incident_changes):
            statuses = list(Alert.objects.filter(incident=incident).values_list("status", flat=True))
            if Alert.Status.FIRING not in statuses:
                all_resolved = len(statuses)
        text = note_text(
            source_name=source.name,
            changes=incident_changes,
            opened=outcome.opened and incident == group,
            all_resolved=all_resolved,
            incident_closed=incident.is_closed,
            truncated=batch.truncated,
        )
        note_add(incident=incident, author=bot, text=text, at=now)
        outcome.touched.append(incident)

    outcome.incident = group if group is not None else next(iter(incidents.values()), None)
    source.last_received_at = now
    source.save(update_fields=["last_received_at", "updated_at"])
    receipt = AlertReceipt.objects.create(
        source=source,
        received_at=now,
        outcome=AlertReceipt.Outcome.ACCEPTED,
        summary=outcome.summary()[:300],
        body=body,
        content_type=content_type[:100],
        remote_addr=remote_addr,
        incident=outcome.incident,
    )
    if outcome.opened and outcome.incident is not None:
        after_commit(
            partial(_enqueue_notifications, outcome.incident.pk, source.pk), what="alert notifications"
        )
    return outcome, receipt


def _enqueue_notifications(incident_id: int, source_id: int) -> None:
    from alerts import tasks

    tasks.notify_slack.delay(incident_id, source_id)
    tasks.notify_email.delay(incident_id, source_id)


def receipt_refused(
    *,
    source: AlertSource,
    outcome: str,
    error: str,
    body: str,
    content_type: str = "",
    remote_addr: str | None = None,
) -> AlertReceipt:
    """An authenticated delivery we could not use: kept with its body, so nothing sent is lost."""
    return AlertReceipt.objects.create(
        source=source,
        received_at=timezone.now(),
        outcome=outcome,
        error=error,
        summary=error[:300],
        body=body,
        content_type=content_type[:100],
        remote_addr=remote_addr,
    )


def receipts_prune(*, now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - timedelta(days=settings.STATUSHUB_ALERTS_KEEP_DAYS)
    deleted, _ = AlertReceipt.objects.filter(received_at__lt=cutoff).delete()
    return deleted
