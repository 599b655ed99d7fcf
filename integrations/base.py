"""The contract every integration implements.

A transport turns a rendered message into the exact request its service expects (``build_request``, also
what dry-run records) and sends it (``send``). Where the service allows, it also builds a reply to someone's
post (``build_reply``) and a private message to someone (``build_direct``), sent by the same ``send``. It raises
``OutboundError`` with ``permanent=True`` for answers that retrying cannot fix (bad credentials, forbidden,
gone), and with ``retry_after`` when the service said how long to wait.

A listener (``integrations/<kind>/listener.py``, sharing its client module with the transport) reads what people
say to or about the company: ``fetch(cursor) -> (heard, next_cursor)``, raising the same ``OutboundError``.
Neither ever touches the database: the delivery engine and the hub's pollers do.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

import httpx
from django.conf import settings

from statushub.lib import outbound
from statushub.lib.outbound import (
    OutboundError,
    is_network_error,
    network_problem,
    refusals_are_permanent,
    retry_after_seconds,
    tls_context,
)

__all__ = [  # what a transport needs, in one import; the network helpers live in statushub.lib.outbound
    "Field",
    "Lookup",
    "Message",
    "OutboundError",
    "Sent",
    "SessionStore",
    "Thread",
    "Transport",
    "is_network_error",
    "network_problem",
    "refusals_are_permanent",
    "retry_after_seconds",
    "tls_context",
]  # fmt: skip


@dataclass(frozen=True)
class Field:
    """One setting a person fills in to connect a channel. Secret fields are stored encrypted, never shown."""

    name: str
    label: str
    help: str = ""
    secret: bool = False
    required: bool = True
    default: str = ""
    kind: str = "text"  # text | url | number | choice
    choices: tuple[tuple[str, str], ...] = ()
    pattern: str = ""  # a regular expression the whole value must match
    # Where requests (and so the credentials) go: changing it asks for the secrets again.
    endpoint: bool = False


@dataclass
class Message:
    """One update, ready for a channel to fit into its own format and limits."""

    url: str
    title: str
    author: str  # "Dana Whitfield, CEO"
    document: dict[str, Any]


@dataclass
class Thread:
    """Where this incident's earlier posts on the channel are, for replies."""

    root_id: str = ""
    last_id: str = ""


@dataclass
class Sent:
    remote_id: str
    remote_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Lookup:
    """What identifies a delivery's post when looking for it after an attempt whose outcome is unknown.

    ``key`` is the delivery's idempotency key (also written into the post where the service keeps metadata);
    ``since`` is when an attempt first handed the post to the service: no earlier post can be ours. ``until``,
    when known, is when the last such attempt was over: no later post can be ours either (a transport that can
    bound its search by it reads fewer pages, however long the delivery has been retrying).
    """

    key: str
    since: datetime
    until: datetime | None = None


@dataclass(frozen=True)
class Remote:
    """Someone's post or account on the service: what a reply answers, or whom a private message is for."""

    id: str  # the service's id: of the post for a reply, of the account for a direct message
    account: str = ""  # their handle as the service writes it ("ana@mastodon.social"), for mentioning them
    url: str = ""


@dataclass(frozen=True)
class Heard:
    """One post a listener found: a mention of the company, or a match for one of its saved searches."""

    remote_id: str  # unique per kind: the same post found twice is the same remote_id
    url: str
    text: str
    author: Remote
    author_name: str
    posted_at: datetime
    found_by: str  # "mention", "search:<terms>", "feed"
    in_reply_to: str = ""
    reach: int | None = None  # the author's followers, where the service says


class TooLong(ValueError):
    """A person's reply is longer than the service allows. Never cut: a human shortens their own words."""


class SessionStore(Protocol):
    """Somewhere a transport keeps a login between deliveries (encrypted; losing it only costs a new login)."""

    def get(self) -> str | None: ...

    def set(self, value: str) -> None: ...

    def forget(self) -> None: ...


