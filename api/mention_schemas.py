"""Mentions and where we listen, as the API reads and writes them."""

from datetime import datetime
from typing import Literal

from ninja import Field, Schema
from pydantic import AwareDatetime, HttpUrl

from api.schemas import NonBlank, Text

Service = Literal["mastodon", "bluesky", "reddit", "discourse", "x", "facebook", "rss", "webhook", "manual"]
MentionState = Literal["new", "assigned", "answered", "done", "set_aside"]


class MentionIn(Schema):
    """A mention entered by hand or by a script (a phone call, a store review, a post seen elsewhere)."""

    text: Text = Field(min_length=1, max_length=10_000, pattern=NonBlank)
    author_handle: Text = Field(
        "", max_length=200, description="Their handle on the service, e.g. ana@mastodon.social."
    )
    service: Service = Field("manual", description="Where it was said.")
    url: HttpUrl | None = Field(None, description="A link to the post, if it has one.")
    posted_at: AwareDatetime | None = Field(
        None, description="When it was said, with its UTC offset; default now."
    )
    remote_id: Text | None = Field(
        None,
        min_length=1,
        max_length=300,
        description="The post's id on its service: a second entry is not stored.",
    )
    followers: int | None = Field(None, ge=0, le=2_000_000_000)


class MentionOut(Schema):
    id: int
    service: Service
    remote_id: str
    url: str
    text: str
    author_handle: str
    author_name: str
    followers: int | None
    posted_at: datetime
    received_at: datetime
    state: MentionState
    sentiment: float = Field(
        ge=-1, le=1, description="-1 angry … 1 happy (VADER with outage and billing words)."
    )
    cues: list[str] = Field(description="public_threat, cancel, legal, press, refund, persistence.")
    priority: int = Field(ge=0, le=100, description="What orders the inbox.")
    priority_reasons: list[str] = Field(description='Why, in words: "negative", "threatens to go public", …')
    incident_id: int | None = Field(description="The incident a person linked it to.")
    suggested_incident_id: int | None
    customer_id: int | None = Field(description="The known customer who said it (not yet matched: null).")
    assigned_to: str | None = Field(description="The username of whoever is answering it.")


class MentionPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[MentionOut]


class SourceIn(Schema):
    kind: Literal["mastodon", "discourse", "rss"] = Field(description="A listener polled by the worker.")
    name: Text = Field(min_length=1, max_length=100, pattern=NonBlank)
    url: HttpUrl | None = Field(None, description="rss: the feed's address.")
    searches: list[str] = Field(
        default_factory=list, max_length=50, description="Saved searches (Mastodon, Discourse)."
    )
    channel_id: int | None = Field(
        None, description="mastodon, discourse: the connected channel whose account and key to listen with."
    )
    poll_seconds: int = Field(120, ge=30, le=86_400)


class SourceOut(Schema):
    id: int
    kind: str
    name: str
    enabled: bool
    config: dict[str, object]
    searches: list[str]
    poll_seconds: int
    last_polled_at: datetime | None
    next_poll_at: datetime | None
    last_error: str
    failures: int


class PollOut(Schema):
    source: SourceOut
    heard: int = Field(description="Posts the service returned.")
    stored: int = Field(description="New mentions stored (a post already stored is not stored again).")
    error: str = Field(description="Why the poll failed, empty when it did not.")


class ReplyDraftIn(Schema):
    text: Text = Field(
        min_length=1, max_length=5000, pattern=NonBlank, description="The reply, as a person wrote it."
    )


class ToneFlagOut(Schema):
    kind: str
    start: int
    end: int
    text: str
    why: str
    suggestion: str


class ToneReport(Schema):
    flags: list[ToneFlagOut]
    heat: float


class ReplyDraftOut(Schema):
    mention_id: int
    text: str
    drafted_at: datetime
    tone: ToneReport = Field(description="The tone guard for replies on these words.")
    sent: bool = Field(description="Always false: a person sends it from the inbox.")
