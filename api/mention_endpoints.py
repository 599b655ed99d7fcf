"""``/api/v1/mentions`` and ``/api/v1/mention-sources``: what customers say, and where we listen."""

from typing import Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Schema, Status

from api.auth import ApiError, authorize
from api.endpoints import READ_ERRORS, WRITE_ERRORS, Error, Id, _invalid_field, api
from api.mention_schemas import (
    MentionIn,
    MentionOut,
    MentionPage,
    MentionState,
    PollOut,
    ReplyDraftIn,
    ReplyDraftOut,
    Service,
    SourceIn,
    SourceOut,
)
from api.scopes import MENTIONS_READ, MENTIONS_WRITE, SOURCES_WRITE
from channels.models import Channel
from mentions import polling, replies, services
from mentions.models import Mention, MentionSource
from warroom import guard


class MentionFilters(Schema):
    incident: int | None = Field(None, ge=1, description="Only mentions linked to this incident.")
    state: MentionState | Literal["open", "all"] = Field(
        "open", description="open (new or assigned) by default."
    )
    source: int | None = Field(None, ge=1, description="Only what this source heard.")
    service: Service | None = None
    priority: int | None = Field(None, ge=0, le=100, description="At least this priority.")
    limit: int = Field(50, ge=1, le=100)
    offset: int = Field(0, ge=0, le=1_000_000)


def mention_document(m: Mention) -> dict[str, Any]:
    return {
        "id": m.pk, "service": m.service, "remote_id": m.remote_id, "url": m.url, "text": m.text,
        "author_handle": m.author_handle, "author_name": m.author_name, "followers": m.followers,
        "posted_at": m.posted_at, "received_at": m.received_at, "state": m.state, "sentiment": m.sentiment,
        "cues": m.cues, "priority": m.priority, "priority_reasons": m.priority_reasons,
        "incident_id": m.incident_id, "suggested_incident_id": m.suggested_incident_id, "customer_id": None,
        "assigned_to": m.assigned_to.get_username() if m.assigned_to else None,
    }  # fmt: skip


def source_document(s: MentionSource) -> dict[str, Any]:
    return {
        "id": s.pk, "kind": s.kind, "name": s.name, "enabled": s.enabled, "config": s.config,
        "searches": s.search_terms, "poll_seconds": s.poll_seconds, "last_polled_at": s.last_polled_at,
        "next_poll_at": s.next_poll_at, "last_error": s.last_error, "failures": s.failures,
    }  # fmt: skip


def filtered(f: MentionFilters) -> QuerySet[Mention]:
    mentions = Mention.objects.select_related("assigned_to")
    if f.state == "open":
        mentions = mentions.filter(state__in=Mention.OPEN_STATES)
    elif f.state != "all":
        mentions = mentions.filter(state=f.state)
    if f.incident is not None:
        mentions = mentions.filter(incident_id=f.incident)
    if f.source is not None:
        mentions = mentions.filter(source_id=f.source)
    if f.service is not None:
        mentions = mentions.filter(service=f.service)
    if f.priority is not None:
        mentions = mentions.filter(priority__gte=f.priority)
    return mentions.order_by("-priority", "-posted_at", "-id")


@api.get("/mentions", response={200: MentionPage, **READ_ERRORS}, tags=["mentions"], summary="List mentions")
def mention_list(request: HttpRequest, filters: Query[MentionFilters]) -> dict[str, Any]:
    """Most urgent first (priority, then newest). Open mentions unless `state` says otherwise."""
    authorize(request, MENTIONS_READ)
    mentions = filtered(filters)
    items = list(mentions[filters.offset : filters.offset + filters.limit])
    return {
        "count": mentions.count(),
        "limit": filters.limit,
        "offset": filters.offset,
        "items": [mention_document(m) for m in items],
    }


@api.post("/mentions", response={201: MentionOut, 200: MentionOut, **WRITE_ERRORS}, tags=["mentions"],
          summary="Enter a mention by hand")  # fmt: skip
