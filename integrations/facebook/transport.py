"""Facebook Page: ``POST /{version}/{page-id}/feed`` with a Page access token; later updates comment on the first post.

A small httpx client, because facebook-sdk is unmaintained. https://developers.facebook.com/docs/pages-api/posts —
errors are ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``, handled per
https://developers.facebook.com/docs/graph-api/guides/error-handling; throttled answers say when to come back in
``X-Business-Use-Case-Usage`` / ``X-Page-Usage`` (``estimated_time_to_regain_access``, in minutes).
Config ``api_base`` (e.g. ``http://127.0.0.1:8765``) replaces ``https://graph.facebook.com``, for local fake servers.
Before a retry the engine looks for the post among the Page's posts since the delivery began (``/{page}/posts``,
``since``) or, for a later update, among the first post's comments (``/{post}/comments``, newest first): the
same words there mean an earlier attempt got through.
"""

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from integrations.base import (
    Field,
    Lookup,
    Message,
    OutboundError,
    Sent,
    Thread,
    Transport,
    retry_after_seconds,
)
from integrations.text import fit
from statushub.lib.markdown_text import plain_text

GRAPH = "https://graph.facebook.com"
DEFAULT_VERSION = "v25.0"
VERSION = re.compile(r"v\d+\.\d+")
LIMIT = 5000  # far below Facebook's own (63,206 for posts, 8,000 for comments): a status update needs no more

# Outages and throttling; 80001 is the rate limit for calls made with Page tokens (business use case "pages").
TRANSIENT_CODES = {1, 2, 4, 17, 32, 341, 613, 80001}
TOKEN_CODES = {102, 190}
PERMISSION_CODES = {3, 10, *range(200, 300)}
# "Temporarily blocked for policy violations" lasts hours: retrying soon would only extend it.
POLICY_BLOCK = 368
POLICY_WAIT = 3600.0
DUPLICATE = 506
USAGE_HEADERS = ("X-Business-Use-Case-Usage", "X-Page-Usage", "X-App-Usage")
CLOCK_SKEW = timedelta(minutes=2)  # our clock against Facebook's created_time
DUPLICATE_WINDOW = timedelta(days=1)  # how far back a post Facebook calls a duplicate is looked for
MAX_PAGES = 20


class GraphError(OutboundError):
    """A Graph API error answer, keeping its code for the one caller that treats a code specially (506)."""

    def __init__(
        self, message: str, *, code: int | None, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message, permanent=permanent, retry_after=retry_after)
        self.code = code


def regain_access_seconds(response: httpx.Response) -> float | None:
    """The longest ``estimated_time_to_regain_access`` (minutes) any usage header names, in seconds.

    ``X-Page-Usage`` and ``X-App-Usage`` are flat objects; ``X-Business-Use-Case-Usage`` maps a business object
    id to a list of them.
    """
    minutes = 0.0
    for name in USAGE_HEADERS:
        try:
            usage = json.loads(response.headers.get(name) or "null")
        except ValueError:
            continue
        if not isinstance(usage, dict):
            continue
        lists = [value for value in usage.values() if isinstance(value, list)]
        entries = [usage, *(entry for group in lists for entry in group if isinstance(entry, dict))]
        for entry in entries:
            try:
                minutes = max(minutes, float(entry.get("estimated_time_to_regain_access") or 0))
            except (TypeError, ValueError):
                continue
    return minutes * 60 if minutes > 0 else None


def graph_error(response: httpx.Response, error: dict[str, Any]) -> GraphError:
    code = error.get("code") if isinstance(error.get("code"), int) else None
    detail = str(error.get("message") or f"HTTP {response.status_code}")
    wait = regain_access_seconds(response) or retry_after_seconds(response)
    if code in TOKEN_CODES:
        return GraphError(
            "Facebook no longer accepts the Page access token (expired, revoked, or not a Page token). "
            "Create a new long-lived Page access token and reconnect the channel.",
            code=code, permanent=True,
        )  # fmt: skip
    if code in PERMISSION_CODES:
        return GraphError(
            f"Facebook says the app may not post on this Page ({detail}). Grant pages_manage_posts and "
            "pages_read_engagement to a person who manages the Page, then reconnect with a new Page token.",
            code=code, permanent=True,
        )  # fmt: skip
    if code == POLICY_BLOCK:
        return GraphError(
            f"Facebook has temporarily blocked posting from this Page ({detail}); trying again in an hour.",
            code=code, retry_after=max(wait or 0.0, POLICY_WAIT),
        )  # fmt: skip
    if code in TRANSIENT_CODES:
        return GraphError(f"Facebook is busy or limiting requests ({detail})", code=code, retry_after=wait)
    if code == DUPLICATE:
        return GraphError(f"Facebook refused a duplicate post ({detail})", code=code, permanent=True)
    if response.status_code == 429 or response.status_code >= 500:
        return GraphError(
            f"Facebook is unavailable (HTTP {response.status_code})", code=code, retry_after=wait
        )
    return GraphError(
        f"Facebook rejected the request ({detail}). Check the Page ID and the channel's settings.",
        code=code, permanent=True,
    )  # fmt: skip


def _created(item: dict[str, Any]) -> datetime:
    """Graph's ``created_time`` ("2026-12-03T07:30:00+0000"); unreadable ones count as new (keep looking)."""
    try:
        return datetime.strptime(str(item.get("created_time")), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)


