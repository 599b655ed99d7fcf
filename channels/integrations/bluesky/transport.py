"""Bluesky: an app-password session and ``com.atproto.repo.createRecord`` through the atproto SDK.

Posts are limited to 300 graphemes; the link to the signed update travels as a link facet behind short text,
so it costs 13 characters, not the URL's length. Replies carry both the thread's root and parent (uri + cid).
"""

from typing import Any

from atproto import Client, client_utils, models
from atproto_client.exceptions import (
    BadRequestError,
    InvokeTimeoutError,
    NetworkError,
    RateLimitExceededError,
    RequestException,
    UnauthorizedError,
)

from channels.rendering import fit
from channels.transports import Message, Sent, Thread, Transport, TransportError

LIMIT = 300  # graphemes; counting code points is stricter, so it never overflows
LINK_TEXT = "Signed update"


def _ref(value: str) -> models.ComAtprotoRepoStrongRef.Main:
    uri, cid = value.split("|", 1)
    return models.ComAtprotoRepoStrongRef.Main(uri=uri, cid=cid)


class BlueskyTransport(Transport):
    kind = "bluesky"

    def build_request(self, message: Message, thread: Thread, *, idempotency_key: str) -> dict[str, Any]:
        text, shortened = fit(
            head=message.title,
            body=str(message.document.get("body", "")),
            tail=f"— {message.author} · {LINK_TEXT}",
            limit=LIMIT,
        )
        return {
            "method": "com.atproto.repo.createRecord (app.bsky.feed.post)",
            "service": self.config.get("service", "https://bsky.social"),
            "handle": self.config["handle"],
            "text": text.removesuffix(LINK_TEXT),
            "link": {"text": LINK_TEXT, "url": message.url},
            "reply": {"root": thread.root_id, "parent": thread.last_id} if thread.root_id else None,
            "shortened": shortened,
        }

    def send(self, request: dict[str, Any], thread: Thread) -> Sent:
        client = Client(base_url=request["service"])
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
        try:
            # No profile fetch: one call fewer against the 30-per-5-minutes session limit.
            client.login(
                request["handle"], self.credentials.get("app_password", ""), fetch_bsky_profile=False
            )
            created = client.send_post(post, profile_identify=request["handle"], reply_to=reply)
        except UnauthorizedError as exc:
            raise TransportError("Bluesky refused the handle or app password", permanent=True) from exc
        except RateLimitExceededError as exc:
            raise TransportError("Bluesky rate limit reached", retry_after=60) from exc
        except BadRequestError as exc:
            raise TransportError(f"Bluesky rejected the post: {exc}", permanent=True) from exc
        except (NetworkError, InvokeTimeoutError) as exc:
            raise TransportError(f"could not reach Bluesky: {exc}") from exc
        except RequestException as exc:  # other answers, e.g. 5xx
            raise TransportError(f"Bluesky answered an error: {exc}") from exc
        rkey = created.uri.rsplit("/", 1)[-1]
        return Sent(
            remote_id=f"{created.uri}|{created.cid}",
            remote_url=f"https://bsky.app/profile/{request['handle']}/post/{rkey}",
        )
