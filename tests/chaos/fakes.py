"""Local stand-ins for the channel services, with state and faults, for the chaos run.

One threaded HTTP server answers every service under its own path prefix (``/slack/api/…``, ``/x/2/…``), the
way the real APIs answer: posts are stored, so the lookups a transport makes after a lost answer (Slack's
conversation history and replies with metadata, X's user timeline, Facebook's posts and comments, Bluesky's
getRecord, Discourse's topic by external id, Mastodon's Idempotency-Key) find what an earlier attempt posted,
and each service refuses duplicates as it really does (X 403 "duplicate content", Facebook code 506, Bluesky's
existing record key, Discourse's "too similar" body).

A share of all requests (``fault_rate``) meets a fault, in five equal parts: 500; 429 with Retry-After; the
request is carried out but its answer is held past the client's timeout; the connection is reset before the
request is read; the request is carried out and the connection closed without an answer. The last two are
what a network gives a client: the client cannot tell whether its post went out.
"""

import json
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

FAULTS = ("500", "429", "hold", "reset", "close")
PUBLIC_ID = re.compile(r"/updates/([a-z0-9]{12})/")
HOLD_SECONDS = 11.0  # past the transports' 10 s client timeout


@dataclass
class Post:
    service: str
    id: str
    text: str
    update: str  # the public id the post carries ("" if none)
    at: float
    parent: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Answer(Exception):
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body if body is not None else {}, headers or {}


