"""Mastodon: what people say to or about the company, through Mastodon.py on the transport's own client.

Mentions are the account's notifications of type ``mention`` (``GET /api/v1/notifications?types[]=mention``);
searches are ``GET /api/v2/search?type=statuses&q=…`` for each saved term (brand, product names, handles).
The cursor keeps, per stream, the newest id already seen (ids are snowflakes: they sort by time), so each poll
asks only for what is newer (``since_id``/``min_id``) and follows the ``Link`` header's older pages back to it.
"""

import json
from datetime import UTC, datetime
from functools import partial
from typing import Any

from integrations.base import Heard, Listener, Remote
from integrations.mastodon.client import call, connect
from integrations.text import html_words

PAGE = 40  # the most Mastodon returns a page
MAX_PAGES = 5  # a poll reads at most this many pages a stream; the rest waits for the next poll


def _newer(a: str, b: str) -> bool:
    return not b or (len(a), a) > (len(b), b)  # snowflake ids: a longer id is a later one


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class MastodonListener(Listener):
    kind = "mastodon"

    def fetch(self, cursor: str) -> tuple[list[Heard], str]:
        seen: dict[str, str] = json.loads(cursor) if cursor else {}
        api = connect(self.config["instance"], self.credentials.get("access_token", ""), timeout=self.timeout)
        heard: dict[str, Heard] = {}
        newest = dict(seen)

        since = seen.get("mentions", "")
        page = call(api, lambda: api.notifications(types=["mention"], since_id=since or None, limit=PAGE))
        for _ in range(MAX_PAGES):
            for notification in page or []:
                status = notification.get("status")
                if status:
                    self._hear(heard, status, "mention")
                if _newer(str(notification["id"]), newest.get("mentions", "")):
                    newest["mentions"] = str(notification["id"])
            if not page or len(page) < PAGE or not since:  # the first poll reads one page: no backlog
                break
            page = call(api, partial(api.fetch_next, page))

        for terms in self.searches:
            key = f"search:{terms}"
            after = seen.get(key, "")
            for number in range(MAX_PAGES):
                found = call(
                    api,
                    partial(
                        api.search_v2, terms, resolve=False, result_type="statuses", min_id=after or None,
                        limit=PAGE, offset=number * PAGE or None, exclude_unreviewed=False,
                    ),
                )  # fmt: skip
                statuses = list(found.get("statuses") or [])
                for status in statuses:
                    self._hear(heard, status, key)
                    if _newer(str(status["id"]), newest.get(key, "")):
                        newest[key] = str(status["id"])
                if len(statuses) < PAGE or not after:
                    break
        return list(heard.values()), json.dumps(newest, sort_keys=True)

    @staticmethod
    def _hear(heard: dict[str, Heard], status: dict[str, Any], found_by: str) -> None:
        remote_id = str(status["id"])
        if remote_id in heard:  # found by a mention and a search, or by two searches: one post
            return
        account = status.get("account") or {}
        heard[remote_id] = Heard(
            remote_id=remote_id,
            url=str(status.get("url") or status.get("uri") or ""),
            text=html_words(str(status.get("content") or "")),
            author=Remote(id=str(account.get("id", "")), account=str(account.get("acct", "")),
                          url=str(account.get("url") or "")),
            author_name=str(account.get("display_name") or account.get("username") or ""),
            posted_at=_when(status.get("created_at")),
            found_by=found_by,
            in_reply_to=str(status.get("in_reply_to_id") or ""),
            reach=account.get("followers_count"),
        )  # fmt: skip
