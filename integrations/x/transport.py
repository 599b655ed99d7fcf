"""X (Twitter): ``POST /2/tweets`` through tweepy with OAuth 1.0a user keys; later updates reply to the previous post.

https://docs.x.com/x-api/posts/create-post — 280 characters as X weighs them (twitter-text: every link 23,
CJK and emoji 2). Errors are RFC 7807 problems (``{"title", "detail", "type", "status"}``); 429s carry
``x-rate-limit-*`` and, for the daily post caps, ``x-user-limit-24hour-*`` / ``x-app-limit-24hour-*`` headers.
Config ``api_base`` (e.g. "http://127.0.0.1:8765") replaces https://api.twitter.com, for a local fake server;
config ``user_id`` (optional) saves a ``GET /2/users/me`` when looking for a post already made.
Before a retry (and when X calls a post a duplicate) the account's own timeline (``GET /2/users/:id/tweets``)
is read from the delivery's start, every page of it, for a post with the same words.
"""

import html
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import requests
import tweepy
from twitter_text import parse_tweet

from integrations.base import (
    Field,
    Lookup,
    Message,
    OutboundError,
    Sent,
    Thread,
    Transport,
    is_network_error,
    network_problem,
)
from integrations.text import fit
from statushub.lib import outbound
from statushub.lib.markdown_text import plain_text

API = "https://api.twitter.com"  # tweepy 4.17 hard-codes this inside Client.request
LIMIT = 280
PAGE = 100  # the timeline's largest page
MAX_PAGES = 32  # X serves the latest 3,200 posts of a timeline: all of them, at most
DUPLICATE_WINDOW = timedelta(days=1)  # how far back a post X calls a duplicate is looked for
CLOCK_SKEW = timedelta(minutes=2)  # our clock against X's created_at
RATE_WINDOWS = ("x-user-limit-24hour", "x-app-limit-24hour", "x-rate-limit")
SECRETS = {
    "consumer_key": "API key",
    "consumer_secret": "API key secret",
    "access_token": "access token",
    "access_token_secret": "access token secret",
}
T = TypeVar("T")


def weighted_length(text: str) -> int:
    return int(parse_tweet(text).weightedLength)


class _Duplicate(OutboundError):
    """X's 403 "You are not allowed to create a Tweet with duplicate content.": perhaps ours, already posted."""


class _Session(requests.Session):
    """tweepy sends without a timeout and to a fixed host: every call gets ours, and ``api_base`` if set."""

    def __init__(self, timeout: float, base: str) -> None:
        super().__init__()
        self.timeout = timeout
        self.base = base
        outbound.guard_session(self)  # api_base can point anywhere

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if self.base and isinstance(url, str) and url.startswith(API):
            url = self.base + url.removeprefix(API)  # before OAuth signs it, so the signature matches
        kwargs["timeout"] = self.timeout
        return super().request(method, url, *args, **kwargs)


def _handle(value: str) -> str:
    return value.strip().removeprefix("@")


def _detail(exc: tweepy.HTTPException) -> str:
    return "; ".join(str(message) for message in exc.api_messages) or f"HTTP {exc.response.status_code}"


def _same_text(posted: dict[str, Any], text: str) -> bool:
    """X returns links as t.co and escapes &, < and >; the entities say what each t.co stood for."""
    shown = str(posted.get("text", ""))
    for link in (posted.get("entities") or {}).get("urls", []):
        if link.get("url") and link.get("expanded_url"):
            shown = shown.replace(link["url"], link["expanded_url"])

    def normal(value: str) -> str:
        return " ".join(unicodedata.normalize("NFC", html.unescape(value)).split())

    return normal(shown) == normal(text)


def reset_in(response: requests.Response) -> float | None:
    """Seconds until the exhausted window resets: the daily caps outlast the 15-minute one, so they win."""
    headers = response.headers
    resets = []
    for window in RATE_WINDOWS:
        try:
            if int(headers[f"{window}-remaining"]) <= 0:
                resets.append(float(headers[f"{window}-reset"]))
        except (KeyError, ValueError):
            continue
    if not resets:  # X does not always say which window ran out
        try:
            resets.append(float(headers["x-rate-limit-reset"]))
        except (KeyError, ValueError):
            return None
    return max(1.0, max(resets) - time.time())


