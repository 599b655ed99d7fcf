"""Discourse: the company's own forum, heard by search (``GET /search.json?q=<term> order:latest``) for each saved
term, and at once by its webhooks (``post_created``, verified in ``inbound_post``).

Search answers ``{"posts": [{id, username, name, created_at, blurb, topic_id, post_number}], "topics": [{id, slug,
title}]}``, newest first with ``order:latest``, 50 a page (``page=2``…). The cursor keeps, per term, the highest post
id seen; the first poll takes the newest page only (no backlog). Errors: ``{"errors": [...], "error_type": ...}``;
403 ``invalid_access`` is a refused (expired or revoked) API key; 429 says when to come back (``Retry-After``).
Config ``api_base`` replaces ``forum_url`` for API calls (local fake servers).
"""

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from integrations.base import Heard, Listener, Remote
from integrations.text import html_words
from statushub.lib import outbound
from statushub.lib.outbound import OutboundError, retry_after_seconds

MAX_PAGES = 3


def _when(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return datetime.now(UTC)


def _error(response: Any) -> OutboundError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    errors = body.get("errors") if isinstance(body, dict) else None
    detail = (
        "; ".join(str(e) for e in errors)
        if isinstance(errors, list) and errors
        else f"HTTP {response.status_code}"
    )
    if response.status_code == 429:
        return OutboundError(
            f"Discourse rate limit reached ({detail})", retry_after=retry_after_seconds(response)
        )
    if response.status_code in (401, 403):
        return OutboundError(f"Discourse refused the API key (expired or revoked?): {detail}", permanent=True)
    return outbound.error_for(response, f"Discourse answered {detail}")


class DiscourseListener(Listener):
    kind = "discourse"

    def _forum(self) -> str:
        return str(self.config.get("forum_url", "")).rstrip("/")

    def fetch(self, cursor: str) -> tuple[list[Heard], str]:
        seen: dict[str, int] = json.loads(cursor) if cursor else {}
        # A hidden api_base (local fakes) only where STATUSHUB_TRANSPORT_OVERRIDES is on: anywhere else a stored
        # override would send the forum's API key to a server nobody chose.
        override = str(self.config.get("api_base") or "") if settings.STATUSHUB_TRANSPORT_OVERRIDES else ""
        base = (override or self._forum()).rstrip("/")
        headers = {
            "Api-Key": str(self.credentials.get("api_key", "")),
            "Api-Username": str(self.config.get("api_username", "system")),
            "Accept": "application/json",
        }
        heard: dict[str, Heard] = {}
        newest = dict(seen)
        with (
            outbound.reaching("Discourse", timeout=self.timeout),
            outbound.client(timeout=self.timeout) as client,
        ):
            for term in self.searches:
                last = int(seen.get(term, 0))
                for page in range(1, MAX_PAGES + 1):
                    response = client.get(
                        f"{base}/search.json",
                        params={"q": f"{term} order:latest", "page": page},
                        headers=headers,
                    )
                    if not response.is_success:
                        raise _error(response)
                    body = response.json()
                    posts = body.get("posts") or []
                    slugs = {t.get("id"): t.get("slug", "") for t in body.get("topics") or []}
                    fresh = [p for p in posts if int(p.get("id", 0)) > last]
                    for post in fresh:
                        heard.setdefault(str(post["id"]), self._heard(post, slugs, f"search:{term}"))
                        newest[term] = max(int(newest.get(term, 0)), int(post["id"]))
                    # Older pages only while everything on this one was new, and never on the first poll.
                    if (
                        not last
                        or len(fresh) < len(posts)
                        or not body.get("grouped_search_result", {}).get("more_full_page_results")
                    ):
                        break
        return list(heard.values()), json.dumps(newest, sort_keys=True)

    def _heard(self, post: dict[str, Any], slugs: dict[Any, str], found_by: str) -> Heard:
        slug = slugs.get(post.get("topic_id")) or post.get("topic_slug") or "topic"
        url = f"{self._forum()}/t/{slug}/{post.get('topic_id')}/{post.get('post_number', 1)}"
        text = html_words(str(post.get("cooked") or post.get("blurb") or post.get("raw") or ""))
        return Heard(
            remote_id=str(post["id"]),
            url=url,
            text=text,
            author=Remote(id=str(post.get("user_id", "")), account=str(post.get("username", "")), url=url),
            author_name=str(post.get("name") or post.get("username") or ""),
            posted_at=_when(str(post.get("created_at", ""))),
            found_by=found_by,
            in_reply_to=str(post.get("reply_to_post_number") or ""),
        )

    def inbound_post(self, headers: Any, body: bytes, secret: str) -> Heard | None:
        """A forum webhook: ``X-Discourse-Event-Signature: sha256=<hex HMAC of the body>``; ``post_created`` is
        heard, other events are not mentions (None). Raises ``PermissionError`` on a bad signature."""
        presented = str(headers.get("X-Discourse-Event-Signature", "")).encode("utf-8", "replace")
        expected = ("sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()).encode()
        if not presented or not hmac.compare_digest(presented, expected):
            raise PermissionError("X-Discourse-Event-Signature does not match this source's secret")
        if headers.get("X-Discourse-Event") != "post_created":
            return None
        parsed = json.loads(body)
        post = parsed.get("post") if isinstance(parsed, dict) else None
        if not isinstance(post, dict) or not post.get("id"):
            raise ValueError("the webhook's body has no post")
        return self._heard(post, {}, "webhook")
