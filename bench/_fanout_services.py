"""The eight fake services of ``bench/fanout.py``: one local HTTP server per channel kind, each answering like
the real service after SERVICE_DELAY, and recording when each request came and went."""

import base64
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fake_services import Answer, FakeServices, Seen

SERVICE_DELAY = 0.2  # seconds every fake service takes to answer any request
DID = "did:plc:northwind"


@dataclass
class Hit:
    arrived: float
    answered: float


@dataclass
class Service:
    """One channel's fake service: every answer after SERVICE_DELAY, with when each request came and went."""

    kind: str
    fake: "FakeServices"
    hits: list[Hit] = field(default_factory=list)

    def route(self, method: str, path: str, answer: "Callable[[Seen, int], Answer]") -> None:
        def slow(seen: "Seen", n: int) -> "Answer":
            arrived = time.time()
            time.sleep(SERVICE_DELAY)
            status, body, headers = answer(seen, n)
            if seen.headers.get("Connection", "").lower() == "close":
                # As real servers do (RFC 9112 §9.6): without it the client pools a connection this server
                # is about to close, and its next request on it fails. prawcore asks this of token requests.
                headers = {**headers, "Connection": "close"}
            self.hits.append(Hit(arrived, time.time()))
            return status, body, headers

        self.fake.route(method, path)(slow)

    def between(self, start: float, end: float) -> list[Hit]:
        return [hit for hit in self.hits if start <= hit.arrived <= end]


def _jwt() -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"sub": DID, "iat": now, "exp": now + 24 * 3600, "scope": "com.atproto.appPass"}
    return f"{part({'alg': 'ES256K', 'typ': 'at+jwt'})}.{part(claims)}.c2ln"


def _routes(service: Service, incidents: int) -> tuple[dict[str, Any], dict[str, str]]:
    """Routes answering like the real service, as tests/channels/test_every_channel_worker.py has them (Facebook's comments on
    the posts of ``incidents`` incidents); returns the channel's config and secrets pointing at this fake."""
    base, route = service.fake.base, service.route
    if service.kind == "webhook":
        route("POST", "/hook", lambda seen, n: (200, {}, {}))
        return {"url": f"{base}/hook"}, {"secret": "whsec_" + "QUJD" * 8}
    if service.kind == "slack":
        route("POST", "/api/chat.postMessage", lambda seen, n: (200, {"ok": True, "channel": "C0STATUS", "ts": f"1700000000.{n:06d}"}, {}))  # fmt: skip
        return {"channel": "C0STATUS", "base_url": f"{base}/api/"}, {"token": "xoxb-bench"}
    if service.kind == "mastodon":
        route("POST", "/api/v1/statuses", lambda seen, n: (200, {"id": f"11{n}", "url": f"{base}/@northwind/11{n}"}, {}))  # fmt: skip
        return {"instance": base}, {"access_token": "masto-token"}
    if service.kind == "bluesky":
        route("POST", "/xrpc/com.atproto.server.createSession", lambda seen, n: (200, {"accessJwt": _jwt(), "refreshJwt": _jwt(), "handle": "northwind.example", "did": DID}, {}))  # fmt: skip
        route("POST", "/xrpc/com.atproto.repo.createRecord", lambda seen, n: (200, {"uri": f"at://{DID}/app.bsky.feed.post/3kpost{n}", "cid": f"bafycid{n}"}, {}))  # fmt: skip
        return {"handle": "northwind.example", "service": base}, {"app_password": "abcd-efgh"}
    if service.kind == "x":
        route("POST", "/2/tweets", lambda seen, n: (201, {"data": {"id": f"18{n}", "text": "…"}}, {}))
        secrets = {"consumer_key": "ck", "consumer_secret": "cs", "access_token": "at", "access_token_secret": "ats"}  # fmt: skip
        return {"username": "northwind", "api_base": base}, secrets
    if service.kind == "facebook":
        route("POST", "/v25.0/northwindpage/feed", lambda seen, n: (200, {"id": f"northwindpage_50{n}"}, {}))
        for n in range(1, incidents + 1):
            route(
                "POST", f"/v25.0/northwindpage_50{n}/comments", lambda seen, n: (200, {"id": f"50_{n}"}, {})
            )
        return {"page_id": "northwindpage", "api_base": base}, {"page_access_token": "page-token"}
    if service.kind == "discourse":
        route("POST", "/posts.json", lambda seen, n: (200, {"id": 900 + n, "topic_id": 77, "topic_slug": "payments", "post_number": n}, {}))  # fmt: skip
        return {"forum_url": base, "category_id": 4, "api_username": "system"}, {"api_key": "discourse-key"}
    if service.kind == "reddit":
        route("POST", "/api/v1/access_token", lambda seen, n: (200, {"access_token": "reddit-token", "token_type": "bearer", "expires_in": 3600, "scope": "*"}, {}))  # fmt: skip
        route("POST", "/api/submit/", lambda seen, n: (200, {"json": {"errors": [], "data": {"id": f"1abc{n}", "name": f"t3_1abc{n}", "url": ""}}}, {}))  # fmt: skip
        route("POST", "/api/comment/", lambda seen, n: (200, {"json": {"errors": [], "data": {"things": [{"kind": "t1", "data": {
            "id": f"kq{n}", "name": f"t1_kq{n}", "link_id": "t3_1abc1", "parent_id": "t3_1abc1",
            "permalink": f"/r/northwindstatus/comments/1abc1/_/kq{n}/"}}]}}}, {}))  # fmt: skip
        config = {
            "subreddit": "northwindstatus",
            "username": "northwind-status",
            "client_id": "cid",
            "api_base": base,
        }
        return config, {"client_secret": "csecret", "password": "pw"}
    raise ValueError(service.kind)


KINDS = ("webhook", "slack", "mastodon", "bluesky", "x", "facebook", "discourse", "reddit")


@contextmanager
def fake_services(incidents: int) -> Iterator[dict[str, tuple[Service, dict[str, Any], dict[str, str]]]]:
    from tests.fake_services import fake_services as one_fake

    with ExitStack() as stack:
        services = {}
        for kind in KINDS:
            service = Service(kind, stack.enter_context(one_fake()))
            services[kind] = (service, *_routes(service, incidents))
        yield services
