"""Discourse: one topic per incident (``POST /posts.json`` with a title), later updates reply in it (``topic_id``).

A small httpx client, because pydiscourse sleeps on 429 inside the call. https://docs.discourse.org/#tag/Posts —
errors are ``{"errors": [...], "error_type": ...}``; a 429 also says when to come back (``Retry-After`` and
``extras.wait_seconds``). The topic carries an ``external_id`` per incident and channel: if an earlier attempt
made it but its answer was lost, Discourse answers 422 and ``GET /t/external_id/{id}.json`` finds it.
Replies have no such key (and Discourse's own "same request within two minutes" guard does not cover a
retry that comes later): before a retry the engine looks for the post carrying this update's link in the
incident's topic (``GET /t/{id}.json``, then ``GET /t/{id}/posts.json?post_ids[]=`` for the rest of the stream).
Config ``api_base`` (e.g. ``http://127.0.0.1:8765``) replaces ``forum_url`` for API calls, for local fake servers.
"""

import hashlib
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

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
from integrations.text import LINK_TEXT, fit
from statushub.lib.markdown_text import clean_source

LIMIT = 32000  # the forum's max_post_length, 32,000 by default
MAX_TITLE = 255  # max_topic_title_length's default

POSTS_PER_CALL = 20  # what /t/{id}/posts.json answers at once
FULL_PERMISSION = 1  # CategoryGroup.permission_types[:full]: may start topics
TOPIC_PATH = re.compile(r"/t/([^/]+)/(\d+)")


class DiscourseError(OutboundError):
    """An error answer, keeping its HTTP status for the one caller that treats 422 specially."""

    def __init__(
        self, message: str, *, status: int, permanent: bool, retry_after: float | None = None
    ) -> None:
        super().__init__(message, permanent=permanent, retry_after=retry_after)
        self.status = status


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _wait_seconds(response: httpx.Response) -> float | None:
    wait = retry_after_seconds(response)
    if wait is not None:
        return wait
    extras = _body(response).get("extras")
    try:
        return max(0.0, float(extras["wait_seconds"])) if isinstance(extras, dict) else None
    except (KeyError, TypeError, ValueError):
        return None


def discourse_error(response: httpx.Response, *, username: str, category: str) -> DiscourseError:
    status = response.status_code
    errors = _body(response).get("errors")
    detail = "; ".join(str(error) for error in errors) if isinstance(errors, list) and errors else ""
    detail = detail or f"HTTP {status}"
    if status == 429:
        return DiscourseError(
            f"Discourse rate limit reached ({detail})", status=status, permanent=False,
            retry_after=_wait_seconds(response),
        )  # fmt: skip
    if status >= 500:
        return DiscourseError(
            f"Discourse is unavailable ({detail})", status=status, permanent=False,
            retry_after=retry_after_seconds(response),
        )  # fmt: skip
    if status in (401, 403):
        return DiscourseError(
            f"Discourse refused the request ({detail}). Check that the API key is still active and is for "
            f"@{username} or all users, and that @{username} may create topics and replies in category {category}.",
            status=status, permanent=True,
        )  # fmt: skip
    if status == 404:
        return DiscourseError(
            f"Discourse could not find it ({detail}). Check the forum URL and category ID; if this incident's "
            "topic was deleted, its later updates cannot reply to it.",
            status=status, permanent=True,
        )  # fmt: skip
    if 300 <= status < 400:
        return DiscourseError(
            f"Discourse redirected to {response.headers.get('Location', 'another address')}: set the forum URL "
            "to the forum's exact address (check https and www).",
            status=status, permanent=True,
        )  # fmt: skip
    what = "the post" if response.request.method == "POST" else "the request"
    return DiscourseError(f"Discourse rejected {what}: {detail}", status=status, permanent=True)


def topic_title(message: Message) -> str:
    """The incident's name and when it was announced: unique in practice, and never under 15 characters.

    Discourse refuses a title another topic already has (incidents are often named alike) and, by default
    (``min_topic_title_length``), one shorter than 15 characters: even "X — status update" is 17.
    """
    incident = message.document.get("incident") or {}
    name = " ".join(str(incident.get("name") or "").split()) or "Incident"
    try:
        published = datetime.fromisoformat(str(message.document.get("published_at")))
        when = f"{published.day} {published:%b %Y, %H:%M} UTC"
    except ValueError:
        when = "status update"
    room = MAX_TITLE - len(when) - 3
    if len(name) > room:
        name = name[: room - 1].rsplit(" ", 1)[0] + "…"
    return f"{name} — {when}"


