"""Stateful fakes of the channel services on a ``FakeServices`` server: they keep what was posted and answer
the lookups the transports make before a retry, as the real APIs do (paths, parameters, paging, formats).

Each ``install_*`` registers its routes under a prefix and returns the service's state, whose ``posts`` list
is what a reader would see on the service: a duplicate shows up there twice. The chaos harness reuses these.
Config for each transport pointing at the fake is in ``CONFIG``.
"""

import base64
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fake_services import Answer, FakeServices, Seen

DID = "did:plc:northwind"
HANDLE = "northwind.example"
X_USER = "1500000000000000001"
PAGE = "northwindpage"
MASTODON_ACCOUNT = "109000000000000001"


@dataclass
class Service:
    posts: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    def add(self, post: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.posts.append(post)
        return post

    def texts(self) -> list[str]:
        return [str(post["text"]) for post in self.posts]


def _param(seen: Seen, name: str, default: str = "") -> str:
    """A query parameter, or a form field (Slack's Web API takes its arguments either way)."""
    values = seen.query.get(name)
    if not values and "x-www-form-urlencoded" in seen.headers.get("Content-Type", ""):
        return seen.form().get(name, default)
    return values[-1] if values else default


def _page(
    items: list[Any], seen: Seen, *, limit_name: str, cursor_name: str, default: int
) -> tuple[list[Any], str]:
    """A page of ``items`` and the opaque cursor to the next one ("" at the end)."""
    start = int(_param(seen, cursor_name, "0") or 0)
    limit = int(_param(seen, limit_name, str(default)) or default)
    chunk = items[start : start + limit]
    return chunk, str(start + limit) if start + limit < len(items) else ""


# -- Slack: chat.postMessage (JSON), conversations.history / conversations.replies (GET, cursor paging) ----


def install_slack(fake: FakeServices, prefix: str = "/slack/api") -> Service:
    slack = Service()

    def post(seen: Seen, n: int) -> Answer:
        body = seen.json()
        ts = f"{time.time():.6f}"
        with slack.lock:  # ts is unique per channel
            while any(p["ts"] == ts for p in slack.posts):
                ts = f"{float(ts) + 0.000001:.6f}"
        message = {"type": "message", "ts": ts, "text": body["text"], "user": "U0BOT"}
        if body.get("thread_ts"):
            message["thread_ts"] = body["thread_ts"]
        if body.get("metadata"):  # kept as sent; shown only to include_all_metadata readers
            message["metadata"] = body["metadata"]
        slack.add(message)
        return 200, {"ok": True, "channel": body["channel"], "ts": ts, "message": message}, {}

    def listed(seen: Seen, messages: list[dict[str, Any]]) -> Answer:
        oldest = float(_param(seen, "oldest", "0") or 0)
        chosen = [m for m in messages if float(m["ts"]) >= oldest]
        if _param(seen, "include_all_metadata") not in ("1", "true"):
            chosen = [{k: v for k, v in m.items() if k != "metadata"} for m in chosen]
        chunk, cursor = _page(chosen, seen, limit_name="limit", cursor_name="cursor", default=100)
        return 200, {"ok": True, "messages": chunk, "has_more": bool(cursor),
                     "response_metadata": {"next_cursor": cursor}}, {}  # fmt: skip

    def history(seen: Seen, n: int) -> Answer:  # top-level messages, newest first
        top = [m for m in slack.posts if m.get("thread_ts") in (None, m["ts"])]
        return listed(seen, sorted(top, key=lambda m: float(m["ts"]), reverse=True))

    def replies(seen: Seen, n: int) -> Answer:  # the parent, then its replies, oldest first
        ts = _param(seen, "ts")
        thread = [m for m in slack.posts if m["ts"] == ts or m.get("thread_ts") == ts]
        return listed(seen, sorted(thread, key=lambda m: float(m["ts"])))

    fake.route("POST", f"{prefix}/chat.postMessage")(post)
    for method in ("GET", "POST"):
        fake.route(method, f"{prefix}/conversations.history")(history)
        fake.route(method, f"{prefix}/conversations.replies")(replies)
    return slack


# -- Bluesky: createSession, createRecord (rkey taken → 400), getRecord (missing → 400 RecordNotFound) -------


def _jwt() -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"sub": DID, "iat": now, "exp": now + 3600, "scope": "com.atproto.appPass"}
    return f"{part({'alg': 'ES256K', 'typ': 'at+jwt'})}.{part(claims)}.c2ln"


