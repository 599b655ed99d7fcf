"""Bluesky: an app-password session and ``com.atproto.repo.createRecord`` through the atproto SDK.

Posts are limited to 300 graphemes; the link to the signed update travels as a link facet behind short text,
so it costs 13 characters, not the URL's length. Replies carry both the thread's root and parent (uri + cid).
The session is kept between deliveries (``createSession`` is limited to 30 per 5 minutes per account) and
refreshed by the SDK; a saved session the server no longer accepts is dropped for a fresh login.
Each post has a record key fixed for (update, channel): before a retry the engine asks for that record
(``com.atproto.repo.getRecord``), and a retry whose earlier post did go out collides with it anyway; either
way that post is reported instead of posting twice. Failing to ask is transient, never "not posted".
"""

import hashlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from atproto import Client, Session, SessionEvent, client_utils, models
from atproto_client.exceptions import (
    BadRequestError,
    InvokeTimeoutError,
    NetworkError,
    RateLimitExceededError,
    RequestException,
    UnauthorizedError,
)
from atproto_client.request import Request

from integrations.base import (
    Field,
    Lookup,
    Message,
    OutboundError,
    Sent,
    Thread,
    Transport,
    is_network_error,
    network_problem,
    tls_context,
)
from integrations.text import LINK_TEXT, fit_parts, grapheme_length
from statushub.lib import outbound
from statushub.lib.markdown_text import plain_text_with_links

LIMIT = 300  # graphemes (what a reader sees as one character), as the app and the PDS count them
BYTE_LIMIT = 3000  # the record's own limit on its text, in UTF-8 bytes

T = TypeVar("T")
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable, as AT Protocol TIDs are written


def _client(service: str, timeout: float) -> Client:
    # The SDK makes its own httpx client: give it the process's TLS context, not a fresh one per delivery,
    # the private-network guard (it follows redirects, each checked when it connects) and our timeout (its
    # own default would let an answer held for seconds pass for a quick one).
    transport = outbound.transport(verify=tls_context())
    return Client(base_url=service, request=Request(transport=transport, timeout=timeout))


def post_length(text: str) -> int:
    """The text's length as Bluesky counts it, or past the limit if its bytes are too many."""
    return grapheme_length(text) if len(text.encode()) <= BYTE_LIMIT else LIMIT + 1


def body_facets(request: dict[str, Any]) -> list[models.AppBskyRichtextFacet.Main]:
    return [
        models.AppBskyRichtextFacet.Main(
            index=models.AppBskyRichtextFacet.ByteSlice(
                byte_start=facet["byteStart"], byte_end=facet["byteEnd"]
            ),
            features=[models.AppBskyRichtextFacet.Link(uri=facet["uri"])],
        )
        for facet in request.get("facets") or []
    ]


def stable_tid(key: str, published_at: str) -> str:
    """A valid TID record key made from the update's time and the delivery's idempotency key."""
    try:
        micros = int(datetime.fromisoformat(published_at.replace("Z", "+00:00")).timestamp() * 1_000_000)
    except ValueError:
        micros = int(time.time() * 1_000_000)
    clock = int.from_bytes(hashlib.sha256(key.encode()).digest()[:2], "big") % 1024
    value = (micros << 10) | clock
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def _ref(value: str) -> models.ComAtprotoRepoStrongRef.Main:
    uri, cid = value.split("|", 1)
    return models.ComAtprotoRepoStrongRef.Main(uri=uri, cid=cid)


