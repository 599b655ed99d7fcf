"""A real Celery worker on Redis fans two updates of one incident out to every kind of channel.

Each service is a local fake that records the exact requests; the second update must land as a reply in
each service's own threading terms. A flaky webhook fails twice then succeeds; a Slack workspace whose token
was revoked fails permanently and flags its channel.
"""

import base64
import json
import time

import pytest

from channels import services
from channels.models import Channel, ChannelThread, Delivery
from incidents import services as incident_services
from tests.fake_services import FakeServices, Seen, fake_services

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

DID = "did:plc:northwind"


def _jwt() -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"sub": DID, "iat": now, "exp": now + 3600, "scope": "com.atproto.appPass"}
    return f"{part({'alg': 'ES256K', 'typ': 'at+jwt'})}.{part(claims)}.c2ln"


def _routes(fake: FakeServices) -> None:
    ok: tuple[int, dict[str, object], dict[str, str]] = (200, {}, {})
    fake.route("POST", "/webhook/ok")(lambda seen, n: ok)
    fake.route("POST", "/webhook/flaky")(lambda seen, n: (503, {}, {}) if n <= 2 else ok)

    def slack(seen: Seen, n: int):
        if seen.headers.get("Authorization") == "Bearer xoxb-revoked":
            return 200, {"ok": False, "error": "token_revoked"}, {}
        return 200, {"ok": True, "channel": "C0STATUS", "ts": f"1700000000.00010{n}"}, {}

    fake.route("POST", "/slack/api/chat.postMessage")(slack)
    fake.route("POST", "/mastodon/api/v1/statuses")(
        lambda seen, n: (200, {"id": f"11{n}", "url": f"{fake.base}/mastodon/@northwind/11{n}"}, {})
    )
    fake.route("POST", "/bsky/xrpc/com.atproto.server.createSession")(
        lambda seen, n: (
            200,
            {"accessJwt": _jwt(), "refreshJwt": _jwt(), "handle": "northwind.example", "did": DID},
            {},
        )
    )
    fake.route("POST", "/bsky/xrpc/com.atproto.repo.createRecord")(
        lambda seen, n: (200, {"uri": f"at://{DID}/app.bsky.feed.post/3kpost{n}", "cid": f"bafycid{n}"}, {})
    )
    fake.route("POST", "/x/2/tweets")(lambda seen, n: (201, {"data": {"id": f"18{n}", "text": "…"}}, {}))
    fake.route("POST", "/fb/v25.0/northwindpage/feed")(lambda seen, n: (200, {"id": "northwindpage_501"}, {}))
    fake.route("POST", "/fb/v25.0/northwindpage_501/comments")(lambda seen, n: (200, {"id": "501_9"}, {}))
    fake.route("POST", "/discourse/posts.json")(
        lambda seen, n: (
            200,
            {"id": 900 + n, "topic_id": 77, "topic_slug": "payments-failing", "post_number": n},
            {},
        )
    )
    fake.route("POST", "/reddit/api/v1/access_token")(
        lambda seen, n: (
            200,
            {"access_token": "reddit-token", "token_type": "bearer", "expires_in": 3600, "scope": "*"},
            {},
        )
    )
    fake.route("POST", "/reddit/api/submit/")(
        lambda seen, n: (
            200,
            {"json": {"errors": [], "data": {"id": "1abcde", "name": "t3_1abcde", "url": ""}}},
            {},
        )
    )
    fake.route("POST", "/reddit/api/comment/")(
        lambda seen, n: (200, {"json": {"errors": [], "data": {"things": [{"kind": "t1", "data": {
            "id": "kq7x2mz", "name": "t1_kq7x2mz", "link_id": "t3_1abcde", "parent_id": "t3_1abcde",
            "permalink": "/r/northwindstatus/comments/1abcde/_/kq7x2mz/"}}]}}}, {})
    )  # fmt: skip


def _channels(base: str) -> dict[str, Channel]:
    specs = {
        "webhook": ("webhook", {"url": f"{base}/webhook/ok"}, {"secret": "whsec_" + "QUJD" * 8}),
        "flaky webhook": ("webhook", {"url": f"{base}/webhook/flaky"}, {"secret": "whsec_" + "QUJD" * 8}),
        "slack": ("slack", {"channel": "C0STATUS", "base_url": f"{base}/slack/api/"}, {"token": "xoxb-good"}),
        "revoked slack": ("slack", {"channel": "C0STATUS", "base_url": f"{base}/slack/api/"}, {"token": "xoxb-revoked"}),
        "mastodon": ("mastodon", {"instance": f"{base}/mastodon"}, {"access_token": "masto-token"}),
        "bluesky": ("bluesky", {"handle": "northwind.example", "service": f"{base}/bsky"}, {"app_password": "abcd-efgh"}),
        "x": ("x", {"username": "northwind", "api_base": f"{base}/x"},
              {"consumer_key": "ck", "consumer_secret": "cs", "access_token": "at", "access_token_secret": "ats"}),
        "facebook": ("facebook", {"page_id": "northwindpage", "api_base": f"{base}/fb"}, {"page_access_token": "page-token"}),
        "discourse": ("discourse", {"forum_url": f"{base}/discourse", "category_id": 4, "api_username": "system"},
                      {"api_key": "discourse-key"}),
        "reddit": ("reddit", {"subreddit": "northwindstatus", "username": "northwind-status", "client_id": "cid",
                              "api_base": f"{base}/reddit"}, {"client_secret": "csecret", "password": "pw"}),
        "uservoice": ("manual", {"community": "UserVoice"}, {}),
    }  # fmt: skip
    channels = {}
    for name, (kind, config, secrets) in specs.items():
        channels[name] = Channel.objects.create(kind=kind, name=name, config=config)
        if secrets:
            services.channel_set_credentials(channel=channels[name], credentials=secrets)
    return channels