def install_bluesky(fake: FakeServices, prefix: str = "/bsky") -> Service:
    bsky = Service()

    def session(seen: Seen, n: int) -> Answer:
        return 200, {"accessJwt": _jwt(), "refreshJwt": _jwt(), "handle": HANDLE, "did": DID}, {}

    def create(seen: Seen, n: int) -> Answer:
        body = seen.json()
        rkey = body.get("rkey") or f"3k{next(bsky.counter):011d}"
        uri = f"at://{DID}/{body['collection']}/{rkey}"
        with bsky.lock:
            if any(p["uri"] == uri for p in bsky.posts):
                return 400, {"error": "InvalidRequest", "message": f"Record already exists: {uri}"}, {}
            post = {"uri": uri, "cid": f"bafy{rkey}", "value": body["record"], "text": body["record"]["text"]}
            bsky.posts.append(post)
        return 200, {"uri": uri, "cid": post["cid"], "commit": {"cid": "bafycommit", "rev": rkey}}, {}

    def get(seen: Seen, n: int) -> Answer:
        uri = f"at://{DID}/{_param(seen, 'collection')}/{_param(seen, 'rkey')}"
        for post in bsky.posts:
            if post["uri"] == uri:
                return 200, {"uri": uri, "cid": post["cid"], "value": post["value"]}, {}
        return 400, {"error": "RecordNotFound", "message": f"Could not locate record: {uri}"}, {}

    fake.route("POST", f"{prefix}/xrpc/com.atproto.server.createSession")(session)
    fake.route("POST", f"{prefix}/xrpc/com.atproto.repo.createRecord")(create)
    fake.route("GET", f"{prefix}/xrpc/com.atproto.repo.getRecord")(get)
    return bsky


# -- X: POST /2/tweets (same text as a recent post → 403 duplicate), GET /2/users/me, GET /2/users/:id/tweets -


def install_x(fake: FakeServices, prefix: str = "/x") -> Service:
    x = Service()

    def create(seen: Seen, n: int) -> Answer:
        body = seen.json()
        with x.lock:
            if any(p["text"] == body["text"] for p in x.posts):
                return 403, {"detail": "You are not allowed to create a Tweet with duplicate content.",
                             "type": "about:blank", "title": "Forbidden", "status": 403}, {}  # fmt: skip
            tweet_id = str(1790000000000000000 + next(x.counter))
            x.posts.append({"id": tweet_id, "text": body["text"], "created_at": datetime.now(UTC),
                            "reply": (body.get("reply") or {}).get("in_reply_to_tweet_id")})  # fmt: skip
        return 201, {"data": {"id": tweet_id, "text": body["text"], "edit_history_tweet_ids": [tweet_id]}}, {}

    def me(seen: Seen, n: int) -> Answer:
        return 200, {"data": {"id": X_USER, "name": "Northwind", "username": "northwind"}}, {}

    def timeline(seen: Seen, n: int) -> Answer:
        start = _param(seen, "start_time")
        since = (
            datetime.fromisoformat(start.replace("Z", "+00:00"))
            if start
            else datetime.min.replace(tzinfo=UTC)
        )
        end = _param(seen, "end_time")
        until = (
            datetime.fromisoformat(end.replace("Z", "+00:00")) if end else datetime.max.replace(tzinfo=UTC)
        )
        newest = sorted(
            (p for p in x.posts if since <= p["created_at"] <= until), key=lambda p: p["id"], reverse=True
        )
        chunk, cursor = _page(
            newest, seen, limit_name="max_results", cursor_name="pagination_token", default=10
        )
        data = [{"id": p["id"], "text": p["text"], "edit_history_tweet_ids": [p["id"]],
                 "created_at": p["created_at"].strftime("%Y-%m-%dT%H:%M:%S.000Z")} for p in chunk]  # fmt: skip
        meta: dict[str, Any] = {"result_count": len(data)}
        if data:
            meta |= {"newest_id": data[0]["id"], "oldest_id": data[-1]["id"]}
        if cursor:
            meta["next_token"] = cursor
        return 200, ({"data": data, "meta": meta} if data else {"meta": meta}), {}

    fake.route("POST", f"{prefix}/2/tweets")(create)
    fake.route("GET", f"{prefix}/2/users/me")(me)
    fake.route("GET", f"{prefix}/2/users/{X_USER}/tweets")(timeline)
    return x


# -- Facebook: POST /{page}/feed, POST /{post}/comments, GET /{page}/posts (since), GET /{post}/comments -------


