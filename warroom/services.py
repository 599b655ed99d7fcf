"""What the war room's team does: keep the situation, hold roles, suggest wording, acknowledge in one click.
And what it keeps track of by itself: promises made and kept, the timeline."""

from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone

from incidents import drafts
from incidents.models import Incident, IncidentRole, IncidentUpdate, ProgressNote, UpdateDraft
from incidents.permissions import PUBLISH
from people.services import audit_record
from warroom.audit import Action
from warroom.clock import detected_at, policy_for, proposed_next_update
from warroom.models import Promise, SituationVersion, Suggestion, TimelineEntry

SINGULAR_ROLES = [r for r in IncidentRole.Role if r != IncidentRole.Role.SECONDARY_COMMUNICATOR]


def name_of(user: User | None) -> str:
    if user is None:
        return "StatusHub"
    return user.get_full_name() or user.get_username()


def timeline_add(
    *, incident: Incident, kind: str, text: str, actor: User | None = None, at: datetime | None = None
) -> TimelineEntry:
    return TimelineEntry.objects.create(
        incident=incident,
        kind=kind,
        text=text,
        actor=actor,
        actor_name=name_of(actor) if actor else "",
        at=at or timezone.now(),
    )


def situation_current(incident: Incident) -> SituationVersion | None:
    return SituationVersion.objects.filter(incident=incident).select_related("author").first()


@transaction.atomic
def situation_save(*, incident: Incident, author: User, **facts: object) -> SituationVersion:
    """A new version of the situation (the old ones are kept): numbered under the incident's row lock."""
    Incident.objects.select_for_update().filter(pk=incident.pk).first()
    last = SituationVersion.objects.filter(incident=incident).aggregate(v=Max("version"))["v"] or 0
    unknown = set(facts) - set(SituationVersion.FACTS)
    if unknown:
        raise ValueError(f"not situation facts: {sorted(unknown)}")
    version = SituationVersion.objects.create(incident=incident, version=last + 1, author=author, **facts)
    timeline_add(
        incident=incident,
        kind=TimelineEntry.Kind.SITUATION,
        actor=author,
        text=f"{name_of(author)} updated the situation (version {version.version}).",
    )
    return version


def may_speak(user: User, incident: Incident) -> bool:
    """Who decides what the incident says: its primary communicator and publishers."""
    return (
        user.has_perm(PUBLISH)
        or IncidentRole.objects.filter(
            incident=incident, user=user, role=IncidentRole.Role.PRIMARY_COMMUNICATOR
        ).exists()
    )


def may_manage_roster(user: User, incident: Incident) -> bool:
    """The commander, and whoever may edit incidents (communicators and publishers, as in the admin)."""
    return (
        user.has_perm("incidents.edit_incident_details")
        or IncidentRole.objects.filter(
            incident=incident, user=user, role=IncidentRole.Role.COMMANDER
        ).exists()
    )


def may_name_the_voice(user: User, incident: Incident) -> bool:
    return (
        user.has_perm(PUBLISH)
        or IncidentRole.objects.filter(
            incident=incident, user=user, role=IncidentRole.Role.COMMANDER
        ).exists()
    )


@transaction.atomic
def role_assign(*, incident: Incident, user: User, role: str, by: User) -> IncidentRole:
    """Give ``user`` the role; for a role one person holds, this hands it over (the history keeps who held it)."""
    if not may_manage_roster(by, incident):
        raise PermissionDenied(
            "Only the incident's commander (or whoever edits incidents) changes the roster."
        )
    role = IncidentRole.Role(role)
    if role == IncidentRole.Role.PRIMARY_COMMUNICATOR:
        if not user.has_perm("incidents.add_updatedraft"):
            raise ValidationError(
                f"{name_of(user)} cannot write updates, so cannot be the primary communicator."
            )
        if not may_name_the_voice(by, incident):
            # The primary communicator may publish the first acknowledgement: nobody gives themselves that.
            raise PermissionDenied(
                "Only the incident's commander or a publisher names the primary communicator."
            )
    Incident.objects.select_for_update().filter(pk=incident.pk).first()
    existing = IncidentRole.objects.filter(incident=incident, role=role)
    if existing.filter(user=user).exists():
        return existing.get(user=user)
    label = role.label.lower()
    if role in SINGULAR_ROLES and (previous := existing.select_related("user").first()) is not None:
        previous.delete()
        text = f"{name_of(previous.user)} handed {label} over to {name_of(user)}."
    else:
        text = f"{name_of(user)} is now {label}."
    held = IncidentRole.objects.create(incident=incident, user=user, role=role)
    if by != user:
        text += f" (set by {name_of(by)})"
    timeline_add(incident=incident, kind=TimelineEntry.Kind.ROLE, actor=by, text=text)
    return held