class XTransport(Transport):
    kind = "x"
    fields = (
        Field("username", "X username", "The posting account's handle, without the @."),
        Field("consumer_key", "API key", "Also called consumer key; under the app's Keys and tokens.", secret=True),
        Field("consumer_secret", "API key secret", "Shown beside the API key.", secret=True),
        Field("access_token", "Access token", "Generated for the posting account, with Read and write.", secret=True),
        Field("access_token_secret", "Access token secret", "Shown beside the access token.", secret=True),
    )  # fmt: skip
    connect_help = (
        "Signed in to console.x.com as the account that will post, create an app and, under User authentication "
        "settings, set its permissions to Read and write. Then, under Keys and tokens, copy the API key and its "
        "secret and generate an access token and secret: they belong to the account that owns the app, and "
        "must be generated after choosing Read and write (regenerate them if they say Read only). The app's "
        "plan must include posting."
    )

    def build_request(self, message: Message, thread: Thread, *, idempotency_key: str) -> dict[str, Any]:
        text, shortened = fit(
            head=message.title,
            body=plain_text(str(message.document.get("body", ""))),
            tail=f"— {message.author}\n{message.url}",
            limit=LIMIT,
            measure=weighted_length,
        )
        return {
            "method": "POST /2/tweets",
            "username": _handle(self.config.get("username", "")),
            "text": text,
            "in_reply_to_tweet_id": thread.last_id or None,
            "shortened": shortened,
        }

    def send(self, request: dict[str, Any], thread: Thread) -> Sent:
        with self._client() as client:
            try:
                created = self._call(
                    lambda: client.create_tweet(
                        text=request["text"],
                        in_reply_to_tweet_id=request["in_reply_to_tweet_id"],
                        user_auth=True,
                    )
                )
            except _Duplicate as exc:
                return self._already_posted(client, request, exc)
        tweet_id = str((created.get("data") or {}).get("id") or "")
        if not tweet_id:
            raise OutboundError("X answered without the new post's id")
        return self._sent(request, tweet_id)

    def check(self) -> str:
        with self._client() as client:
            me = self._call(lambda: client.get_me(user_auth=True)).get("data") or {}
        username = str(me.get("username", ""))
        configured = _handle(self.config.get("username", ""))
        if configured and username and configured.lower() != username.lower():
            raise OutboundError(
                f"These keys post as @{username}, not @{configured}: correct the username or use that "
                "account's access token.",
                permanent=True,
            )
        return f"@{username} on X"

    @staticmethod
    def _sent(request: dict[str, Any], tweet_id: str) -> Sent:
        return Sent(
            remote_id=tweet_id, remote_url=f"https://x.com/{request['username'] or 'i'}/status/{tweet_id}"
        )

    def find_sent(self, request: dict[str, Any], thread: Thread, lookup: Lookup) -> Sent | None:
        with self._client() as client:
            until = lookup.until + CLOCK_SKEW if lookup.until else None
            return self._search(client, request, lookup.since - CLOCK_SKEW, until)

    def _search(
        self, client: tweepy.Client, request: dict[str, Any], since: datetime, until: datetime | None = None
    ) -> Sent | None:
        """Our post with these words on the account's timeline since ``since`` (and until ``until``, when the
        attempts that could have made it are known to be over), every page of it: other posts may have gone
        out since, the latest few are not enough."""
        user_id = str(self.config.get("user_id") or "")
        if not user_id:
            user_id = str((self._call(lambda: client.get_me(user_auth=True)).get("data") or {}).get("id", ""))
        start = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        # X refuses an end_time later than 10 s before now.
        end = until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if until and until < _recent() else None
        token: str | None = None
        for _ in range(MAX_PAGES):
            page = self._call(
                lambda after=token: client.get_users_tweets(  # type: ignore[misc]
                    user_id, max_results=PAGE, start_time=start, end_time=end, pagination_token=after,
                    tweet_fields=["entities", "created_at"], user_auth=True,
                )
            )  # fmt: skip
            for posted in page.get("data") or []:
                if posted.get("id") and _same_text(posted, request["text"]):
                    return self._sent(request, str(posted["id"]))
            token = (page.get("meta") or {}).get("next_token")
            if not token:
                break
        return None

    def _already_posted(self, client: tweepy.Client, request: dict[str, Any], refusal: _Duplicate) -> Sent:
        """A duplicate usually means our earlier attempt got through but its answer was lost: find that post.

        A failure to read the timeline is transient (the delivery retries and looks again); only a refusal
        to read it (e.g. the plan does not include reads) makes the duplicate final.
        """
        try:
            found = self._search(client, request, datetime.now(UTC) - DUPLICATE_WINDOW)
        except OutboundError as failed:
            if not failed.permanent:
                raise
            raise OutboundError(
                "X refused this as a duplicate of an earlier post, and reading the account's recent posts to "
                f"find it failed: {failed.message}",
                permanent=True,
            ) from failed
        if found is not None:
            return found
        raise OutboundError(
            "X refused this as a duplicate of an earlier post, yet none of the account's recent posts matches "
            "it. Reword the update and retry.",
            permanent=True,
        ) from refusal

    @contextmanager
    def _client(self) -> Iterator[tweepy.Client]:
        missing = [label for name, label in SECRETS.items() if not self.credentials.get(name)]
        if missing:
            raise OutboundError(f"X is not fully connected: {', '.join(missing)} missing.", permanent=True)
        client = tweepy.Client(
            **{name: self.credentials[name] for name in SECRETS},
            return_type=dict,
            wait_on_rate_limit=False,  # never sleep inside a worker: the engine schedules the retry
        )
        client.session = _Session(self.timeout, self.endpoint_override("api_base").rstrip("/"))
        try:
            yield client
        finally:
            client.session.close()

    def _call(self, call: Callable[[], T]) -> T:
        """X's answers as TransportErrors: permanent ones say what to fix."""
        try:
            return call()
        except tweepy.TooManyRequests as exc:
            wait = reset_in(exc.response)
            when = f"in about {_duration(wait)}" if wait else "later"
            raise OutboundError(
                f"X's limit for this account or app is used up for now; trying again {when}.",
                retry_after=wait,
            ) from exc
        except tweepy.Unauthorized as exc:
            raise OutboundError(
                "X refused the keys (401). Copy the API key and secret and the access token and secret again "
                "from the app's Keys and tokens page; regenerating any of them there invalidates the old one.",
                permanent=True,
            ) from exc
        except tweepy.Forbidden as exc:
            raise _forbidden(_detail(exc)) from exc
        except tweepy.TwitterServerError as exc:
            raise OutboundError(f"X is having trouble (HTTP {exc.response.status_code})") from exc
        except tweepy.HTTPException as exc:
            raise _refused(exc) from exc
        except requests.Timeout as exc:
            raise OutboundError(f"X did not answer within {self.timeout:.0f} s") from exc
        except requests.JSONDecodeError as exc:
            raise OutboundError("X answered something other than JSON") from exc
        except requests.RequestException as exc:
            raise OutboundError(f"could not reach X: {network_problem(exc)}") from exc
        except Exception as exc:  # e.g. http.client's IncompleteRead, which requests does not always wrap
            if is_network_error(exc):
                raise OutboundError(f"could not reach X: {network_problem(exc)}") from exc
            raise