def install_facebook(fake: FakeServices, prefix: str = "/fb", version: str = "v25.0") -> Service:
    fb = Service()

    def _time(post: dict[str, Any]) -> str:
        return post["created_at"].strftime("%Y-%m-%dT%H:%M:%S+0000")

    def listed(seen: Seen, items: list[dict[str, Any]], fields: str) -> Answer:
        chunk, after = _page(items, seen, limit_name="limit", cursor_name="after", default=25)
        wanted = _param(seen, "fields", fields).split(",")
        data = [{k: _time(p) if k == "created_time" else p.get(k) for k in wanted} for p in chunk]
        paging: dict[str, Any] = {"cursors": {"before": "0", "after": after or "end"}}
        if after:
            paging["next"] = f"{fake.base}{seen.path}?after={after}"
        return 200, {"data": data, "paging": paging}, {}

    def comments_route(post_id: str) -> None:
        path = f"{prefix}/{version}/{post_id}/comments"

        def comment(seen: Seen, n: int) -> Answer:
            form = seen.form()
            comment_id = f"{post_id.split('_')[-1]}_{5000 + next(fb.counter)}"
            fb.add({"id": comment_id, "message": form["message"], "text": form["message"], "parent": post_id,
                    "created_at": datetime.now(UTC)})  # fmt: skip
            return 200, {"id": comment_id}, {}

        def comments(seen: Seen, n: int) -> Answer:
            mine = [p for p in fb.posts if p.get("parent") == post_id]
            newest_first = _param(seen, "order") == "reverse_chronological"
            return listed(seen, list(reversed(mine)) if newest_first else mine, "id,message")

        fake.route("POST", path)(comment)
        fake.route("GET", path)(comments)

    def feed(seen: Seen, n: int) -> Answer:
        form = seen.form()
        post_id = f"{PAGE}_{900 + next(fb.counter)}"
        fb.add({"id": post_id, "message": form["message"], "text": form["message"], "parent": None,
                "permalink_url": f"https://www.facebook.com/northwind/posts/pfbid{post_id}",
                "created_at": datetime.now(UTC)})  # fmt: skip
        comments_route(post_id)
        return 200, {"id": post_id}, {}

    def posts(seen: Seen, n: int) -> Answer:
        since = int(_param(seen, "since", "0") or 0)
        mine = [p for p in reversed(fb.posts) if p["parent"] is None and p["created_at"].timestamp() >= since]
        return listed(seen, mine, "id")

    fake.route("POST", f"{prefix}/{version}/{PAGE}/feed")(feed)
    fake.route("GET", f"{prefix}/{version}/{PAGE}/posts")(posts)
    return fb


# -- Discourse: POST /posts.json (topic with external_id, or reply), topic lookups by external id and id ------


def _cooked(raw: str) -> str:
    html = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r'<a href="\2">\1</a>', raw)
    html = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html)
    return "".join(f"<p>{part}</p>" for part in html.split("\n\n"))


def install_discourse(fake: FakeServices, prefix: str = "/discourse") -> Service:
    forum = Service()
    topics: dict[int, dict[str, Any]] = {}
    ids = itertools.count(1000)

    def topic_routes(topic: dict[str, Any]) -> None:
        tid = topic["id"]

        def read(seen: Seen, n: int) -> Answer:  # the first 20 posts, and every post's id
            posts = [p for p in forum.posts if p["topic_id"] == tid]
            return 200, {"id": tid, "slug": topic["slug"], "title": topic["title"],
                         "post_stream": {"posts": posts[:20], "stream": [p["id"] for p in posts]}}, {}  # fmt: skip

        def some(seen: Seen, n: int) -> Answer:
            wanted = {int(v) for v in seen.query.get("post_ids[]", [])}
            posts = [p for p in forum.posts if p["topic_id"] == tid and p["id"] in wanted]
            return 200, {"post_stream": {"posts": posts}, "id": tid}, {}

        fake.route("GET", f"{prefix}/t/{tid}.json")(read)
        fake.route("GET", f"{prefix}/t/{tid}/posts.json")(some)
        fake.route("GET", f"{prefix}/t/external_id/{topic['external_id']}.json")(
            lambda seen, n: (301, "", {"Location": f"{fake.base}{prefix}/t/{topic['slug']}/{tid}.json"})
        )

    def post(seen: Seen, n: int) -> Answer:
        body = seen.json()
        with forum.lock:
            topic: dict[str, Any] | None
            if "title" in body:
                if any(t["external_id"] == body.get("external_id") for t in topics.values()):
                    return 422, {"action": "create_post", "errors": ["External ID has already been taken"],
                                 "error_type": "invalid_parameters"}, {}  # fmt: skip
                tid = next(ids)
                slug = re.sub(r"[^a-z0-9]+", "-", body["title"].lower()).strip("-")[:40] or "topic"
                topic = {
                    "id": tid,
                    "slug": slug,
                    "title": body["title"],
                    "external_id": body.get("external_id"),
                }
                topics[tid] = topic
                topic_routes(topic)
            else:
                topic = topics.get(int(body["topic_id"]))
                if topic is None:
                    return 404, {"errors": ["The requested URL or resource could not be found."]}, {}
            number = sum(1 for p in forum.posts if p["topic_id"] == topic["id"]) + 1
            made = {"id": next(ids), "topic_id": topic["id"], "topic_slug": topic["slug"], "post_number": number,
                    "raw": body["raw"], "cooked": _cooked(body["raw"]), "text": body["raw"]}  # fmt: skip
            forum.posts.append(made)
        return 200, {k: v for k, v in made.items() if k != "text"}, {}

    fake.route("POST", f"{prefix}/posts.json")(post)
    return forum


