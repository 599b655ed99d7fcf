"""The contract every channel integration implements.

A transport turns a rendered message into the exact request its service expects (``build_request``, also
what dry-run records) and sends it (``send``). It raises ``TransportError`` with ``permanent=True`` for
answers that retrying cannot fix (bad credentials, forbidden, gone), and with ``retry_after`` when the
service said how long to wait. Transports never touch the database: the delivery engine does.
"""

import functools
import http.client
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

import httpx
from django.conf import settings

from statushub.lib import outbound


class TransportError(Exception):
    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass(frozen=True)
class Field:
    """One setting a person fills in to connect a channel. Secret fields are stored encrypted, never shown."""

    name: str
    label: str
    help: str = ""
    secret: bool = False
    required: bool = True
    default: str = ""
    kind: str = "text"  # text | url | number | choice
    choices: tuple[tuple[str, str], ...] = ()
    pattern: str = ""  # a regular expression the whole value must match
    # Where requests (and so the credentials) go: changing it asks for the secrets again.
    endpoint: bool = False


@dataclass
class Message:
    """One update, ready for a channel to fit into its own format and limits."""

    url: str
    title: str
    author: str  # "Dana Whitfield, CEO"
    document: dict[str, Any]


@dataclass
class Thread:
    """Where this incident's earlier posts on the channel are, for replies."""

    root_id: str = ""
    last_id: str = ""


@dataclass
class Sent:
    remote_id: str
    remote_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Lookup:
    """What identifies a delivery's post when looking for it after an attempt whose outcome is unknown.

    ``key`` is the delivery's idempotency key (also written into the post where the service keeps metadata);
    ``since`` is when an attempt first handed the post to the service: no earlier post can be ours. ``until``,
    when known, is when the last such attempt was over: no later post can be ours either (a transport that can
    bound its search by it reads fewer pages, however long the delivery has been retrying).
    """

    key: str
    since: datetime
    until: datetime | None = None


class SessionStore(Protocol):
    """Somewhere a transport keeps a login between deliveries (encrypted; losing it only costs a new login)."""

    def get(self) -> str | None: ...

    def set(self, value: str) -> None: ...

    def forget(self) -> None: ...