def _settled(update, seconds: float = 45) -> dict[str, tuple[str, int]]:
    deadline = time.monotonic() + seconds
    while Delivery.objects.filter(update=update, state__in=Delivery.OPEN_STATES).exists():
        assert time.monotonic() < deadline, list(
            Delivery.objects.filter(update=update).values_list("channel__name", "state", "last_error")
        )
        time.sleep(0.2)
    return {d.channel.name: (d.state, d.attempts) for d in Delivery.objects.filter(update=update)}


def test_one_update_reaches_every_kind_of_channel_and_the_next_one_replies_in_thread(
    threaded_worker, make_incident, publisher
):
    with fake_services() as fake:
        _routes(fake)
        channels = _channels(fake.base)
        incident = make_incident("Payments failing", public=False)

        first = incident_services.update_publish(
            incident=incident,
            author=publisher,
            status="identified",
            body="Card payments fail. Refunds are automatic.",
        )
        states = _settled(first)
        assert states == {
            "webhook": ("delivered", 1), "flaky webhook": ("delivered", 3), "slack": ("delivered", 1),
            "revoked slack": ("dead", 1), "mastodon": ("delivered", 1), "bluesky": ("delivered", 1),
            "x": ("delivered", 1), "facebook": ("delivered", 1), "discourse": ("delivered", 1),
            "reddit": ("delivered", 1), "uservoice": ("awaiting", 1),
        }  # fmt: skip
        channels["revoked slack"].refresh_from_db()
        assert "token_revoked" in channels["revoked slack"].problem

        # Each service received its own wire format, with its own auth, carrying the update's words.
        (tweet,) = fake.calls("POST", "/x/2/tweets")
        assert (
            tweet.headers["Authorization"].startswith("OAuth ")
            and 'oauth_consumer_key="ck"' in tweet.headers["Authorization"]
        )
        assert "Card payments fail." in tweet.json()["text"] and "reply" not in tweet.json()
        (toot,) = fake.calls("POST", "/mastodon/api/v1/statuses")
        assert toot.headers["Authorization"] == "Bearer masto-token" and toot.headers["Idempotency-Key"]
        assert "Card payments fail." in toot.form()["status"]
        (skeet,) = fake.calls("POST", "/bsky/xrpc/com.atproto.repo.createRecord")
        assert skeet.json()["record"]["facets"][0]["features"][0]["uri"].endswith(
            f"/updates/{first.public_id}/"
        )
        (fb_post,) = fake.calls("POST", "/fb/v25.0/northwindpage/feed")
        assert fb_post.form()["access_token"] == "page-token"
        assert fb_post.form()["link"].endswith(f"/updates/{first.public_id}/")
        (topic,) = fake.calls("POST", "/discourse/posts.json")
        assert (topic.headers["Api-Key"], topic.headers["Api-Username"]) == ("discourse-key", "system")
        assert topic.json()["category"] == 4 and "Card payments fail." in topic.json()["raw"]
        (submit,) = fake.calls("POST", "/reddit/api/submit/")
        assert submit.headers["Authorization"] == "bearer reddit-token"
        assert submit.form()["kind"] == "self" and submit.form()["sr"] == "northwindstatus"
        hooks = fake.calls("POST", "/webhook/ok")
        assert hooks[0].headers["webhook-signature"].startswith("v1,")
        assert hooks[0].json()["data"]["id"] == first.public_id

        second = incident_services.update_publish(
            incident=incident, author=publisher, status="monitoring", body="The fix is out; we are watching."
        )
        states = _settled(second)
        assert states["slack"] == ("delivered", 1) and states["revoked slack"] == ("dead", 1)

        # The second update replies to the first, in each service's own threading terms.
        assert fake.calls("POST", "/x/2/tweets")[-1].json()["reply"] == {"in_reply_to_tweet_id": "181"}
        assert fake.calls("POST", "/mastodon/api/v1/statuses")[-1].form()["in_reply_to_id"] == "111"
        slack_posts = [
            s.json()
            for s in fake.calls("POST", "/slack/api/chat.postMessage")
            if "xoxb-good" in s.headers["Authorization"]
        ]
        assert "thread_ts" not in slack_posts[0]
        assert slack_posts[-1]["thread_ts"] == ChannelThread.objects.get(channel=channels["slack"]).root_id
        reply = fake.calls("POST", "/bsky/xrpc/com.atproto.repo.createRecord")[-1].json()["record"]["reply"]
        assert reply["root"]["uri"].endswith("/3kpost1") and reply["root"]["cid"] == "bafycid1"
        (comment,) = fake.calls("POST", "/fb/v25.0/northwindpage_501/comments")
        assert "The fix is out" in comment.form()["message"]
        assert fake.calls("POST", "/discourse/posts.json")[-1].json()["topic_id"] == 77
        (reddit_reply,) = fake.calls("POST", "/reddit/api/comment/")
        assert reddit_reply.form()["thing_id"] == "t3_1abcde"
        # One Bluesky login served both updates.
        assert len(fake.calls("POST", "/bsky/xrpc/com.atproto.server.createSession")) == 1

    assert ChannelThread.objects.filter(incident=incident).count() == 9  # all but the revoked and the manual