# -- Mastodon: POST /api/v1/statuses honouring Idempotency-Key, the account's statuses (snowflake ids) ------


def install_mastodon(fake: FakeServices, prefix: str = "/mastodon") -> Service:
    masto = Service()
    keys: dict[str, dict[str, Any]] = {}

    def status_json(post: dict[str, Any]) -> dict[str, Any]:
        return {"id": post["id"], "created_at": post["created_at"].isoformat().replace("+00:00", "Z"),
                "content": post["content"], "url": f"{fake.base}{prefix}/@northwind/{post['id']}",
                "in_reply_to_id": post["reply"], "visibility": "public", "reblog": None,
                "account": {"id": MASTODON_ACCOUNT, "acct": "northwind"}}  # fmt: skip

    def create(seen: Seen, n: int) -> Answer:
        key = seen.headers.get("Idempotency-Key") or ""
        form = seen.form() if "form" in seen.headers.get("Content-Type", "") else seen.json()
        with masto.lock:
            if key and key in keys:  # the server keeps a key for an hour: the same status again
                return 200, status_json(keys[key]), {}
            now = datetime.now(UTC)
            post_id = str((int(now.timestamp() * 1000) << 16) + next(masto.counter))
            text = str(form["status"])
            content = (
                "<p>"
                + re.sub(r"(https?://\S+)", r'<a href="\1">\1</a>', text).replace("\n", "<br />")
                + "</p>"
            )
            post = {"id": post_id, "created_at": now, "text": text, "content": content,
                    "reply": form.get("in_reply_to_id")}  # fmt: skip
            masto.posts.append(post)
            if key:
                keys[key] = post
        return 200, status_json(post), {}

    def me(seen: Seen, n: int) -> Answer:
        return 200, {"id": MASTODON_ACCOUNT, "acct": "northwind", "username": "northwind"}, {}

    def statuses(seen: Seen, n: int) -> Answer:
        since, before = int(_param(seen, "since_id", "0") or 0), int(_param(seen, "max_id", "0") or 0)
        limit = int(_param(seen, "limit", "20") or 20)
        chosen = [
            p for p in reversed(masto.posts) if int(p["id"]) > since and (not before or int(p["id"]) < before)
        ]
        return 200, [status_json(p) for p in chosen[:limit]], {}

    fake.route("POST", f"{prefix}/api/v1/statuses")(create)
    fake.route("GET", f"{prefix}/api/v1/accounts/verify_credentials")(me)
    fake.route("GET", f"{prefix}/api/v1/accounts/{MASTODON_ACCOUNT}/statuses")(statuses)
    return masto


# -- Reddit: OAuth password grant, /api/submit, /api/comment, the account's submitted and comments listings ---