class Transport:
    kind: ClassVar[str] = ""
    timeout: ClassVar[float] = 10.0
    # A manual channel has no API: the engine stops at "awaiting" and a person marks it posted.
    manual: ClassVar[bool] = False
    # What the connect form asks for: non-secret fields land in Channel.config, secret ones are encrypted.
    fields: ClassVar[tuple[Field, ...]] = ()
    # Where a person gets those credentials (shown beside the form, and in the README).
    connect_help: ClassVar[str] = ""

    def __init__(
        self, config: dict[str, Any], credentials: dict[str, Any], *, sessions: SessionStore | None = None
    ) -> None:
        self.config = config
        self.credentials = credentials
        self.sessions = sessions

    def endpoint_override(self, key: str) -> str:
        """A hidden setting (``base_url``, ``api_base``) that points the transport at a local fake server.

        Honoured only where ``STATUSHUB_TRANSPORT_OVERRIDES`` is on (the tests and benchmarks): anywhere else a
        stored override would send the channel's credentials to a server nobody chose in the channel form.
        """
        if not getattr(settings, "STATUSHUB_TRANSPORT_OVERRIDES", False):
            return ""
        return str(self.config.get(key) or "")

    def build_request(self, message: Message, thread: Thread, *, idempotency_key: str) -> dict[str, Any]:
        """The request as the service will receive it, minus secrets (it is stored and shown)."""
        raise NotImplementedError

    def send(self, request: dict[str, Any], thread: Thread) -> Sent:
        raise NotImplementedError

    def find_sent(self, request: dict[str, Any], thread: Thread, lookup: Lookup) -> Sent | None:
        """The post an earlier attempt of this delivery made, if it did; None if there is none to find.

        The engine asks before every attempt after the first, because an attempt that timed out, was cut off
        or was killed may have reached the service. Raises ``TransportError`` when the service could not be
        asked (always retried later, never taken as "not posted"). Channels with no way to look a post up
        (webhooks, manual) keep this default.
        """
        return None

    def check(self) -> str:
        """ "Test connection": one harmless authenticated read; returns who we are posting as.

        Raises ``TransportError`` (permanent for bad credentials) exactly as ``send`` would.
        """
        raise NotImplementedError

    @staticmethod
    def text_of(request: dict[str, Any]) -> str:
        """The words a reader will see, from a built request (for previews and the deliveries page)."""
        return str(request.get("text", ""))

    def http(self) -> httpx.Client:
        """Every HTTP call goes through here, so none is ever made without a timeout, nor inside a private
        network (checked at connect time, redirects too)."""
        return outbound.client(
            timeout=self.timeout, headers={"User-Agent": "StatusHub/0.1 (+status page)"}, verify=tls_context()
        )

    @contextmanager
    def reaching(self, who: str) -> Iterator[None]:
        """Network failures of the httpx calls inside, as transient errors in words a person can act on."""
        try:
            yield
        except outbound.Refused as exc:
            raise TransportError(f"could not reach {who}: {outbound.UNREACHABLE}", permanent=True) from exc
        except httpx.TimeoutException as exc:
            raise TransportError(f"{who} did not answer: timed out after {self.timeout:.0f} s") from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"could not reach {who}: {network_problem(exc)}") from exc


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client in the process, as httpx would make it (certifi, or SSL_CERT_FILE/DIR).

    Making one parses the whole CA bundle: about 30 ms of CPU with the GIL held. A client per delivery paid
    that once per channel, one channel after another on a threaded worker, before the first byte went out.
    A context is safe to share between threads and connections.
    """
    return httpx.create_ssl_context()


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


# Raised by the HTTP stacks the SDKs use (httpx, requests/urllib3, urllib/http.client) when the exchange
# itself failed: nothing the service decided, so trying again later is always right.
_NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    httpx.TransportError,  # ConnectError, ReadTimeout, RemoteProtocolError, ReadError, …
    http.client.HTTPException,  # RemoteDisconnected, IncompleteRead, BadStatusLine
    socket.timeout,
    ssl.SSLError,
    ConnectionError,  # reset, refused, aborted, broken pipe
    TimeoutError,
    OSError,
)


def _network_error_types() -> tuple[type[BaseException], ...]:
    found = list(_NETWORK_ERRORS)
    try:
        import requests
        import urllib3.exceptions

        found += [
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
            urllib3.exceptions.ProtocolError,
            urllib3.exceptions.TimeoutError,
        ]
    except ImportError:  # pragma: no cover - requests comes with tweepy, praw and Mastodon.py
        pass
    return tuple(found)


def is_network_error(exc: BaseException) -> bool:
    """Whether the exchange failed on the way (timeout, reset, close without an answer, TLS, DNS).

    SDKs wrap these in their own types (atproto passes httpx's straight through, praw wraps requests',
    Mastodon.py its own): the chain of causes is followed, so any of them counts. Such a failure says
    nothing about the post: the engine retries it (after looking the post up), never marks it dead.
    """
    if outbound.refused_in(exc):
        return False  # the private-network guard refused it: sending again cannot make the address public
    types = _network_error_types()
    return any(isinstance(cause, types) for cause in outbound.causes(exc))


# An unknown name, a closed port and a private address read alike (outbound.UNREACHABLE), so that these
# errors cannot be used to map a network from outside.
_NETWORK_PROBLEMS = (
    (("name or service not known", "nameresolution", "getaddrinfo", "name resolution", "nodename nor servname",
      "connection refused", "network is unreachable", "no route to host"),
     outbound.UNREACHABLE),
    (("timed out", "timeout"), "it did not answer in time"),
    (("certificate", "ssl", "tls"), "the secure connection failed (TLS)"),
    (("connection reset", "remotedisconnected", "connection aborted", "broken pipe"), "the connection was cut"),
)  # fmt: skip


def network_problem(exc: BaseException) -> str:
    """What went wrong on the way, in words a communicator can act on, whatever library raised it."""
    if outbound.refused_in(exc):
        return outbound.UNREACHABLE
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        current = current.__cause__ or current.__context__ or getattr(current, "original_exception", None)
    text = " ".join(f"{type(e).__name__} {e}" for e in seen).lower()
    for needles, words in _NETWORK_PROBLEMS:
        if any(needle in text for needle in needles):
            return words
    return f"the network failed ({type(exc).__name__})"


@contextmanager
def refusals_are_permanent() -> Iterator[None]:
    """An address refused by the private-network guard, however deep an SDK wrapped the refusal, as a
    permanent error: sending again cannot make it public."""
    try:
        yield
    except Exception as exc:
        if not outbound.refused_in(exc):
            raise
        if isinstance(exc, TransportError):
            raise TransportError(exc.message, permanent=True) from exc
        raise TransportError(f"could not connect: {outbound.UNREACHABLE}", permanent=True) from exc