@transaction.atomic
def role_release(*, incident: Incident, user: User, role: str, by: User) -> None:
    if by != user and not may_manage_roster(by, incident):
        raise PermissionDenied(
            "Only the incident's commander, communicators and publishers change the roster."
        )
    deleted, _ = IncidentRole.objects.filter(incident=incident, user=user, role=role).delete()
    if deleted:
        label = IncidentRole.Role(role).label.lower()
        timeline_add(
            incident=incident,
            kind=TimelineEntry.Kind.ROLE,
            actor=by,
            text=f"{name_of(user)} is no longer {label}; the role is vacant.",
        )


def suggestion_create(*, incident: Incident, author: User, body: str) -> Suggestion:
    body = body.strip()
    if not body:
        raise ValidationError("Write the wording you suggest.")
    suggestion = Suggestion.objects.create(incident=incident, author=author, body=body)
    timeline_add(
        incident=incident,
        kind=TimelineEntry.Kind.SUGGESTION,
        actor=author,
        text=f"{name_of(author)} suggested wording for the next update.",
    )
    return suggestion


@transaction.atomic
def suggestion_decide(*, suggestion: Suggestion, by: User, accept: bool) -> UpdateDraft | None:
    """Accepted, the wording goes into the shared draft (its body if empty, else after what is there: nobody's words
    are lost, and the draft's version moves so nobody overwrites it unknowingly); declined, it stays on record.
    Only the primary communicator or a publisher decides."""
    locked = (
        Suggestion.objects.select_for_update(of=("self",))
        .select_related("incident", "author")
        .get(pk=suggestion.pk)
    )
    if not may_speak(by, locked.incident):
        raise PermissionDenied(
            "Only the primary communicator (or a publisher) accepts or declines suggestions."
        )
    if locked.state != Suggestion.State.OPEN:
        raise ValidationError(f"That suggestion was already {locked.get_state_display().lower()}.")
    locked.state = Suggestion.State.ACCEPTED if accept else Suggestion.State.DECLINED
    locked.decided_by, locked.decided_at = by, timezone.now()
    locked.save()
    draft = None
    if accept:
        draft = _append_to_draft(locked.incident, by, locked.body)
    verb = "accepted" if accept else "declined"
    timeline_add(
        incident=locked.incident,
        kind=TimelineEntry.Kind.SUGGESTION,
        actor=by,
        text=f"{name_of(by)} {verb} {name_of(locked.author)}'s suggestion.",
    )
    return draft


@transaction.atomic
def quote_note(*, note: ProgressNote, user: User) -> UpdateDraft:
    """An engineer's note quoted at the end of the shared draft, as the compose screen's quote button does."""
    quoted = "\n".join(f"> {line}" for line in note.text.splitlines())
    return _append_to_draft(note.incident, user, f"{quoted}\n>\n> — {note.author_name}, engineering")


def draft_status_or_default(incident: Incident) -> str:
    return incident.status if incident.status in Incident.INCIDENT_STATUSES else Incident.Status.INVESTIGATING


def _append_to_draft(
    incident: Incident, user: User, text: str, *, status: str = "", next_update_at: datetime | None = None
) -> UpdateDraft:
    """``text`` as the shared draft's body if it is empty, else after it; locked, and never a published draft."""
    draft = drafts.draft_for_incident(incident=incident, user=user)
    draft = UpdateDraft.objects.select_for_update(of=("self",)).get(pk=draft.pk)
    if draft.is_published:  # published between the lookup and the lock: start the next one
        raise ValidationError("The draft was published a moment ago: open the next one and try again.")
    draft.body = f"{draft.body.rstrip()}\n\n{text}" if draft.body.strip() else text
    if status:
        draft.status = draft.status or status
    if next_update_at is not None:
        draft.next_update_at = next_update_at
    draft.last_edited_by = user
    draft.version += 1
    draft.pending_statement = b""
    draft.save()
    return draft


def _affected_phrase(incident: Incident, situation: SituationVersion | None) -> tuple[str, str]:
    if situation and situation.affected:
        names = situation.affected
    else:
        names = ", ".join(c.name for c in incident.components.order_by("name")) or incident.title
    plural = "," in names or " and " in names
    return names, "are" if plural else "is"


def acknowledgement_text(incident: Incident, *, now: datetime) -> tuple[str, datetime]:
    """The severity's first-acknowledgement template, filled from the situation panel, and the time it promises."""
    policy = policy_for(incident.severity)
    next_update = proposed_next_update(policy, now)
    situation = situation_current(incident)
    affected, verb = _affected_phrase(incident, situation)
    try:
        text = policy.ack_template.format_map(
            _Blank(
                affected=affected,
                verb=verb,
                next_update=f"{next_update:%H:%M} UTC",
                customers=situation.customers if situation else "",
                workaround=situation.workaround if situation else "",
            )
        )
    except (ValueError, IndexError, KeyError) as exc:
        raise ValidationError(
            f"The {incident.severity.upper()} acknowledgement template cannot be filled ({exc}): fix it in the "
            "admin (War room, Severity policies)."
        ) from exc
    if situation and situation.workaround and "{workaround}" not in policy.ack_template:
        text += f"\n\nIn the meantime: {situation.workaround.rstrip('.')}."
    return text, next_update


