"""Reddit: a self post per incident (``POST /api/submit``), later updates as comments on it (``POST /api/comment``).

Through praw with a "script" app (OAuth password grant). https://www.reddit.com/dev/api#POST_api_submit —
titles up to 300 characters, self text up to 40,000, comments up to 10,000; refusals arrive as
``{"json": {"errors": [[code, message, field]]}}``, including ``RATELIMIT`` ("Take a break for 5 minutes").
Every update replies to the incident's post, not to the previous comment: top-level comments stay readable
where a chain would sink deeper with each update. Config ``api_base`` (e.g. "http://127.0.0.1:8765")
replaces both www.reddit.com (token) and oauth.reddit.com (API), for a local fake server.
Reddit takes no idempotency key: before a retry the engine reads the account's own newest submissions
(``/user/{name}/submitted``) or comments (``/user/{name}/comments``) since the delivery began, for this one.
"""

import re
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import praw
from praw.exceptions import RedditAPIException
from prawcore import OAuthException, Redirect, RequestException, Requestor, ResponseException
from prawcore.const import ACCESS_TOKEN_PATH
from prawcore.rate_limit import RateLimiter
from prawcore.sessions import FiniteRetryStrategy
from requests import Response, Timeout

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
from integrations.text import LINK_TEXT, fit
from statushub.lib import outbound
from statushub.lib.markdown_text import clean_source

WEB = "https://www.reddit.com"
TITLE_LIMIT = 300
POST_LIMIT = 40_000
COMMENT_LIMIT = 10_000

CLOCK_SKEW = timedelta(minutes=2)
LOOKUP_LIMIT = 100  # the account's newest submissions or comments read for a lost post (one page)

_WAIT = re.compile(r"(\d+)\s*(millisecond|second|minute|hour)", re.IGNORECASE)
_UNIT_SECONDS = {"millisecond": 0.001, "second": 1, "minute": 60, "hour": 3600}


class _Requestor(Requestor):
    """praw 8 never passes its ``timeout`` setting on (prawcore sends a fixed 16 s with each call): ours wins."""

    def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> Response:
        return super().request(*args, timeout=self.timeout, **kwargs)


class _OneAttempt(FiniteRetryStrategy):
    """prawcore retries 5xx answers and dropped connections itself, sleeping up to 4 s between tries."""

    def should_retry_on_failure(self) -> bool:
        return False


class _Unpaced(RateLimiter):
    def delay(self) -> None:
        """prawcore sleeps to spread calls over its window; a worker never sleeps, a 429 comes back to us."""


def _name(value: str, prefix: str) -> str:
    """People paste "r/northwind", "/u/northwind-status" or a bare name; Reddit wants the bare name."""
    return value.strip().removeprefix("/").removeprefix(prefix).strip("/")


def _words(text: str) -> str:
    """Text as Reddit gives it back: the same words, whitespace aside."""
    return " ".join(str(text).split())


def _ratelimit_wait(message: str) -> float | None:
    """The wait in Reddit's RATELIMIT message ("Take a break for 9 minutes before trying again.")."""
    found = _WAIT.search(message)
    if not found:
        return None
    return max(1.0, int(found.group(1)) * _UNIT_SECONDS[found.group(2).lower()])


def _header_wait(response: Response) -> float | None:
    """Retry-After, else x-ratelimit-reset (seconds to the end of Reddit's window)."""
    return outbound.retry_after_seconds(dict(response.headers))