def post_text(message: Message) -> tuple[str, bool]:
    status = str(message.document.get("status") or "update")
    head = f"**{status.replace('_', ' ').capitalize()}**"
    # Discourse renders Markdown as the page does: the body goes as written.
    body = clean_source(str(message.document.get("body") or ""))
    tail = f"— {message.author} · [{LINK_TEXT}]({message.url})"
    return fit(head=head, body=body, tail=tail, limit=LIMIT)


class DiscourseTransport(Transport):
    kind = "discourse"
    fields = (
        Field("forum_url", "Forum URL", "e.g. https://forum.example.com", kind="url", endpoint=True),
        Field(
            "category_id", "Category ID", "The number at the end of the category's address: /c/status/7 → 7.",
            kind="number",
        ),
        Field(
            "api_username", "Post as", "The forum user the posts appear under; system posts as the forum itself.",
            default="system", required=False,
        ),
        Field("api_key", "API key", "From the forum's Admin → API keys.", secret=True),
    )  # fmt: skip
    connect_help = (
        "As a forum admin, open Admin → API keys (/admin/api/keys) → New API Key. Choose the user the posts "
        "should appear under (or All users) and either Global scope or Granular with topics: write, topics: read "
        "and categories: show, then copy the key: it is shown only once. That user must be allowed to create "
        "topics in the category, whose number is at the end of its address (/c/status/7 → 7)."
    )

    @staticmethod
    def text_of(request: dict[str, Any]) -> str:
        payload = request.get("json", {})
        title = payload.get("title")
        return f"{title}\n\n{payload.get('raw', '')}" if title else str(payload.get("raw", ""))

    def _base(self) -> str:
        return str(self.endpoint_override("api_base") or self.config["forum_url"]).rstrip("/")

    def _forum(self) -> str:
        return str(self.config["forum_url"]).rstrip("/")

    def _username(self) -> str:
        return str(self.config.get("api_username") or "system")

    def _category(self) -> int | str:
        value = str(self.config.get("category_id", "")).strip()
        return int(value) if value.isdigit() else value

    def _external_id(self, message: Message) -> str:
        """Stable per incident and channel; Discourse allows up to 50 letters, digits, ``_`` and ``-``."""
        incident = str((message.document.get("incident") or {}).get("id", ""))
        identity = f"{urlsplit(message.url).netloc}|{incident}|{self._category()}|{self._username()}"
        digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
        return f"statushub-{re.sub(r'[^0-9A-Za-z]', '', incident)[:20]}-{digest}"

    def build_request(self, message: Message, thread: Thread, *, idempotency_key: str) -> dict[str, Any]:
        raw, shortened = post_text(message)
        payload: dict[str, Any]
        if thread.root_id:
            topic = int(thread.root_id) if thread.root_id.isdigit() else thread.root_id
            payload = {"topic_id": topic, "raw": raw}
        else:
            payload = {
                "title": topic_title(message),
                "raw": raw,
                "category": self._category(),
                "external_id": self._external_id(message),
            }
        return {
            "method": "POST /posts.json",
            "url": f"{self._base()}/posts.json",
            "json": payload,
            "topic_id": thread.root_id or None,
            "link": message.url,
            "shortened": shortened,
        }

    def send(self, request: dict[str, Any], thread: Thread) -> Sent:
        payload = request["json"]
        if "category" in payload and not isinstance(payload["category"], int):
            raise OutboundError(
                f"“{payload['category']}” is not a category ID: use the number from the category's address.",
                permanent=True,
            )
        try:
            return self._sent(self._call("POST", request["url"], json=payload))
        except DiscourseError as exc:
            if exc.status != 422 or "external_id" not in payload:
                raise
            try:
                found = self._existing_topic(request)
            except DiscourseError as lookup:
                if lookup.permanent:  # e.g. a key without topics: read; the 422 says more about what is wrong
                    raise exc from lookup
                raise
            if found is None:
                raise
            return found

    def find_sent(self, request: dict[str, Any], thread: Thread, lookup: Lookup) -> Sent | None:
        """This update's post (the one carrying its link) in the incident's topic, if an attempt made it."""
        payload = request["json"]
        if "external_id" in payload:
            topic = self._topic_by_external_id(payload["external_id"])
        else:
            topic = self._call("GET", f"{self._base()}/t/{payload['topic_id']}.json")
        if topic is None:
            return None
        post = self._post_with_link(topic, request["link"])
        return self._sent(post) if post is not None else None

    def _topic_by_external_id(self, external_id: str) -> dict[str, Any] | None:
        base = self._base()
        response = self._response("GET", f"{base}/t/external_id/{external_id}.json")
        if response.status_code == 404:
            return None
        # It redirects to /t/{slug}/{id}.json: read the id rather than follow, so the key never leaves this base.
        found = TOPIC_PATH.search(response.headers.get("Location", "")) if response.is_redirect else None
        if found is not None:
            return self._call("GET", f"{base}/t/{found.group(2)}.json")
        if response.is_success:
            return _body(response)
        raise self._error(response)

    def _post_with_link(self, topic: dict[str, Any], link: str) -> dict[str, Any] | None:
        """The topic's post whose text holds ``link``: among those the topic answer carried, then the rest of
        its stream, newest first (a retry's post is near the end)."""
        stream = topic.get("post_stream") or {}
        loaded = stream.get("posts") or []
        about = {"topic_id": topic.get("id"), "topic_slug": topic.get("slug")}
        for post in loaded:
            if link in str(post.get("cooked", "")):
                return {**post, **about}
        seen = {post.get("id") for post in loaded}
        rest = [post_id for post_id in reversed(stream.get("stream") or []) if post_id not in seen]
        for start in range(0, len(rest), POSTS_PER_CALL):
            ids = rest[start : start + POSTS_PER_CALL]
            query = "&".join(f"post_ids[]={int(post_id)}" for post_id in ids)
            found = self._call("GET", f"{self._base()}/t/{topic.get('id')}/posts.json?{query}")
            for post in (found.get("post_stream") or {}).get("posts") or []:
                if link in str(post.get("cooked", "")):
                    return {**post, **about}
        return None

    def _existing_topic(self, request: dict[str, Any]) -> Sent | None:
        """After a 422, the topic this incident already has, if an earlier attempt made it."""
        topic = self._topic_by_external_id(request["json"]["external_id"])
        if topic is None:
            return None
        if (post := self._post_with_link(topic, request["link"])) is not None:
            return self._sent(post)
        # Another update of this incident started the topic while this one waited: add this one to it.
        return self._sent(
            self._call(
                "POST", request["url"], json={"topic_id": topic.get("id"), "raw": request["json"]["raw"]}
            )
        )

    def _sent(self, post: dict[str, Any]) -> Sent:
        if post.get("action") == "enqueued":
            raise OutboundError(
                "Discourse is holding the post for a moderator's approval. Approve it in the forum's review "
                "queue; to post without approval, use a staff user or let this user's group skip approval in "
                "the category.",
                permanent=True,
            )
        topic_id = post.get("topic_id")
        if not topic_id:
            raise OutboundError("Discourse answered without the topic's id")
        slug = post.get("topic_slug") or "topic"
        # Replies need the topic, never a post: every update answers with the topic id.
        return Sent(
            remote_id=str(topic_id),
            remote_url=f"{self._forum()}/t/{slug}/{topic_id}/{post.get('post_number') or 1}",
            extra={"post_id": post.get("id"), "post_number": post.get("post_number")},
        )

    def check(self) -> str:
        category = self._category()
        if not isinstance(category, int):
            raise OutboundError(
                f"“{category}” is not a category ID: use the number from the category's address.",
                permanent=True,
            )
        found = self._call("GET", f"{self._base()}/c/{category}/show.json").get("category") or {}
        name = found.get("name") or f"category {category}"
        if "permission" in found and found["permission"] != FULL_PERMISSION:
            raise OutboundError(
                f"@{self._username()} can see “{name}” but may not create topics in it. Allow it in the "
                "category's Security settings, or post as another user.",
                permanent=True,
            )
        return f"posting as @{self._username()} in “{name}” on {urlsplit(self._forum()).netloc}"

    def _response(self, method: str, url: str, *, json: dict[str, Any] | None = None) -> httpx.Response:
        headers = {
            "Api-Key": str(self.credentials.get("api_key", "")),
            "Api-Username": self._username(),
            "Accept": "application/json",
        }
        with self.reaching("Discourse"), self.http() as client:
            return client.request(method, url, json=json, headers=headers)

    def _call(self, method: str, url: str, *, json: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._response(method, url, json=json)
        if not response.is_success:
            raise self._error(response)
        return _body(response)

    def _error(self, response: httpx.Response) -> DiscourseError:
        return discourse_error(response, username=self._username(), category=str(self._category()))