class Transport:
    kind: ClassVar[str] = ""
    timeout: ClassVar[float] = 10.0
    # A manual channel has no API: the engine stops at "awaiting" and a person marks it posted.
    manual: ClassVar[bool] = False
    # What the connect form asks for: non-secret fields land in Channel.config, secret ones are encrypted.
    fields: ClassVar[tuple[Field, ...]] = ()
    # Where a person gets those credentials (shown beside the form, and in the README).
    connect_help: ClassVar[str] = ""

    def __init__(
        self, config: dict[str, Any], credentials: dict[str, Any], *, sessions: SessionStore | None = None
    ) -> None:
        self.config = config
        self.credentials = credentials
        self.sessions = sessions

    def endpoint_override(self, key: str) -> str:
        """A hidden setting (``base_url``, ``api_base``) that points the transport at a local fake server.

        Honoured only where ``STATUSHUB_TRANSPORT_OVERRIDES`` is on (the tests and benchmarks): anywhere else a
        stored override would send the channel's credentials to a server nobody chose in the channel form.
        """
        if not getattr(settings, "STATUSHUB_TRANSPORT_OVERRIDES", False):
            return ""
        return str(self.config.get(key) or "")

    def build_request(self, message: Message, thread: Thread, *, idempotency_key: str) -> dict[str, Any]:
        """The request as the service will receive it, minus secrets (it is stored and shown)."""
        raise NotImplementedError

    def send(self, request: dict[str, Any], thread: Thread) -> Sent:
        raise NotImplementedError

    @classmethod
    def can_reply(cls) -> bool:
        from integrations.registry import BY_KEY

        return BY_KEY[cls.kind].replies

    @classmethod
    def can_direct(cls) -> bool:
        from integrations.registry import BY_KEY

        return BY_KEY[cls.kind].direct

    def build_reply(self, text: str, to: Remote, *, idempotency_key: str) -> dict[str, Any]:
        """A person's answer to ``to`` (someone's post), in its thread, as ``send`` takes it. Raises ``TooLong``
        when the words do not fit. Kinds whose registry entry says ``replies`` implement it."""
        raise NotImplementedError(f"{self.kind} cannot reply yet")

    def build_direct(self, text: str, to: Remote, *, idempotency_key: str) -> dict[str, Any]:
        """A private message to ``to`` (an account), as ``send`` takes it; raises ``TooLong`` likewise."""
        raise NotImplementedError(f"{self.kind} cannot send private messages yet")

    def find_sent(self, request: dict[str, Any], thread: Thread, lookup: Lookup) -> Sent | None:
        """The post an earlier attempt of this delivery made, if it did; None if there is none to find.

        The engine asks before every attempt after the first, because an attempt that timed out, was cut off
        or was killed may have reached the service. Raises ``OutboundError`` when the service could not be
        asked (always retried later, never taken as "not posted"). Channels with no way to look a post up
        (webhooks, manual) keep this default.
        """
        return None

    def check(self) -> str:
        """ "Test connection": one harmless authenticated read; returns who we are posting as.

        Raises ``OutboundError`` (permanent for bad credentials) exactly as ``send`` would.
        """
        raise NotImplementedError

    @staticmethod
    def text_of(request: dict[str, Any]) -> str:
        """The words a reader will see, from a built request (for previews and the deliveries page)."""
        return str(request.get("text", ""))

    def http(self) -> httpx.Client:
        """Every HTTP call goes through here, so none is ever made without a timeout, nor inside a private
        network (checked at connect time, redirects too)."""
        return outbound.client(timeout=self.timeout)

    @contextmanager
    def reaching(self, who: str) -> Iterator[None]:
        """Network failures of the httpx calls inside, as transient errors in words a person can act on."""
        with outbound.reaching(who, timeout=self.timeout):
            yield


class Listener:
    """Reads what people say to or about the company on one account of one service."""

    kind: ClassVar[str] = ""
    timeout: ClassVar[float] = 10.0

    def __init__(
        self, config: dict[str, Any], credentials: dict[str, Any], *, searches: Sequence[str] = ()
    ) -> None:
        self.config = config
        self.credentials = credentials
        self.searches = tuple(searches)  # saved search terms: brand, product names, handles

    def fetch(self, cursor: str) -> tuple[list[Heard], str]:
        """What is new since ``cursor`` ("" the first time: the latest page only, no backlog), each post once,
        and the cursor to pass next time. Raises ``OutboundError`` (the caller backs off and keeps the cursor)."""
        raise NotImplementedError