class _Blank(dict[str, str]):
    """A template's unknown placeholders stay visible rather than failing the click."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@transaction.atomic
def acknowledgement_draft(*, incident: Incident, user: User, now: datetime | None = None) -> UpdateDraft:
    """One click: the shared draft filled with the first acknowledgement, for a person to review and publish.
    Whatever the draft held is replaced only if it was empty, so no one's words are lost."""
    if incident.acknowledged_at is not None:
        raise ValidationError("This incident has been acknowledged already: compose the next update instead.")
    now = now or timezone.now()
    text, next_update = acknowledgement_text(incident, now=now)
    return _append_to_draft(
        incident, user, text, status=draft_status_or_default(incident), next_update_at=next_update
    )


def open_promise(incident: Incident) -> Promise | None:
    return Promise.objects.filter(incident=incident, kept_at__isnull=True, closed_at__isnull=True).first()


def on_update_publishing(update: IncidentUpdate) -> None:
    """Inside the publish: the update keeps (or misses) the open promise, records its own, and the timeline says
    so. Corrections neither keep nor make promises: they fix what was said."""
    if update.corrects_id is not None:
        return
    incident = update.incident
    author = update.author
    who = update.author_name
    first = not IncidentUpdate.objects.filter(incident=incident).exclude(pk=update.pk).exists()
    if first:
        clock_text = _ack_text(incident, update)
        timeline_add(incident=incident, kind=TimelineEntry.Kind.ACK, actor=author, at=update.published_at,
                     text=f"{who} published the first acknowledgement {clock_text}.")  # fmt: skip
    else:
        timeline_add(incident=incident, kind=TimelineEntry.Kind.UPDATE, actor=author, at=update.published_at,
                     text=f"{who} published an update ({update.get_status_display()}).")  # fmt: skip
    for promise in Promise.objects.select_for_update().filter(
        incident=incident, kept_at__isnull=True, closed_at__isnull=True
    ):
        promise.kept_at, promise.kept_by_update = update.published_at, update
        promise.save(update_fields=["kept_at", "kept_by_update"])
        late = promise.missed_by()
        outcome = f"missed by {_minutes(late.total_seconds())}" if late else "kept"
        timeline_add(incident=incident, kind=TimelineEntry.Kind.PROMISE, actor=author, at=update.published_at,
                     text=f"The update promised by {promise.due_at:%H:%M} UTC came at "
                          f"{update.published_at:%H:%M} UTC: promise {outcome}.")  # fmt: skip
    if update.next_update_at is not None:
        Promise.objects.create(
            incident=incident,
            made_by_update=update,
            promised_at=update.published_at,
            due_at=update.next_update_at,
        )
        timeline_add(incident=incident, kind=TimelineEntry.Kind.PROMISE, actor=author, at=update.published_at,
                     text=f"{who} promised the next update by {update.next_update_at:%H:%M} UTC.")  # fmt: skip


def on_incident_closed(incident: Incident) -> None:
    """Resolved without another update (e.g. never public): nothing more is owed."""
    Promise.objects.filter(incident=incident, kept_at__isnull=True, closed_at__isnull=True).update(
        closed_at=timezone.now()
    )


def _ack_text(incident: Incident, update: IncidentUpdate) -> str:
    policy = policy_for(incident.severity)
    elapsed = (update.published_at - detected_at(incident)).total_seconds()
    verdict = "within" if elapsed <= policy.tta_target.total_seconds() else "past"
    return (
        f"{_minutes(elapsed)} after detection, {verdict} the {policy.tta_target_minutes}-minute target "
        f"for {incident.severity.upper()}"
    )


def _minutes(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 120:
        return f"{minutes} min {rest:02d} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def record_override(
    *, incident: Incident, user: User, reason: str, kinds: list[str], request: HttpRequest | None = None
) -> None:
    """Publishing past the tone guard: the reason goes to the audit log and the team's timeline."""
    audit_record(
        action=Action.TONE_OVERRIDE,
        actor=user,
        target=str(incident),
        data={"reason": reason, "flags": kinds},
        request=request,
    )
    timeline_add(
        incident=incident,
        kind=TimelineEntry.Kind.OVERRIDE,
        actor=user,
        text=f"{name_of(user)} published past the tone guard ({', '.join(kinds)}): “{reason}”",
    )