class RedditTransport(Transport):
    kind = "reddit"
    fields = (
        Field("subreddit", "Subreddit", help="Its name without r/, e.g. northwindstatus."),
        Field("username", "Reddit username", help="The posting account, without u/."),
        Field(
            "client_id", "Client ID", help="The string under “personal use script” on reddit.com/prefs/apps."
        ),
        Field("client_secret", "Secret", help="Shown as “secret” beside the app.", secret=True),
        Field("password", "Password", help="The posting account's password.", secret=True),
    )
    connect_help = (
        "Log in to Reddit as the account that will post, open reddit.com/prefs/apps and create an app of type "
        "“script” (redirect URI http://localhost:8080 will do): its client ID is the string under “personal use "
        "script”, its secret is labelled “secret”. Password login does not work for accounts with two-factor "
        "authentication, so use a dedicated posting account without it. Make that account a moderator or approved "
        "user of the subreddit, so restricted subreddits accept its posts and spam filters leave them up."
    )

    def build_request(self, message: Message, thread: Thread, *, idempotency_key: str) -> dict[str, Any]:
        tail = f"— {message.author} · [{LINK_TEXT}]({message.url})"
        body = clean_source(str(message.document.get("body", "")))  # Reddit shows Markdown as the page does
        subreddit, username = _name(self.config["subreddit"], "r/"), _name(self.config["username"], "u/")
        if thread.root_id:
            text, shortened = fit(head=f"**{message.title}**", body=body, tail=tail, limit=COMMENT_LIMIT)
            return {
                "method": "POST /api/comment",
                "subreddit": subreddit,
                "username": username,
                "title": None,
                "text": text,
                "thing_id": f"t3_{thread.root_id}",
                "shortened": shortened,
            }
        # The post's title says what and how bad; repeating it above the text would only push the text down.
        text, shortened = fit(head="", body=body, tail=tail, limit=POST_LIMIT)
        return {
            "method": "POST /api/submit (kind=self)",
            "subreddit": subreddit,
            "username": username,
            "title": textwrap.shorten(message.title, TITLE_LIMIT, placeholder=" …"),
            "text": text.lstrip(),
            "thing_id": None,
            "shortened": shortened,
        }

    @staticmethod
    def text_of(request: dict[str, Any]) -> str:
        text = str(request.get("text", ""))
        return f"{request['title']}\n\n{text}" if request.get("title") else text

    def send(self, request: dict[str, Any], thread: Thread) -> Sent:
        reddit = self._reddit()
        subreddit = request["subreddit"]
        with self._errors(subreddit):
            if request["thing_id"] is None:
                submission = reddit.subreddit(subreddit).submit(
                    title=request["title"], selftext=request["text"]
                )
                return Sent(
                    remote_id=submission.id, remote_url=f"{WEB}/r/{subreddit}/comments/{submission.id}/"
                )
            root = request["thing_id"].removeprefix("t3_")
            comment = reddit.submission(id=root).reply(request["text"])
        if comment is None:  # posted, but Reddit did not say as what (quarantined subreddits)
            return Sent(remote_id="", remote_url=f"{WEB}/r/{subreddit}/comments/{root}/")
        # The answer carries the permalink; reading it through praw's attribute would fetch the comment again.
        permalink = vars(comment).get("permalink") or f"/r/{subreddit}/comments/{root}/_/{comment.id}/"
        return Sent(remote_id=comment.id, remote_url=f"{WEB}{permalink}")

    def find_sent(self, request: dict[str, Any], thread: Thread, lookup: Lookup) -> Sent | None:
        """The account's own post (or comment on the incident's post) with these words, made since the
        delivery began."""
        reddit = self._reddit()
        subreddit, since = request["subreddit"], (lookup.since - CLOCK_SKEW).timestamp()
        text = _words(request["text"])
        with self._errors(subreddit):
            account = reddit.redditor(request["username"])
            if request["thing_id"] is None:
                for submission in account.submissions.new(limit=LOOKUP_LIMIT):
                    if submission.created_utc < since:
                        break
                    if (
                        str(submission.subreddit).lower() == subreddit.lower()
                        and submission.title == request["title"]
                        and _words(submission.selftext) == text
                    ):
                        return Sent(
                            remote_id=submission.id,
                            remote_url=f"{WEB}/r/{subreddit}/comments/{submission.id}/",
                        )
                return None
            for comment in account.comments.new(limit=LOOKUP_LIMIT):
                if comment.created_utc < since:
                    break
                if comment.link_id == request["thing_id"] and _words(comment.body) == text:
                    permalink = vars(comment).get("permalink") or ""
                    return Sent(remote_id=comment.id, remote_url=f"{WEB}{permalink}" if permalink else "")
        return None

    def check(self) -> str:
        reddit = self._reddit()
        name = _name(self.config["subreddit"], "r/")
        with self._errors(name):
            me = reddit.user.me()
            subreddit = reddit.subreddit(name)
            kind = subreddit.subreddit_type  # fetches r/<name>/about: Redirect or 404 when there is none
        if me is None:
            raise OutboundError(
                "Reddit did not say which account this is: reconnect the channel.", permanent=True
            )
        user, where = f"u/{me.name}", f"r/{subreddit.display_name}"
        if getattr(subreddit, "user_is_banned", False):
            raise OutboundError(f"{user} is banned from {where}.", permanent=True)
        if getattr(subreddit, "submission_type", "any") == "link":
            raise OutboundError(
                f"{where} accepts only link posts: allow text posts in its settings.", permanent=True
            )
        approved = getattr(subreddit, "user_is_moderator", False) or getattr(
            subreddit, "user_is_contributor", False
        )
        if kind in {"restricted", "private"} and not approved:
            raise OutboundError(
                f"{where} is {kind}: make {user} an approved user or moderator there.", permanent=True
            )
        return f"{user} posting to {where}"

    def _reddit(self) -> praw.Reddit:
        secrets = {name: self.credentials.get(name, "") for name in ("client_secret", "password")}
        username = _name(self.config.get("username", ""), "u/")
        missing = [
            name
            for name, value in {"client ID": self.config.get("client_id", ""), "username": username}.items()
            if not value
        ] + [name.replace("_", " ") for name, value in secrets.items() if not value]
        if missing:
            raise OutboundError(
                f"Reddit is not fully connected: {', '.join(missing)} missing.", permanent=True
            )
        base = self.endpoint_override("api_base").rstrip("/")
        reddit = praw.Reddit(
            client_id=self.config["client_id"],
            client_secret=secrets["client_secret"],
            username=username,
            password=secrets["password"],
            user_agent=f"StatusHub/0.1 (status page) by u/{username}",
            oauth_url=f"{base}/" if base else "https://oauth.reddit.com",
            reddit_url=base or WEB,
            ratelimit_seconds=-1,  # 0 still sleeps 1 s on "Take a break for 500 milliseconds"
            check_for_updates=False,
            check_for_async=False,
            requestor_class=_Requestor,
            requestor_kwargs={"timeout": self.timeout, "session": outbound.session()},  # api_base: anywhere
        )
        # The engine owns retries and waiting, across workers; prawcore has no public switch for either.
        core = reddit._core
        assert core is not None
        core._retry_strategy_class = _OneAttempt
        core._rate_limiter = _Unpaced(window_size=core.rate_limiter.window_size)
        return reddit

    @contextmanager
    def _errors(self, subreddit: str) -> Iterator[None]:
        """Reddit's answers as TransportErrors: permanent ones say what to fix."""
        try:
            yield
        except RedditAPIException as exc:
            waits = [
                _ratelimit_wait(item.message or "") for item in exc.items if item.error_type == "RATELIMIT"
            ]
            if waits:
                raise OutboundError(
                    "Reddit asked us to slow down before posting again", retry_after=waits[0] or 60
                ) from exc
            said = "; ".join(f"{item.message or item.error_type} ({item.error_type})" for item in exc.items)
            raise OutboundError(f"Reddit rejected the post: {said}", permanent=True) from exc
        except OAuthException as exc:
            if exc.error == "invalid_grant":
                raise OutboundError(
                    "Reddit refused the username or password. Check both; an account with two-factor "
                    "authentication cannot log in this way, and it must be the account that owns the app.",
                    permanent=True,
                ) from exc
            raise OutboundError(
                f"Reddit refused the login ({exc.error}): the app must be of type “script”.", permanent=True
            ) from exc
        except Redirect as exc:
            raise OutboundError(
                f"r/{subreddit} does not exist: check the subreddit's name.", permanent=True
            ) from exc
        except ResponseException as exc:
            raise self._answer(exc.response, subreddit) from exc
        except RequestException as exc:
            if isinstance(exc.original_exception, Timeout):
                raise OutboundError(f"Reddit did not answer within {self.timeout:.0f} s") from exc
            raise OutboundError(f"could not reach Reddit: {network_problem(exc)}") from exc
        except Exception as exc:
            if is_network_error(exc):
                raise OutboundError(f"could not reach Reddit: {network_problem(exc)}") from exc
            raise

    @staticmethod
    def _answer(response: Response, subreddit: str) -> OutboundError:
        status = response.status_code
        if status == 401 and ACCESS_TOKEN_PATH in str(response.url):
            return OutboundError(
                "Reddit refused the app's client ID or secret: copy both again from reddit.com/prefs/apps.",
                permanent=True,
            )
        if status == 401:
            return OutboundError("Reddit refused the login token: reconnect the channel.", permanent=True)
        if status == 403:
            return OutboundError(
                f"Reddit forbade this (403): the account may be banned from r/{subreddit}, the subreddit "
                "private, or the incident's post locked or removed.",
                permanent=True,
            )
        if status == 404:
            return OutboundError(f"r/{subreddit} does not exist: check the subreddit's name.", permanent=True)
        if status == 429:
            return OutboundError("Reddit rate limit reached", retry_after=_header_wait(response))
        if status >= 500 or status < 400:  # outages, and the odd 200 that is not JSON
            return OutboundError(f"Reddit is having trouble (HTTP {status})")
        return OutboundError(
            f"Reddit refused the request (HTTP {status}): {response.text[:200]}", permanent=True
        )
