"""The histories ``bench/scaling.py`` measures: one PostgreSQL schema per size, loaded in bulk with signed updates,
component changes, notes and availability days, plus the same open incidents at every size."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

# --- One schema per size ------------------------------------------------------------------------------------

_schema = {"current": "public"}


def set_search_path(sender: Any = None, connection: Any = None, **kwargs: Any) -> None:
    from django.db import connection as default

    with (connection or default).cursor() as cursor:
        cursor.execute(f'SET search_path TO "{_schema["current"]}"')


def use_schema(name: str) -> None:
    """Switch the kept-open connection to a size's schema (``connection_created`` sets it on a reconnect)."""
    from django.contrib.contenttypes.models import ContentType

    _schema["current"] = name
    set_search_path()
    ContentType.objects.clear_cache()  # ids are per schema


# --- The data -----------------------------------------------------------------------------------------------

LAYOUT = {
    "Core platform": ["Dashboard", "Public API", "Authentication"],
    "Payments": ["Payments", "Invoicing", "Webhooks"],
    "Regions": ["US region", "EU region", "APAC region"],
    "Data": ["Search", "Backups", "Exports"],
}
BODIES = {
    "investigating": "We are investigating reports of problems with {names}. Next update within 30 minutes.",
    "identified": "We have found the cause: a **configuration change** made today. A fix is on its way.",
    "monitoring": "The fix is live and error rates are back to normal. We are watching closely.",
    "resolved": "Everything has been working normally for an hour. Sorry for the disruption.",
    "postmortem": "Our postmortem is published: what happened, minute by minute, and what we changed.",
    "scheduled": "We will upgrade {names} in this window. Expect up to 10 minutes of read-only mode.",
    "in_progress": "The maintenance has started.",
    "verifying": "The upgrade is done; we are verifying that everything works.",
    "completed": "The maintenance is complete. Thank you for your patience.",
}
# The update that takes the affected components down, and the ones that bring them back.
_DOWN = {"investigating", "in_progress"}
_UP = {"resolved", "completed"}
_OUTAGE = {"sev1": "major_outage", "sev2": "partial_outage", "sev3": "degraded_performance"}


@dataclass
class Planned:
    """One history incident before it is saved: the row and what hangs off it."""

    incident: Any
    components: list[Any]
    outage: str  # the affected components' status while it lasted
    updates: list[tuple[datetime, str, str, str]]  # (published_at, status, body, author's username)
    note_at: datetime
    note_public: bool

    @property
    def span(self) -> tuple[datetime, datetime]:
        return self.incident.started_at, self.incident.resolved_at


@dataclass
class Dataset:
    size: int
    schema: str
    paths: dict[str, str] = field(default_factory=dict)  # label -> path
    span_days: float = 0.0
    updates: int = 0


def _plan(index: int, *, newest: datetime, every: timedelta, components: list[Any]) -> Planned:
    """History incident ``index`` (0 is the newest), seeded by its index: the same at every size."""
    from incidents.models import Incident

    rng = random.Random(index)  # noqa: S311  (made-up history, reproducible)
    start = (newest - every * index - every * rng.random() / 2).replace(microsecond=0)
    hit = rng.sample(components, rng.choice([1, 1, 1, 2, 2, 3]))
    names = ", ".join(c.name for c in hit)
    author = "dana" if rng.random() < 0.2 else "priya"
    if rng.random() < 0.08:
        length = timedelta(minutes=rng.choice([60, 90, 120]))
        end = start + length
        plan = [(start - timedelta(days=3), "scheduled"), (start, "in_progress")]
        plan += [(start + length * 0.8, "verifying"), (end, "completed")]
        incident = Incident(
            kind="maintenance", title=f"Scheduled maintenance of {names}", severity="sev4",
            impact="maintenance", status="completed", scheduled_for=start, scheduled_until=end,
            started_at=start, acknowledged_at=plan[0][0], resolved_at=end, created_at=plan[0][0],
        )  # fmt: skip
        outage = "under_maintenance"
    else:
        severity = rng.choices(["sev1", "sev2", "sev3", "sev4"], weights=[1, 3, 8, 3])[0]
        end = start + timedelta(minutes=rng.randint(20, 240))
        ack = start + timedelta(minutes=rng.randint(4, 12))
        statuses = ["investigating"]
        statuses += ["identified"] if rng.random() < 0.7 else []
        statuses += ["monitoring"] if rng.random() < 0.6 else []
        statuses += ["resolved"]
        step = (end - ack) / (len(statuses) - 1)
        plan = [(ack + step * n, status) for n, status in enumerate(statuses)]
        if severity == "sev1" and end + timedelta(days=2) < newest:
            plan.append((end + timedelta(days=2), "postmortem"))
        incident = Incident(
            kind="incident", title=f"Errors on {names}", severity=severity,
            impact=Incident.DEFAULT_IMPACT[Incident.Severity(severity)], status=plan[-1][1],
            detected_at=start, started_at=start, acknowledged_at=ack, resolved_at=end, created_at=start,
            monitoring_at=next((at for at, s in plan if s == "monitoring"), None),
            postmortem_url=f"https://example.com/postmortems/{index}" if plan[-1][1] == "postmortem" else "",
        )  # fmt: skip
        outage = _OUTAGE.get(severity, "degraded_performance")
    updates = [
        (at.replace(microsecond=0), status, BODIES[status].format(names=names), author if n else "priya")
        for n, (at, status) in enumerate(plan)
    ]
    return Planned(incident, hit, outage, updates, start + (end - start) / 2, rng.random() < 0.3)