class BlueskyTransport(Transport):
    kind = "bluesky"
    fields = (
        Field("handle", "Handle", "e.g. status.northwind.example"),
        Field(
            "service", "PDS URL", "Leave as is unless the account lives on its own server.",
            kind="url", default="https://bsky.social", endpoint=True,
        ),
        Field("app_password", "App password", "xxxx-xxxx-xxxx-xxxx", secret=True),
    )  # fmt: skip
    connect_help = (
        "Signed in as the posting account on bsky.app, open Settings → Privacy and security → App passwords → "
        "Add App Password, name it StatusHub and copy the xxxx-xxxx-xxxx-xxxx value. Never use the account's "
        "main password."
    )

    @staticmethod
    def text_of(request: dict[str, Any]) -> str:
        link = request.get("link") or {}
        return f"{request.get('text', '')}{link.get('text', '')}"

    def build_request(self, message: Message, thread: Thread, *, idempotency_key: str) -> dict[str, Any]:
        body = plain_text_with_links(str(message.document.get("body", "")))
        fitted = fit_parts(
            head=message.title, body=body.text, tail=f"— {message.author} · {LINK_TEXT}", limit=LIMIT,
            measure=post_length,
        )  # fmt: skip
        text = fitted.text
        # Links in the body: its words in the text, the address in a facet (only links kept whole).
        facets = [
            {
                "byteStart": len(text[: fitted.body_start + link.start].encode()),
                "byteEnd": len(text[: fitted.body_start + link.end].encode()),
                "uri": link.url,
            }
            for link in body.links
            if link.end <= fitted.body_kept
        ]
        return {
            "method": "com.atproto.repo.createRecord (app.bsky.feed.post)",
            "service": self.config.get("service", "https://bsky.social"),
            "handle": self.config["handle"],
            "text": text.removesuffix(LINK_TEXT),
            "link": {"text": LINK_TEXT, "url": message.url},
            "facets": facets,
            "reply": {"root": thread.root_id, "parent": thread.last_id} if thread.root_id else None,
            "rkey": stable_tid(idempotency_key, str(message.document.get("published_at", ""))),
            "shortened": fitted.shortened,
        }

    def _logged_in(self, service: str, handle: str, work: Callable[[Client], T]) -> T:
        """Run ``work`` with a session: the saved one if the server still takes it, else a fresh login."""
        client = _client(service, self.timeout)

        def remember(event: SessionEvent, session: Session) -> None:
            if self.sessions is not None and event in (SessionEvent.CREATE, SessionEvent.REFRESH):
                self.sessions.set(session.export())

        client.on_session_change(remember)
        saved = self.sessions.get() if self.sessions is not None else None
        if saved:
            try:
                client.login(session_string=saved, fetch_bsky_profile=False)
                return work(client)
            except (UnauthorizedError, BadRequestError, ValueError) as exc:
                if isinstance(exc, BadRequestError) and not _is_token_problem(exc):
                    raise
                if self.sessions is not None:
                    self.sessions.forget()
                client = _client(service, self.timeout)
                client.on_session_change(remember)
        # No profile fetch: one call fewer against the session limit.
        client.login(handle, self.credentials.get("app_password", ""), fetch_bsky_profile=False)
        return work(client)

    def check(self) -> str:
        handle = self.config["handle"]
        service = self.config.get("service", "https://bsky.social")
        session = self._classified(
            lambda: self._logged_in(service, handle, lambda client: client.com.atproto.server.get_session())
        )
        return f"@{session.handle} on Bluesky ({session.did})"

    def send(self, request: dict[str, Any], thread: Thread) -> Sent:
        post = (
            client_utils.TextBuilder()
            .text(request["text"])
            .link(request["link"]["text"], request["link"]["url"])
        )
        reply = None
        if request["reply"]:
            reply = models.AppBskyFeedPost.ReplyRef(
                root=_ref(request["reply"]["root"]), parent=_ref(request["reply"]["parent"])
            )
        handle = request["handle"]

        def create(client: Client) -> Any:
            record = models.AppBskyFeedPost.Record(
                created_at=client.get_current_time_iso(),
                text=post.build_text(),
                facets=[*body_facets(request), *post.build_facets()],
                reply=reply,
                langs=["en"],
            )
            try:
                return client.app.bsky.feed.post.create(handle, record, rkey=request.get("rkey"))
            except BadRequestError as exc:
                if _is_token_problem(exc):  # a fresh login is needed first (``_logged_in`` does it)
                    raise
                if request.get("rkey") and (ours := _already_posted(client, handle, request["rkey"])):
                    return ours
                raise

        return _sent(handle, self._classified(lambda: self._logged_in(request["service"], handle, create)))

    def find_sent(self, request: dict[str, Any], thread: Thread, lookup: Lookup) -> Sent | None:
        """The record under this delivery's key, if an earlier attempt created it."""
        if not request.get("rkey"):
            return None
        handle = request["handle"]
        found = self._classified(
            lambda: self._logged_in(
                request["service"], handle, lambda client: _already_posted(client, handle, request["rkey"])
            )
        )
        return _sent(handle, found) if found is not None else None

    @staticmethod
    def _classified(call: Callable[[], T]) -> T:
        try:
            return call()
        except UnauthorizedError as exc:
            raise OutboundError("Bluesky refused the handle or app password", permanent=True) from exc
        except RateLimitExceededError as exc:
            raise OutboundError("Bluesky rate limit reached", retry_after=_reset_in(exc)) from exc
        except BadRequestError as exc:
            raise OutboundError(f"Bluesky rejected the post: {exc}", permanent=True) from exc
        except (NetworkError, InvokeTimeoutError) as exc:
            raise OutboundError(f"could not reach Bluesky: {network_problem(exc)}") from exc
        except RequestException as exc:  # other answers, e.g. 5xx
            raise OutboundError(f"Bluesky answered an error: {exc}") from exc
        except Exception as exc:
            # atproto passes some of httpx's own errors straight through (a close without an answer is
            # httpx.RemoteProtocolError): still the network, still worth another try.
            if is_network_error(exc):
                raise OutboundError(f"could not reach Bluesky: {network_problem(exc)}") from exc
            raise


def _sent(handle: str, record: Any) -> Sent:
    rkey = record.uri.rsplit("/", 1)[-1]
    return Sent(
        remote_id=f"{record.uri}|{record.cid}", remote_url=f"https://bsky.app/profile/{handle}/post/{rkey}"
    )


def _already_posted(client: Client, handle: str, rkey: str) -> Any:
    """Our post under this record key (the key is ours alone: made from the delivery), or None if there is none.

    Any other failure to read it propagates: "could not tell" must never pass for "not posted".
    """
    try:
        return client.app.bsky.feed.post.get(handle, rkey)
    except BadRequestError as exc:
        if getattr(getattr(exc.response, "content", None), "error", "") == "RecordNotFound":
            return None
        raise


def _reset_in(exc: RateLimitExceededError) -> float:
    """Seconds until the ``ratelimit-reset`` epoch the PDS sent (a minute if it sent none)."""
    wait = outbound.retry_after_seconds(dict(getattr(exc.response, "headers", None) or {}))
    return 60.0 if wait is None else max(1.0, wait)


def _is_token_problem(exc: BadRequestError) -> bool:
    error = getattr(getattr(exc.response, "content", None), "error", "") or ""
    return error in {"ExpiredToken", "InvalidToken", "AuthMissing", "AuthenticationRequired"}
