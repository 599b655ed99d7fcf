"""RSS and Atom feeds as a listener: Google Alerts, review sites, blog and forum searches (feedparser).

Polite polling: each request sends the ``ETag`` and ``Last-Modified`` the feed gave last time, so an unchanged
feed costs a ``304 Not Modified`` and no parsing. The fetch goes through the outbound layer (the guard, a timeout,
our user agent); feedparser only parses the bytes. The cursor keeps the validators and the entry ids already seen
(the most recent ``KEPT``), since feeds repeat their latest entries on every read.
"""

import json
from datetime import UTC, datetime
from time import struct_time
from typing import Any

import feedparser

from integrations.base import Heard, Listener, Remote
from integrations.text import html_words
from statushub.lib import outbound
from statushub.lib.outbound import OutboundError

KEPT = 500  # entry ids remembered per feed


def _when(entry: Any) -> datetime:
    parsed: struct_time | None = entry.get("published_parsed") or entry.get("updated_parsed")
    if parsed is None:
        return datetime.now(UTC)
    return datetime(*parsed[:6], tzinfo=UTC)


class FeedListener(Listener):
    kind = "rss"

    def fetch(self, cursor: str) -> tuple[list[Heard], str]:
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        url = self.config["url"]
        headers = {"Accept": "application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.5"}
        if state.get("etag"):
            headers["If-None-Match"] = state["etag"]
        if state.get("modified"):
            headers["If-Modified-Since"] = state["modified"]
        with (
            outbound.reaching("the feed", timeout=self.timeout),
            outbound.client(timeout=self.timeout) as client,
        ):
            response = client.get(url, headers=headers, follow_redirects=True)
        if response.status_code == 304:
            return [], cursor
        if not response.is_success:
            raise outbound.error_for(response, f"the feed answered HTTP {response.status_code}")
        parsed = feedparser.parse(response.content)
        if not parsed.get("version"):  # feedparser recognised no feed format: an HTML page, a login form…
            raise OutboundError(
                "this address does not serve an RSS or Atom feed: check the feed URL", permanent=True
            )
        known = list(state.get("seen") or [])
        already = set(known)
        heard = []
        for entry in parsed.entries:
            remote_id = str(entry.get("id") or entry.get("link") or "")
            if not remote_id or remote_id in already:
                continue
            already.add(remote_id)
            known.append(remote_id)
            # Google Alerts marks the matched words in titles (<b>): keep the words, drop the markup.
            title = html_words(str(entry.get("title") or ""))
            text = "\n".join(part for part in (title, _summary(entry)) if part)
            heard.append(
                Heard(
                    remote_id=remote_id,
                    url=str(entry.get("link") or ""),
                    text=text,
                    author=Remote(id="", account=str(entry.get("author") or "")),
                    author_name=str(entry.get("author") or ""),
                    posted_at=_when(entry),
                    found_by="feed",
                )
            )
        following = {
            "etag": response.headers.get("ETag", ""),
            "modified": response.headers.get("Last-Modified", ""),
            "seen": known[-KEPT:],
        }
        return heard, json.dumps(following, sort_keys=True)


def _summary(entry: Any) -> str:
    return html_words(str(entry.get("summary") or ""))