def _bulk(model: Any, rows: list[Any]) -> None:
    model.objects.bulk_create(rows, batch_size=2000)


def _signed_updates(plans: list[Planned], people: dict[str, Any]) -> Iterator[Any]:
    """Every planned update as a row, signed in publication order into one chain as ``update_publish`` signs
    it; then the chain head is moved to the last of them."""
    from django.conf import settings

    from incidents import signing
    from incidents.models import ChainHead, IncidentUpdate
    from people.services import profile_for
    from statushub.lib import signing as lib
    from statushub.lib.markdown import render_markdown

    keys = {who: signing.active_key(user) for who, user in people.items()}
    private = {
        who: lib.decrypt_private_key(key.encrypted_private_key, settings.STATUSHUB_KEY_ENCRYPTION_KEYS)
        for who, key in keys.items()
        if key is not None
    }
    profiles = {who: profile_for(user) for who, user in people.items()}
    html: dict[str, str] = {}
    entries = sorted((at, n, k) for n, plan in enumerate(plans) for k, (at, *_) in enumerate(plan.updates))
    seq, prev = 0, ""
    for at, n, k in entries:
        plan = plans[n]
        _, status, body, who = plan.updates[k]
        key, profile = keys[who], profiles[who]
        assert key is not None
        moved_to = "operational" if status in _UP else plan.outage if status in _DOWN else None
        moved_from = plan.outage if status in _UP else "operational"
        changes = [
            {"code": str(c.pk), "name": c.name, "old_status": moved_from, "new_status": moved_to}
            for c in plan.components
            if moved_to
        ]
        seq, public_id = seq + 1, f"h{n:07d}{k:04d}"
        fields = signing.statement_fields(
            key=key, incident=plan.incident, public_id=public_id, seq=seq, prev=prev, status=status,
            components=[{"id": c["code"], "name": c["name"], "status": c["new_status"]} for c in changes],
            body=body, author_name=profile.name, author_title=profile.title, published_at=at, corrects=None,
        )  # fmt: skip
        statement = lib.build_statement(fields)
        if body not in html:
            html[body] = render_markdown(body)
        yield IncidentUpdate(
            public_id=public_id, incident=plan.incident, status=status, body=body, body_html=html[body],
            author=people[who], author_name=profile.name, author_title=profile.title, published_at=at,
            affected_components=changes, seq=seq, signing_key=key, statement=statement,
            statement_sha256=lib.digest(statement), prev_sha256=prev, created_at=at,
            signature=lib.b64encode_signature(lib.sign(private[who], statement)),
        )  # fmt: skip
        prev = lib.digest(statement)
    ChainHead.objects.update_or_create(pk=1, defaults={"seq": seq, "digest": prev})