def _forbidden(detail: str) -> OutboundError:
    lowered = detail.lower()
    if "duplicate" in lowered:
        return _Duplicate(f"X refused a duplicate post ({detail})", permanent=True)
    if "permission" in lowered or "not permitted" in lowered:
        return OutboundError(
            f"X forbade this ({detail}). Set the app's permissions to Read and write, then regenerate the "
            "access token and secret (tokens made before the change stay read-only) and paste the new ones.",
            permanent=True,
        )
    if "reply" in lowered:
        return OutboundError(
            f"X would not take this reply ({detail}): the incident's earlier post on X may have been deleted.",
            permanent=True,
        )
    return OutboundError(f"X forbade this post ({detail}).", permanent=True)


def _refused(exc: tweepy.HTTPException) -> OutboundError:
    """400 (validation), 402 (no API credits), 404 and the like: sending the same again fails the same way."""
    status = exc.response.status_code
    if status == 402:
        return OutboundError(
            f"X says the developer account has no API credits left for posting ({_detail(exc)}). Add credits "
            "or change the plan at console.x.com.",
            permanent=True,
        )
    return OutboundError(f"X refused the request (HTTP {status}: {_detail(exc)}).", permanent=True)


def _recent() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=15)


def _duration(seconds: float) -> str:
    if seconds < 50:
        return f"{max(1, round(seconds))} seconds"
    minutes = round(seconds / 60)
    if minutes < 2:
        return "a minute"
    if minutes < 120:
        return f"{minutes} minutes"
    return f"{round(minutes / 60)} hours"