class ChaosServices:
    def __init__(self, *, fault_rate: float, seed: int = 11) -> None:
        self.fault_rate = fault_rate
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.posts: list[Post] = []
        self.faults: dict[str, int] = dict.fromkeys(FAULTS, 0)
        self.requests = 0
        self.counter = 1000
        self.base = ""
        self.idempotency: dict[str, Post] = {}  # Mastodon keeps keys for an hour

    # --- bookkeeping ------------------------------------------------------------------------------------

    def _next_id(self) -> int:
        self.counter += 1
        return self.counter

    def _store(self, service: str, text: str, *, id: str = "", parent: str = "", **extra: Any) -> Post:
        found = PUBLIC_ID.search(text)
        post = Post(service, id or str(self._next_id()), text, found.group(1) if found else "", time.time(),
                    parent, extra)  # fmt: skip
        self.posts.append(post)
        return post

    def of(self, service: str) -> list[Post]:
        with self.lock:
            return [post for post in self.posts if post.service == service]

    def fault(self) -> str | None:
        with self.lock:
            self.requests += 1
            if self.random.random() >= self.fault_rate:
                return None
            kind = self.random.choice(FAULTS)
            self.faults[kind] += 1
            return kind

    # --- the services -----------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], body: bytes, headers: Any) -> Answer:
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        payload: dict[str, Any] = {}
        if "json" in (headers.get("Content-Type") or "") and body:
            payload = json.loads(body)
        args = {**query, **form, **payload}
        with self.lock:
            for prefix, handler in (
                ("/webhook", self._webhook), ("/slack/api/", self._slack), ("/mastodon/", self._mastodon),
                ("/bsky/xrpc/", self._bluesky), ("/x/2/", self._x), ("/fb/", self._facebook),
                ("/discourse/", self._discourse),
            ):  # fmt: skip
                if path.startswith(prefix):
                    return handler(method, path[len(prefix) :], args, headers, body)
        return Answer(404, {"error": "no such fake"})

    def _webhook(self, method: str, rest: str, args: dict[str, Any], headers: Any, body: bytes) -> Answer:
        data = json.loads(body).get("data") or {}
        self._store("webhook", f"/updates/{data.get('id', '')}/", id=str(headers.get("webhook-id")))
        return Answer(204)

    def _slack(self, method: str, rest: str, args: dict[str, Any], headers: Any, body: bytes) -> Answer:
        def message(post: Post, with_metadata: bool) -> dict[str, Any]:
            shown = {"type": "message", "ts": post.id, "text": post.text, "thread_ts": post.parent or post.id}
            if with_metadata and post.extra.get("metadata"):
                shown["metadata"] = post.extra["metadata"]
            return shown

        channel = str(args.get("channel", ""))
        posts = [p for p in self.posts if p.service == "slack" and p.extra.get("channel") == channel]
        if rest == "chat.postMessage":
            text = json.dumps(args.get("blocks") or "") + str(args.get("text", ""))
            post = self._store(
                "slack", text, id=f"{int(time.time())}.{self._next_id():06d}", parent=str(args.get("thread_ts") or ""),
                channel=channel, metadata=args.get("metadata"),
            )  # fmt: skip
            return Answer(
                200, {"ok": True, "channel": channel, "ts": post.id, "message": message(post, True)}
            )
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        limit = int(args.get("limit") or 100)
        if rest == "conversations.replies":
            ts = str(args.get("ts", ""))
            thread = [p for p in posts if p.id == ts or p.parent == ts]
            if not thread:
                return Answer(200, {"ok": False, "error": "thread_not_found"})
            return Answer(200, {"ok": True, "messages": [message(p, with_metadata) for p in thread][:limit],
                                "has_more": False})  # fmt: skip
        if rest == "conversations.history":
            oldest = float(args.get("oldest") or 0)
            top = [p for p in reversed(posts) if not p.parent and float(p.id) > oldest]
            return Answer(200, {"ok": True, "messages": [message(p, with_metadata) for p in top][:limit],
                                "has_more": False})  # fmt: skip
        if rest == "auth.test":
            return Answer(200, {"ok": True, "user": "statushub", "team": "Northwind", "user_id": "U1"})
        return Answer(200, {"ok": False, "error": "unknown_method"})

    def _mastodon(self, method: str, rest: str, args: dict[str, Any], headers: Any, body: bytes) -> Answer:
        def status(post: Post) -> dict[str, Any]:
            return {"id": post.id, "url": f"{self.base}/mastodon/@northwind/{post.id}", "content": post.text,
                    "in_reply_to_id": post.parent or None, "created_at": _iso(post.at)}  # fmt: skip

        if method == "POST" and rest == "api/v1/statuses":
            key = headers.get("Idempotency-Key") or ""
            if key and key in self.idempotency:
                return Answer(200, status(self.idempotency[key]))
            post = self._store(
                "mastodon", str(args.get("status", "")), parent=str(args.get("in_reply_to_id") or "")
            )
            if key:
                self.idempotency[key] = post
            return Answer(200, status(post))
        if rest == "api/v1/accounts/verify_credentials":
            return Answer(200, {"id": "1", "username": "northwind", "acct": "northwind"})
        return Answer(404, {"error": "Record not found"})

    def _bluesky(self, method: str, rest: str, args: dict[str, Any], headers: Any, body: bytes) -> Answer:
        did = "did:plc:northwind"
        if rest in ("com.atproto.server.createSession", "com.atproto.server.refreshSession"):
            return Answer(200, {"accessJwt": _jwt(did), "refreshJwt": _jwt(did), "handle": "northwind.example",
                                "did": did, "active": True})  # fmt: skip
        if rest == "com.atproto.server.getSession":
            return Answer(200, {"handle": "northwind.example", "did": did})
        posts = {p.id: p for p in self.posts if p.service == "bluesky"}
        if rest == "com.atproto.repo.createRecord":
            rkey = str(args.get("rkey") or self._next_id())
            if rkey in posts:
                return Answer(400, {"error": "InvalidRequest", "message": "Record already exists"})
            record = args.get("record") or {}
            text = str(record.get("text", "")) + json.dumps(record.get("facets") or [])
            reply = ((record.get("reply") or {}).get("parent") or {}).get("uri", "")
            self._store("bluesky", text, id=rkey, parent=reply, record=record)
            return Answer(200, {"uri": f"at://{did}/app.bsky.feed.post/{rkey}", "cid": f"bafy{rkey}"})
        if rest == "com.atproto.repo.getRecord":
            found = posts.get(str(args.get("rkey")))
            if found is None:
                return Answer(400, {"error": "RecordNotFound", "message": "Could not locate record"})
            return Answer(200, {"uri": f"at://{did}/app.bsky.feed.post/{found.id}", "cid": f"bafy{found.id}",
                                "value": found.extra["record"]})  # fmt: skip
        if rest == "com.atproto.repo.listRecords":
            newest = sorted(posts.values(), key=lambda p: p.at, reverse=True)[: int(args.get("limit") or 50)]
            return Answer(200, {"records": [{"uri": f"at://{did}/app.bsky.feed.post/{p.id}", "cid": f"bafy{p.id}",
                                             "value": p.extra["record"]} for p in newest]})  # fmt: skip
        return Answer(400, {"error": "MethodNotImplemented", "message": rest})

    def _x(self, method: str, rest: str, args: dict[str, Any], headers: Any, body: bytes) -> Answer:
        mine = [p for p in self.posts if p.service == "x"]
        if method == "POST" and rest == "tweets":
            text = str(args.get("text", ""))
            if any(p.text == text for p in mine):
                return Answer(403, {"detail": "You are not allowed to create a Tweet with duplicate content.",
                                    "type": "about:blank", "title": "Forbidden", "status": 403})  # fmt: skip
            parent = str((args.get("reply") or {}).get("in_reply_to_tweet_id") or "")
            post = self._store("x", text, id=str(1800000000000000000 + self._next_id()), parent=parent)
            return Answer(201, {"data": {"id": post.id, "text": text, "edit_history_tweet_ids": [post.id]}})
        if rest == "users/me":
            return Answer(200, {"data": {"id": "42", "name": "Northwind", "username": "northwind"}})
        if re.fullmatch(r"users/\d+/tweets", rest):
            newest = sorted(mine, key=lambda p: int(p.id), reverse=True)
            if args.get("since_id"):
                newest = [p for p in newest if int(p.id) > int(args["since_id"])]
            if args.get("start_time"):  # ISO 8601, whole seconds: X's own filter, as the lookups use it
                start_at = datetime.fromisoformat(str(args["start_time"]).replace("Z", "+00:00")).timestamp()
                newest = [p for p in newest if p.at >= start_at]
            if args.get("end_time"):
                end_at = datetime.fromisoformat(str(args["end_time"]).replace("Z", "+00:00")).timestamp()
                newest = [p for p in newest if p.at <= end_at]
            start = int(args.get("pagination_token") or 0)
            size = int(args.get("max_results") or 10)
            page = newest[start : start + size]
            meta: dict[str, Any] = {"result_count": len(page)}
            if page:
                meta |= {"newest_id": page[0].id, "oldest_id": page[-1].id}
            if start + size < len(newest):
                meta["next_token"] = str(start + size)
            shown = [{"id": p.id, "text": p.text, "created_at": _iso(p.at)} for p in page]
            return Answer(200, {"data": shown, "meta": meta} if page
                          else {"meta": meta})  # fmt: skip
        return Answer(404, {"title": "Not Found Error", "status": 404})

    def _facebook(self, method: str, rest: str, args: dict[str, Any], headers: Any, body: bytes) -> Answer:
        parts = rest.split("/")  # v25.0/<node>/<edge>
        node, edge = (parts[1], parts[2]) if len(parts) >= 3 else (parts[-1], "")
        page = "northwindpage"
        if method == "POST" and edge == "feed":
            message = str(args.get("message", ""))
            if any(
                p.text.startswith(message) and not p.parent for p in self.posts if p.service == "facebook"
            ):
                return Answer(400, {"error": {"message": "(#506) Duplicate status message", "type": "OAuthException",
                                              "code": 506, "fbtrace_id": "Achaos"}})  # fmt: skip
            post = self._store("facebook", message + " " + str(args.get("link", "")),
                               id=f"{page}_{self._next_id()}")  # fmt: skip
            post.extra["message"] = message
            return Answer(200, {"id": post.id})
        if method == "POST" and edge == "comments":
            message = str(args.get("message", ""))
            post = self._store(
                "facebook", message, id=f"{node.split('_')[-1]}_{self._next_id()}", parent=node
            )
            post.extra["message"] = message
            return Answer(200, {"id": post.id})
        if edge in ("feed", "posts", "comments"):
            rows = [p for p in self.posts if p.service == "facebook" and (p.parent == node if edge == "comments"
                                                                            else not p.parent)]  # fmt: skip
            if not (edge == "comments" and args.get("order") == "chronological"):
                rows = list(reversed(rows))
            start = int(args.get("after") or 0)
            size = int(args.get("limit") or 25)
            chunk = rows[start : start + size]
            paging: dict[str, Any] = {"cursors": {"before": str(start), "after": str(start + len(chunk))}}
            if start + size < len(rows):
                paging["next"] = f"{self.base}/fb/{rest}?after={start + size}&limit={size}"
            data = [{"id": p.id, "message": p.extra.get("message", p.text), "created_time": _iso(p.at, "+0000"),
                     "permalink_url": f"https://www.facebook.com/{p.id}"} for p in chunk]  # fmt: skip
            return Answer(200, {"data": data, "paging": paging})
        return Answer(200, {"id": node, "name": "Northwind"})

    def _discourse(self, method: str, rest: str, args: dict[str, Any], headers: Any, body: bytes) -> Answer:
        posts = [p for p in self.posts if p.service == "discourse"]

        def shown(post: Post) -> dict[str, Any]:
            return {"id": int(post.id), "post_number": post.extra["number"], "topic_id": post.extra["topic"],
                    "topic_slug": "incident", "cooked": f"<p>{post.text}</p>", "username": "system"}  # fmt: skip

        def topic(topic_id: int) -> Answer:
            inside = [shown(p) for p in posts if p.extra["topic"] == topic_id]
            if not inside:
                return Answer(404, {"errors": ["The requested URL or resource could not be found."]})
            return Answer(200, {"id": topic_id, "slug": "incident", "title": "Incident",
                                "post_stream": {"posts": inside[:20], "stream": [p["id"] for p in inside]}})  # fmt: skip

        if method == "POST" and rest == "posts.json":
            raw = str(args.get("raw", ""))
            if args.get("topic_id"):
                topic_id = int(args["topic_id"])
                recent = [p for p in posts if p.extra["topic"] == topic_id and p.text == raw
                          and time.time() - p.at < 300]  # fmt: skip
                if recent:
                    return Answer(
                        422,
                        {
                            "action": "create_post",
                            "errors": ["Body is too similar to what you recently posted"],
                        },
                    )
                number = 1 + sum(1 for p in posts if p.extra["topic"] == topic_id)
            else:
                external = str(args.get("external_id") or "")
                if external and any(p.extra.get("external_id") == external for p in posts):
                    return Answer(
                        422, {"action": "create_post", "errors": ["External ID has already been taken"]}
                    )
                topic_id, number = self._next_id(), 1
            post = self._store("discourse", raw, topic=topic_id, number=number,
                               external_id=str(args.get("external_id") or ""))  # fmt: skip
            return Answer(200, shown(post))
        found = re.fullmatch(r"t/external_id/(.+)\.json", rest)
        if found:
            first = next((p for p in posts if p.extra.get("external_id") == found.group(1)), None)
            if first is None:
                return Answer(404, {"errors": ["The requested URL or resource could not be found."]})
            return Answer(
                301, "", {"Location": f"{self.base}/discourse/t/incident/{first.extra['topic']}.json"}
            )
        found = re.fullmatch(r"t/(?:[^/]+/)?(\d+)(?:/posts)?\.json", rest)
        if found:
            return topic(int(found.group(1)))
        return Answer(200, {"category": {"id": 4, "name": "Status"}})