def _load_history(
    size: int, *, newest: datetime, every: timedelta, components: list[Any], people: dict[str, Any]
) -> int:
    """Bulk-load ``size`` closed incidents with everything they carry. Returns how many updates they have."""
    from incidents.models import (
        AffectedComponent,
        ComponentStatusChange,
        Incident,
        IncidentUpdate,
        ProgressNote,
    )

    plans = [_plan(n, newest=newest, every=every, components=components) for n in range(size)]
    _bulk(Incident, [p.incident for p in plans])
    updates, batch = 0, []
    for update in _signed_updates(plans, people):
        batch.append(update)
        if len(batch) == 5000:
            _bulk(IncidentUpdate, batch)
            updates, batch = updates + len(batch), []
    _bulk(IncidentUpdate, batch)
    updates += len(batch)

    affected, changes = [], []
    for p in plans:
        began, ended = p.span
        for c in p.components:
            affected.append(AffectedComponent(incident=p.incident, component=c, status="operational"))
            changes += [
                ComponentStatusChange(component=c, status=p.outage, previous_status="operational",
                                      changed_at=began, incident=p.incident, changed_by=people["priya"]),
                ComponentStatusChange(component=c, status="operational", previous_status=p.outage,
                                      changed_at=ended, incident=p.incident, changed_by=people["priya"]),
            ]  # fmt: skip
    _bulk(AffectedComponent, affected)
    _bulk(ComponentStatusChange, changes)
    text = "Rolled back the deploy on one host."
    notes = [
        ProgressNote(incident=p.incident, author=people["marco"], text=text, text_html=f"<p>{text}</p>",
                     is_public=p.note_public, created_at=p.note_at)
        for p in plans
    ]  # fmt: skip
    _bulk(ProgressNote, notes)
    _load_days(plans, components, newest=newest)
    return updates


