"""Answering a mention as a person: saved replies filled in, and the reply sent through the delivery engine when
a named person presses Send (never by a machine)."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from channels.models import Channel
from channels.services import MessageError, message_queue
from incidents.documents import absolute
from incidents.models import Incident, IncidentUpdate
from integrations.base import Remote
from mentions.models import Mention, MentionReply, SavedReply
from people.models import Profile
from people.services import profile_for


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class FillContext:
    """What every reply about one incident by one replier shares: read once for a whole list of replies."""

    profile: Profile
    update: IncidentUpdate | None

    @classmethod
    def for_incident(cls, incident: Incident | None, replier: User) -> "FillContext":
        update = (
            IncidentUpdate.objects.filter(incident=incident).order_by("-published_at").first()
            if incident
            else None
        )
        return cls(profile_for(replier), update)


def fill(saved: SavedReply, mention: Mention, replier: User, *, context: FillContext | None = None) -> str:
    """The saved reply with its placeholders filled from the mention, its incident and the replier."""
    context = context or FillContext.for_incident(mention.incident, replier)
    profile, update = context.profile, context.update
    values = _Blank(
        name=mention.author_name or mention.author_handle or "there",
        me=profile.name,
        my_title=profile.title,
        my_email=profile.work_email,
        my_phone=profile.work_phone,
        my_handle=profile.work_handle,
        incident=mention.incident.title if mention.incident else "",
        company=settings.STATUSHUB_SITE_NAME,
        update_url=absolute(reverse("status:update", args=[update.public_id])) if update else "",
    )
    try:
        return saved.body.format_map(values).strip()
    except (ValueError, IndexError) as exc:
        raise ValidationError(
            f"The saved reply “{saved}” cannot be filled ({exc}): fix it in the admin."
        ) from exc


def channel_for(mention: Mention) -> Channel | None:
    """The company's own connected account on the mention's service (not a person's own account)."""
    return (
        Channel.objects.filter(kind=mention.service, enabled=True, owner__isnull=True).order_by("pk").first()
    )


@transaction.atomic
def reply_send(
    *,
    mention: Mention,
    text: str,
    kind: str,
    by: User,
    replies_seen: int | None = None,
    since: datetime | None = None,
) -> MentionReply:
    """Queue the reply on the delivery engine (or record an answer given by hand); the mention is answered.

    Checked under the mention's lock, so a second press (or a colleague's) never answers twice: with
    ``replies_seen`` (how many replies the sender's page showed), any reply since refuses this one; with
    ``since`` (a follow-up after the fix), a reply already sent since then does."""
    text = text.strip()
    if not text:
        raise ValidationError("Write the reply first.")
    locked = Mention.objects.select_for_update(of=("self",)).get(pk=mention.pk)
    answered = MentionReply.objects.filter(mention=locked)
    if replies_seen is not None and answered.count() != replies_seen:
        raise ValidationError(
            "Someone answered this mention a moment ago: read their reply before sending yours."
        )
    if since is not None and answered.filter(sent_at__gte=since).exists():
        raise ValidationError("Already answered since the fix.")
    now = timezone.now()
    delivery = None
    if kind != MentionReply.Kind.BY_HAND:
        channel = channel_for(locked)
        if channel is None:
            raise ValidationError(
                f"No {locked.get_service_display()} account is connected to answer from: connect one on the "
                "Channels page, or answer by hand and record it here."
            )
        to = Remote(
            id=locked.remote_id if kind == MentionReply.Kind.REPLY else locked.author_id,
            account=locked.author_handle,
            url=locked.url,
        )
        try:
            delivery = message_queue(channel=channel, kind=kind, text=text, to=to, by=by)
        except MessageError as exc:
            raise ValidationError(str(exc)) from exc
    reply = MentionReply.objects.create(
        mention=locked, kind=kind, body=text, sent_by=by, sent_at=now, delivery=delivery
    )
    locked.state = Mention.State.ANSWERED
    if locked.first_response_at is None:
        locked.first_response_at = now
    locked.reply_draft, locked.reply_draft_by, locked.reply_draft_at = "", None, None
    locked.save(
        update_fields=["state", "first_response_at", "reply_draft", "reply_draft_by", "reply_draft_at"]
    )
    return reply


def reply_draft(*, mention: Mention, text: str, by: User) -> Mention:
    """Keep a drafted reply on the mention for a person to review and send: a machine never sends one."""
    text = text.strip()
    if not text:
        raise ValidationError("Write the reply first.")
    now = timezone.now()
    Mention.objects.filter(pk=mention.pk).update(reply_draft=text, reply_draft_by=by, reply_draft_at=now)
    mention.reply_draft, mention.reply_draft_by, mention.reply_draft_at = text, by, now
    return mention


def after_the_fix(incident_id: int, resolved_at: datetime) -> list[Mention]:
    """Everyone whose mention is linked to the incident and who has not been answered since it was fixed."""
    answered_since = MentionReply.objects.filter(mention=OuterRef("pk"), sent_at__gte=resolved_at)
    return list(
        Mention.objects.filter(incident_id=incident_id)
        .exclude(state=Mention.State.SET_ASIDE)
        .exclude(Exists(answered_since))
        .order_by("-priority", "posted_at")[:200]
    )


# The saved replies every install starts with (migration 0003 added them; ``seed_demo`` makes sure of them).
DEFAULT_SAVED_REPLIES = [
    ("Take it offline", SavedReply.Kind.OFFLINE,
     "Hi {name}, I'm {me}, {my_title} at {company}. I'm sorry for the frustration this is causing. I'd like to "
     "sort this out with you directly: could you send me a private message, or write to me at {my_email}? "
     "I'll take it from there."),
    ("We are on it", SavedReply.Kind.ON_IT,
     "Hi {name}, I'm {me} at {company}. Sorry for the trouble: we know about it and are working on it right now. "
     "Our latest update, signed by the people handling it: {update_url}"),
    ("It should be working now", SavedReply.Kind.FIXED,
     "Hi {name}, {me} from {company} here. This should be working again now. If it still isn't for you, send me "
     "a private message and I'll look into it myself."),
]  # fmt: skip


def ensure_default_saved_replies() -> None:
    for position, (name, kind, body) in enumerate(DEFAULT_SAVED_REPLIES):
        SavedReply.objects.get_or_create(
            name=name, defaults={"kind": kind, "body": body, "position": position}
        )