class FacebookTransport(Transport):
    kind = "facebook"
    fields = (
        Field("page_id", "Page ID", "The Page's numeric ID (Page → About → Page transparency, or /me/accounts)."),
        Field(
            "graph_version", "Graph API version", "Like v25.0; Meta retires each version about two years on.",
            default=DEFAULT_VERSION, required=False,
        ),
        Field("page_access_token", "Page access token", "A long-lived Page token, not a user token.", secret=True),
    )  # fmt: skip
    connect_help = (
        "Create a Meta app at developers.facebook.com and, signed in as a person who manages the Page, get a user "
        "token with pages_manage_posts, pages_read_engagement and pages_show_list (the Graph API Explorer can). "
        "Exchange it for a long-lived user token, then call GET /me/accounts with that: the Page's entry holds its "
        "ID and a long-lived Page access token, which is what this form needs."
    )

    @staticmethod
    def text_of(request: dict[str, Any]) -> str:
        form = request.get("form", {})
        link = form.get("link")  # a post carries the link as Facebook's link preview, below the text
        return str(form.get("message", "")) + (f"\n\n[link preview] {link}" if link else "")

    def _base(self) -> str:
        return str(self.endpoint_override("api_base") or GRAPH).rstrip("/")

    def _version(self) -> str:
        return str(self.config.get("graph_version") or DEFAULT_VERSION)

    def build_request(self, message: Message, thread: Thread, *, idempotency_key: str) -> dict[str, Any]:
        reply_to = thread.root_id or None
        text, shortened = fit(
            head=message.title,
            body=plain_text(str(message.document.get("body", ""))),
            # A post shows the link as a preview card; a comment has none, so there the link is in the words.
            tail=f"— {message.author}\n{message.url}" if reply_to else f"— {message.author}",
            limit=LIMIT,
        )
        # Later updates all comment on the first post (never on a comment), so they read in order under it.
        path = (
            f"/{self._version()}/{reply_to}/comments"
            if reply_to
            else f"/{self._version()}/{self.config['page_id']}/feed"
        )
        return {
            "method": f"POST {path}",
            "url": self._base() + path,
            "form": {"message": text} if reply_to else {"message": text, "link": message.url},
            "reply_to": reply_to,
            "shortened": shortened,
        }

    def send(self, request: dict[str, Any], thread: Thread) -> Sent:
        try:
            created = self._call(request["url"], form=request["form"])
        except GraphError as exc:
            if exc.code != DUPLICATE:
                raise
            found = self._already_posted(request, datetime.now(UTC) - DUPLICATE_WINDOW)
            if found is None:
                raise OutboundError(
                    "Facebook refused this as a duplicate of something recent, yet none of the Page's recent "
                    "posts matches it. Reword the update and retry.",
                    permanent=True,
                ) from exc
            return found
        if not created.get("id"):
            raise OutboundError("Facebook answered without the new post's id")
        post_id = str(created["id"])
        return Sent(
            remote_id=post_id, remote_url=f"https://www.facebook.com/{request['reply_to'] or post_id}"
        )

    def find_sent(self, request: dict[str, Any], thread: Thread, lookup: Lookup) -> Sent | None:
        return self._already_posted(request, lookup.since - CLOCK_SKEW)

    def _already_posted(self, request: dict[str, Any], since: datetime) -> Sent | None:
        """Our post (or comment) with these words made since ``since``, newest first, every page of them.

        Code 506 and a retry after a lost answer both mean an earlier attempt may have got through.
        """
        if request["reply_to"]:  # comments take no ``since``: newest first, stopping at older ones
            url = f"{self._base()}/{self._version()}/{request['reply_to']}/comments"
            params = {
                "fields": "id,message,created_time", "order": "reverse_chronological", "filter": "stream",
                "limit": "100",
            }  # fmt: skip
        else:
            url = f"{self._base()}/{self._version()}/{self.config['page_id']}/posts"
            params = {
                "fields": "id,message,permalink_url,created_time", "since": str(int(since.timestamp())),
                "limit": "100",
            }  # fmt: skip
        text = request["form"]["message"].strip()
        for _ in range(MAX_PAGES):
            page = self._call(url, params=params)
            items = page.get("data") or []
            for item in items:
                if str(item.get("message", "")).strip() == text and item.get("id"):
                    post_id = str(item["id"])
                    fallback = f"https://www.facebook.com/{request['reply_to'] or post_id}"
                    return Sent(remote_id=post_id, remote_url=str(item.get("permalink_url") or fallback))
            after = ((page.get("paging") or {}).get("cursors") or {}).get("after")
            older = any(_created(item) < since for item in items)
            if not items or not after or not (page.get("paging") or {}).get("next") or older:
                return None
            params = {**params, "after": str(after)}
        return None

    def check(self) -> str:
        page = self._call(
            f"{self._base()}/{self._version()}/{self.config['page_id']}", params={"fields": "name,id"}
        )
        return f"Facebook Page “{page.get('name') or page.get('id')}”"

    def _call(
        self, url: str, *, form: dict[str, str] | None = None, params: dict[str, str] | None = None
    ) -> dict[str, Any]:
        if not VERSION.fullmatch(self._version()):
            raise OutboundError(
                f"“{self._version()}” is not a Graph API version: use the form v25.0.", permanent=True
            )
        token = self.credentials.get("page_access_token", "")
        with self.reaching("Facebook"), self.http() as client:
            if form is not None:  # the documented access_token parameter, in the body: never in a URL
                response = client.post(url, data={**form, "access_token": token})
            else:  # reads send it as a header: URLs end up in logs
                response = client.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
        try:
            body = response.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        error = body.get("error")
        if response.is_success and not error:
            return body
        raise graph_error(response, error if isinstance(error, dict) else {})