def install_reddit(
    fake: FakeServices, prefix: str = "/reddit", subreddit: str = "northwindstatus"
) -> Service:
    reddit = Service()

    def token(seen: Seen, n: int) -> Answer:
        return (
            200,
            {"access_token": "reddit-token", "token_type": "bearer", "expires_in": 3600, "scope": "*"},
            {},
        )

    def thing(post: dict[str, Any]) -> dict[str, Any]:
        data = {"id": post["id"], "name": post["name"], "created_utc": post["created_utc"],
                "subreddit": subreddit, "author": "northwind-status", "permalink": post["permalink"]}  # fmt: skip
        if post["kind"] == "t3":
            data |= {"title": post["title"], "selftext": post["text"], "is_self": True}
        else:
            data |= {"body": post["text"], "link_id": post["link_id"], "parent_id": post["link_id"]}
        return {"kind": post["kind"], "data": data}

    def submit(seen: Seen, n: int) -> Answer:
        form = seen.form()
        post_id = f"1ab{next(reddit.counter):03d}"
        reddit.add({"kind": "t3", "id": post_id, "name": f"t3_{post_id}", "title": form["title"],
                    "text": form["text"], "created_utc": time.time(),
                    "permalink": f"/r/{subreddit}/comments/{post_id}/"})  # fmt: skip
        url = f"https://www.reddit.com/r/{subreddit}/comments/{post_id}/"
        return 200, {"json": {"errors": [], "data": {"id": post_id, "name": f"t3_{post_id}", "url": url}}}, {}

    def comment(seen: Seen, n: int) -> Answer:
        form = seen.form()
        comment_id = f"kq{next(reddit.counter):05d}"
        root = form["thing_id"].removeprefix("t3_")
        post = reddit.add({"kind": "t1", "id": comment_id, "name": f"t1_{comment_id}", "text": form["text"],
                           "link_id": form["thing_id"], "created_utc": time.time(),
                           "permalink": f"/r/{subreddit}/comments/{root}/_/{comment_id}/"})  # fmt: skip
        return 200, {"json": {"errors": [], "data": {"things": [thing(post)]}}}, {}

    def listing(kind: str) -> Any:
        def answer(seen: Seen, n: int) -> Answer:
            newest = [thing(p) for p in reversed(reddit.posts) if p["kind"] == kind]
            chunk, after = _page(newest, seen, limit_name="limit", cursor_name="count", default=25)
            return (
                200,
                {"kind": "Listing", "data": {"children": chunk, "after": after or None, "before": None}},
                {},
            )

        return answer

    fake.route("POST", f"{prefix}/api/v1/access_token")(token)
    fake.route("POST", f"{prefix}/api/submit/")(submit)
    fake.route("POST", f"{prefix}/api/comment/")(comment)
    fake.route("GET", f"{prefix}/user/northwind-status/submitted")(listing("t3"))
    fake.route("GET", f"{prefix}/user/northwind-status/comments")(listing("t1"))
    return reddit


# -- Webhook: a receiver that records every delivery (it, not StatusHub, dedupes by webhook-id) -------------


def install_webhook(fake: FakeServices, path: str = "/webhook/in") -> Service:
    hook = Service()

    def receive(seen: Seen, n: int) -> Answer:
        hook.add({"webhook_id": seen.headers.get("webhook-id"), "text": seen.body.decode()})
        return 204, "", {}

    fake.route("POST", path)(receive)
    return hook


def config(kind: str, base: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Channel config and secrets pointing ``kind``'s transport at the fake."""
    return {
        "slack": ({"channel": "C0STATUS", "base_url": f"{base}/slack/api/"}, {"token": "xoxb-good"}),
        "bluesky": ({"handle": HANDLE, "service": f"{base}/bsky"}, {"app_password": "abcd-efgh-ijkl-mnop"}),
        "x": ({"username": "northwind", "api_base": f"{base}/x"},
              {"consumer_key": "ck", "consumer_secret": "cs", "access_token": "at", "access_token_secret": "ats"}),
        "facebook": ({"page_id": PAGE, "api_base": f"{base}/fb"}, {"page_access_token": "page-token"}),
        "discourse": ({"forum_url": "https://forum.example", "api_base": f"{base}/discourse", "category_id": "7",
                       "api_username": "system"}, {"api_key": "disc-key"}),
        "mastodon": ({"instance": f"{base}/mastodon", "max_characters": "500"}, {"access_token": "masto-token"}),
        "reddit": ({"subreddit": "northwindstatus", "username": "northwind-status", "client_id": "cid",
                    "api_base": f"{base}/reddit"}, {"client_secret": "csecret", "password": "pw"}),
        "webhook": ({"url": f"{base}/webhook/in"}, {"secret": "whsec_" + "QUJD" * 8}),
    }[kind]  # fmt: skip


INSTALL: dict[str, Callable[[FakeServices], Service]] = {
    "slack": install_slack,
    "bluesky": install_bluesky,
    "x": install_x,
    "facebook": install_facebook,
    "discourse": install_discourse,
    "mastodon": install_mastodon,
    "reddit": install_reddit,
    "webhook": install_webhook,
}
# The request each kind's post (first update) and reply (later updates) makes, for injecting faults.
POST_PATHS = {
    "slack": ("POST", "/slack/api/chat.postMessage"),
    "bluesky": ("POST", "/bsky/xrpc/com.atproto.repo.createRecord"),
    "x": ("POST", "/x/2/tweets"),
    "facebook": ("POST", f"/fb/v25.0/{PAGE}/feed"),
    "discourse": ("POST", "/discourse/posts.json"),
    "mastodon": ("POST", "/mastodon/api/v1/statuses"),
    "reddit": ("POST", "/reddit/api/submit/"),
    "webhook": ("POST", "/webhook/in"),
}