def _load_days(plans: list[Planned], components: list[Any], *, newest: datetime) -> None:
    """Availability rows for every day before the 90 on the page (``recompute_component_days`` writes those):
    a long-lived site keeps one row per component and day since it began."""
    from incidents.models import ComponentDay

    column = {
        "degraded_performance": "degraded_seconds",
        "partial_outage": "partial_seconds",
        "major_outage": "major_seconds",
        "under_maintenance": "maintenance_seconds",
    }
    seconds: dict[tuple[int, date], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for p in plans:
        began, ended = p.span
        for c in p.components:
            seconds[(c.pk, began.date())][column[p.outage]] += int((ended - began).total_seconds())
    last = newest.date() - timedelta(days=91)
    rows = []
    for c in components:
        day = c.created_at.date()
        while day <= last:
            rows.append(
                ComponentDay(component=c, day=day, observed_seconds=86400, **seconds.get((c.pk, day), {}))
            )
            day += timedelta(days=1)
    _bulk(ComponentDay, rows)


def _open_incidents(*, now: datetime, components: dict[str, Any], people: dict[str, Any]) -> int:
    """The same at every size: two active incidents, a maintenance in progress and one upcoming, published
    through the real service. Returns the first incident's id."""
    from incidents import services
    from incidents.models import Incident

    def ago(minutes: int) -> datetime:
        return now - timedelta(minutes=minutes)

    def publish(incident: Incident, who: str, status: str, body: str, minutes: int, **kw: Any) -> None:
        services.update_publish(
            incident=incident, author=people[who], status=status, body=body, at=ago(minutes), **kw
        )

    payments = Incident.objects.create(
        title="Some customers charged twice on renewal",
        severity="sev2",
        detected_at=ago(80),
        started_at=ago(90),
    )
    publish(payments, "priya", "investigating", BODIES["investigating"].format(names="Payments"), 72,
            component_statuses={components["Payments"]: "partial_outage"})  # fmt: skip
    notes = [
        (60, "Duplicates all come from retried renewals.", False),
        (50, "Found it: a retry after a timeout was sent as a new charge.", True),
    ]
    for minutes, text, public in notes:
        services.note_add(
            incident=payments, author=people["marco"], text=text, is_public=public, at=ago(minutes)
        )
    apology = "I'm Dana, our CEO. We have found the cause; **every** duplicate charge will be refunded."
    publish(payments, "dana", "identified", apology, 40, next_update_at=now + timedelta(minutes=20))

    latency = Incident.objects.create(
        title="Elevated API latency in the EU", severity="sev3", detected_at=ago(160), started_at=ago(165)
    )
    publish(latency, "priya", "investigating", BODIES["investigating"].format(names="Public API"), 150,
            component_statuses={components["Public API"]: "degraded_performance"})  # fmt: skip
    publish(latency, "priya", "identified", BODIES["identified"], 120)
    publish(latency, "priya", "monitoring", BODIES["monitoring"], 30)

    search = Incident.objects.create(
        kind="maintenance", status="scheduled", title="Search index migration", severity="sev4",
        scheduled_for=ago(60), scheduled_until=ago(-60),
    )  # fmt: skip
    publish(search, "priya", "scheduled", BODIES["scheduled"].format(names="Search"), 170)
    publish(search, "priya", "in_progress", BODIES["in_progress"], 60,
            component_statuses={components["Search"]: "under_maintenance"})  # fmt: skip

    upgrade = Incident.objects.create(
        kind="maintenance", status="scheduled", title="Database upgrade for the EU region", severity="sev4",
        scheduled_for=now + timedelta(days=5), scheduled_until=now + timedelta(days=5, hours=1),
    )  # fmt: skip
    publish(upgrade, "priya", "scheduled", BODIES["scheduled"].format(names="the EU region"), 20)
    upgrade.affected.create(component=components["EU region"], status="under_maintenance")
    return payments.pk


def _people(*, born: datetime) -> dict[str, Any]:
    from django.contrib.auth.models import Group, User

    from incidents import signing
    from people import roles
    from people.services import profile_for

    roles.sync_role_groups()
    people = {}
    for username, first, last, title, role in [
        ("priya", "Priya", "Raman", "VP Engineering", roles.PUBLISHER),
        ("dana", "Dana", "Whitfield", "CEO", roles.PUBLISHER),
        ("marco", "Marco", "Rossi", "Payments engineer", roles.ENGINEER),
    ]:
        user = User.objects.create_user(username, first_name=first, last_name=last, is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        profile = profile_for(user)
        profile.title = title
        profile.save()
        if role == roles.PUBLISHER:
            signing.key_create(owner=user, at=born)  # valid for the whole history
        people[username] = user
    return people


def _components(*, born: datetime) -> dict[str, Any]:
    from incidents.models import Component, ComponentGroup, ComponentStatusChange

    components = {}
    for g, (group_name, names) in enumerate(LAYOUT.items()):
        group = ComponentGroup.objects.create(name=group_name, position=g, created_at=born)
        for p, name in enumerate(names):
            component = Component.objects.create(
                group=group, name=name, position=p, created_at=born, start_date=born.date()
            )
            ComponentStatusChange.objects.create(component=component, status="operational", changed_at=born)
            components[name] = component
    return components


def load(size: int, *, now: datetime, every: timedelta) -> Dataset:
    """A fresh schema with ``size`` incidents of history and the constant open ones."""
    from django.core.management import call_command
    from django.db import connection
    from django.urls import reverse

    from incidents.availability import recompute_component_days
    from incidents.models import IncidentUpdate

    dataset = Dataset(size, f"size_{size}")
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{dataset.schema}"')
    use_schema(dataset.schema)
    call_command("migrate", verbosity=0)

    newest = now - timedelta(hours=8)
    oldest = newest - every * size - timedelta(days=3)
    born = oldest - timedelta(days=30)
    people = _people(born=born)
    components = _components(born=born)
    dataset.updates = _load_history(
        size, newest=newest, every=every, components=list(components.values()), people=people
    )
    incident = _open_incidents(now=now, components=components, people=people)
    for component in components.values():
        recompute_component_days(component, now=now)
    dataset.span_days = (newest - oldest).total_seconds() / 86400

    # The month of the newest history: the one a change re-renders, with the same incidents at every size.
    month = IncidentUpdate.objects.filter(incident__status="resolved").latest("published_at").published_at
    api = components["Public API"].pk
    dataset.paths = {
        "status page": reverse("status:page"),
        "live region": reverse("status:live"),
        "incident page": reverse("status:incident", args=[incident]),
        "incident JSON": reverse("status:incident-json", args=[incident]),
        "history month": reverse("status:history-month", args=[month.year, month.month]),
        "v2 summary": reverse("statuspage:summary"),
        "v2 incidents": reverse("statuspage:incidents"),
        "v2 unresolved": reverse("statuspage:incidents-unresolved"),
        "v2 components": reverse("statuspage:components"),
        "v2 maintenances": reverse("statuspage:maintenances"),
        "page Atom": reverse("feeds:history-atom"),
        "page RSS": reverse("feeds:history-rss"),
        "component Atom": reverse("feeds:component-atom", args=[api]),
        "incident Atom": reverse("feeds:incident-atom", args=[incident]),
        "keys": reverse("status:keys"),
        "chain": reverse("status:chain"),
    }
    return dataset