def mention_create(request: HttpRequest, payload: MentionIn) -> Status[dict[str, Any]]:
    """Scored and suggested for an incident like a heard one. With a `remote_id` already stored for the service,
    nothing new is stored and the existing mention answers (200)."""
    user, _token = authorize(request, MENTIONS_WRITE)
    now = timezone.now()
    remote_id = payload.remote_id or f"manual:{user.pk}:{now.timestamp():.6f}"
    existing = Mention.objects.filter(service=payload.service, remote_id=remote_id).first()
    if existing is not None:
        return Status(200, mention_document(existing))
    incoming = services.Incoming(
        service=payload.service, remote_id=remote_id, text=payload.text, posted_at=payload.posted_at or now,
        url=str(payload.url or ""), author_handle=payload.author_handle, followers=payload.followers,
        found_by="entered by hand",
    )  # fmt: skip
    services.ingest([incoming], now=now, entered_by=user)
    mention = Mention.objects.get(service=payload.service, remote_id=remote_id)
    return Status(201, mention_document(mention))


@api.get("/mention-sources", response={200: list[SourceOut], **READ_ERRORS}, tags=["mentions"],
         summary="Where we listen")  # fmt: skip
def source_list(request: HttpRequest) -> list[dict[str, Any]]:
    authorize(request, MENTIONS_READ)
    return [source_document(s) for s in MentionSource.objects.order_by("name", "id")]


@api.post("/mention-sources", response={201: SourceOut, **WRITE_ERRORS}, tags=["mentions"],
          summary="Listen somewhere new")  # fmt: skip
def source_create(request: HttpRequest, payload: SourceIn) -> Status[dict[str, Any]]:
    """An RSS/Atom feed (`url`), or a connected Mastodon account or Discourse forum (`channel_id`) with saved
    searches. The worker
    polls it every `poll_seconds`; `POST /mention-sources/{id}/poll` polls now."""
    authorize(request, SOURCES_WRITE)
    config: dict[str, Any] = {}
    channel = None
    if payload.kind == "rss":
        if payload.url is None:
            raise _invalid_field(["url"], "an RSS source needs the feed's url")
        config["url"] = str(payload.url)
    else:
        channel = Channel.objects.filter(pk=payload.channel_id or 0, kind=payload.kind).first()
        if channel is None:
            raise _invalid_field(
                ["channel_id"], f"a {payload.kind} source needs the id of a connected {payload.kind} channel"
            )
    source = MentionSource.objects.create(
        kind=payload.kind, name=payload.name, config=config, channel=channel,
        searches="\n".join(s.strip() for s in payload.searches if s.strip()), poll_seconds=payload.poll_seconds,
    )  # fmt: skip
    return Status(201, source_document(source))


@api.post("/mention-sources/{source_id}/poll", response={200: PollOut, 409: Error, **WRITE_ERRORS}, tags=["mentions"],
          summary="Poll a source now")  # fmt: skip
def source_poll(request: HttpRequest, source_id: Id) -> dict[str, Any]:
    """As the inbox's *Check now*: the source is asked at once. A disabled source answers 409."""
    authorize(request, SOURCES_WRITE)
    if not MentionSource.objects.filter(pk=source_id).exists():
        raise ApiError(404, "not_found", f"There is no mention source {source_id}.")
    result = polling.poll(source_id, force=True)
    if result.skipped:
        raise ApiError(409, "disabled", "This source is disabled: enable it in the admin first.")
    result.source.refresh_from_db()
    return {"source": source_document(result.source), "heard": result.heard, "stored": result.stored,
            "error": result.error}  # fmt: skip


@api.post("/mentions/{mention_id}/replies", response={201: ReplyDraftOut, **WRITE_ERRORS}, tags=["mentions"],
          summary="Draft a reply to a mention")  # fmt: skip
def mention_reply_draft(
    request: HttpRequest, mention_id: Id, payload: ReplyDraftIn
) -> Status[dict[str, Any]]:
    """Kept on the mention as a draft, checked by the tone guard for replies (the flags are returned): a person
    reviews it and presses Send in the inbox. Nothing is ever sent from the API."""
    user, _token = authorize(request, MENTIONS_WRITE)
    mention = Mention.objects.filter(pk=mention_id).first()
    if mention is None:
        raise ApiError(404, "not_found", f"There is no mention {mention_id}.")
    replies.reply_draft(mention=mention, text=payload.text, by=user)
    return Status(
        201,
        {
            "mention_id": mention.pk,
            "text": mention.reply_draft,
            "drafted_at": mention.reply_draft_at,
            "tone": guard.check(mention.reply_draft, kind="reply").as_dict(),
            "sent": False,
        },
    )