# Each service's own way of saying when to come back (1 s from now): Retry-After (Slack, generic), Mastodon's
# X-RateLimit-Reset (ISO time), Bluesky's ratelimit-reset and X's x-rate-limit-reset (epoch seconds), Discourse's
# extras.wait_seconds in the body.
_RATE_LIMITED_BODY = {"error": "rate limited", "errors": ["You've performed this action too many times."],
                      "extras": {"wait_seconds": 1}}  # fmt: skip


def _rate_limited_headers() -> dict[str, str]:
    reset = time.time() + 1
    return {
        "Retry-After": "1",
        "X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(reset)),
        "ratelimit-limit": "3000", "ratelimit-remaining": "0", "ratelimit-reset": str(int(reset) + 1),
        "x-rate-limit-limit": "200", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(reset) + 1),
    }  # fmt: skip


def _iso(at: float, zone: str = ".000Z") -> str:
    """When a post was made, as the services write it (Mastodon: ``…00.000Z``, Facebook: ``…00+0000``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + zone


def _jwt(did: str) -> str:
    import base64

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"sub": did, "iat": now, "exp": now + 3600, "scope": "com.atproto.appPass"}
    return f"{part({'alg': 'ES256K', 'typ': 'at+jwt'})}.{part(claims)}.c2ln"


def _handler(fake: ChaosServices) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            fault = fake.fault()
            if fault == "reset":  # before reading the request: the service never saw it
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if fault == "500":
                answer = Answer(500, {"error": "chaos"})
            elif fault == "429":
                answer = Answer(429, _RATE_LIMITED_BODY, _rate_limited_headers())
            else:
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                try:
                    answer = fake.handle(self.command, parts.path, query, body, self.headers)
                except Exception as exc:  # a fake's own bug shows as a 500 with its name
                    answer = Answer(500, {"error": f"fake failed: {exc!r}"})
            if fault == "close":  # carried out, then the connection closes with no answer
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if fault == "hold":
                time.sleep(HOLD_SECONDS)
            data = b"" if answer.status in (204, 301) else json.dumps(answer.body).encode()
            try:
                self.send_response(answer.status)
                for name, value in {"Content-Type": "application/json", **answer.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (held answer)

        do_GET = do_POST = do_PUT = _serve

        def finish(self) -> None:
            with suppress(OSError):
                super().finish()

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def chaos_services(*, fault_rate: float, seed: int = 11) -> Iterator[ChaosServices]:
    fake = ChaosServices(fault_rate=fault_rate, seed=seed)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
