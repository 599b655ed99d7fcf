"""The private-network guard every outbound HTTP call goes through.

Anyone who can set an address StatusHub calls (a webhook channel, a Mastodon instance, a subscriber's hook)
could otherwise make the server call inside its own network: a cloud metadata service, an admin panel on
loopback, a database port. So the host is resolved and every address it resolves to is checked *when the
connection is opened*, and the connection goes to the address that was checked: a name whose DNS answer
changes between a check and the connect (DNS rebinding) cannot slip past, nor can a redirect, since each
new connection is checked again.

Refused: every address that is not global (loopback, private, link-local, carrier-grade NAT, reserved,
multicast…), and IPv6 addresses that embed an IPv4 address which is not (IPv4-mapped ``::ffff:a.b.c.d``,
IPv4-compatible ``::a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``, Teredo), which Python's
``is_global`` calls global. ``STATUSHUB_OUTBOUND_ALLOW_NETWORKS`` lists networks allowed all the same.

For httpx, ``client()``/``transport()`` (a network backend that checks before it connects); for requests
(Mastodon.py, praw, tweepy), ``session()`` (urllib3 connections that check before they connect).
Not guarded: the SMTP relay, PostgreSQL and Redis, whose addresses only the operator sets (often loopback).

It is also the one outbound layer everything else builds on (channels, subscribers' hooks, WebSub pings, alert
notifications): ``client()`` is the only HTTP client factory (a timeout always, one shared TLS context, our user
agent), ``OutboundError`` the only error (``permanent``, ``gone``, ``retry_after``), ``classify()`` sorts an
HTTP status into transient or permanent, ``retry_after_seconds()`` reads Retry-After and rate-limit resets, and
``reaching()``/``network_problem()`` turn a failed exchange into words a person can act on.
"""

import functools
import http.client
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any, Literal
from urllib.parse import urlsplit

import httpcore
import httpx
import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError, NewConnectionError

logger = logging.getLogger(__name__)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# The one answer for an address we will not call, whatever made it one, and for one that does not take
# connections: telling "private" from "closed port" or "no such name" apart would let anyone who can set an
# address map the network from the outside, one Test connection at a time.
UNREACHABLE = (
    "this address is not reachable from StatusHub: it points inside a private network, "
    "or nothing accepts connections there"
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the last 32 bits are the IPv4 address
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # RFC 4291 (deprecated): ::a.b.c.d


USER_AGENT = "StatusHub/0.1 (+status page)"
DEFAULT_TIMEOUT = 10.0


class OutboundError(Exception):
    """Why an outbound call failed, whoever made it: a channel's transport or listener, a subscriber's hook, a
    WebSub ping, an alert notification. ``permanent`` when asking again cannot help (bad credentials, forbidden,
    refused address); ``gone`` when the receiver says the address no longer exists (its subscription should end);
    ``retry_after`` the seconds the service asked us to wait."""

    def __init__(
        self, message: str, *, permanent: bool = False, gone: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent or gone
        self.gone = gone
        self.retry_after = retry_after


class Refused(Exception):
    """The address is inside a private network. Not an ``OSError``: no SDK may take it for a passing
    network fault and retry; the delivery engine and Test connection find it however deep it was wrapped."""

    def __init__(self, host: str) -> None:
        super().__init__(UNREACHABLE)
        self.host = host  # for the logs only, never shown


def causes(exc: BaseException, limit: int = 12) -> Iterator[BaseException]:
    """``exc`` and what it wraps, outermost first: SDKs hide the transport's errors in their own."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < limit:
        yield current
        seen.append(current)
        following = current.__cause__ or current.__context__ or getattr(current, "original_exception", None)
        if following is None:  # prawcore and Mastodon.py keep the original in args
            following = next((arg for arg in current.args if isinstance(arg, BaseException)), None)
        current = following


def refused_in(exc: BaseException) -> bool:
    """Whether a refusal is the cause of ``exc``, which an SDK may have wrapped in its own errors."""
    return any(isinstance(cause, Refused) for cause in causes(exc))


@cache
def _parse(networks: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(network.strip(), strict=False) for network in networks)
    except ValueError as exc:
        raise ImproperlyConfigured(f"STATUSHUB_OUTBOUND_ALLOW_NETWORKS: {exc}") from exc


def allowed_networks() -> tuple[IPNetwork, ...]:
    return _parse(tuple(settings.STATUSHUB_OUTBOUND_ALLOW_NETWORKS))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, which is where a packet to it may end up."""
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour:
        found.append(ip.sixtofour)
    if ip.teredo:
        found.extend(ip.teredo)
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _in(ip: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    return any(ip.version == network.version and ip in network for network in networks)


def is_reachable(address: str | IPAddress) -> bool:
    """Whether StatusHub may connect to this address: public, or in a network the settings allow."""
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    allowed = allowed_networks()

    def fine(one: IPAddress) -> bool:
        return _in(one, allowed) or (one.is_global and not one.is_multicast)

    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:  # an IPv4 address in IPv6 clothes: only the IPv4 address counts
            return fine(ip.ipv4_mapped)
        if not all(fine(inner) for inner in embedded_ipv4(ip)):
            return False
    return fine(ip)


def _literal(host: str) -> IPAddress | None:
    """The address a URL's host names without asking DNS: an address, or loopback for localhost names."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return ipaddress.IPv4Address("127.0.0.1")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def names_private_address(url: str) -> bool:
    """Whether a URL's host is plainly inside a private network (forms say so at once; every other name is
    checked when connecting)."""
    address = _literal(urlsplit(url).hostname or "")
    return address is not None and not is_reachable(address)


def in_allowed_network(host: str) -> bool:
    """Whether a host is an address (or localhost) in ``STATUSHUB_OUTBOUND_ALLOW_NETWORKS``."""
    address = _literal(host)
    return address is not None and _in(address, allowed_networks())


def resolve(host: str, port: int) -> list[str]:
    """Every address the name has now (tests replace this: there is no DNS in them)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def checked_addresses(host: str, port: int) -> list[str]:
    """The addresses to connect to, all of them allowed; ``Refused`` if any is not (a name that mixes a
    public address with a private one is refused whole). ``socket.gaierror`` when the name is unknown."""
    addresses = resolve(host.strip("[]").rstrip("."), port)
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    if not all(is_reachable(address) for address in addresses):
        logger.warning("Refused an outbound connection to %s: it resolves to %s", host, ", ".join(addresses))
        raise Refused(host)
    return addresses


def check_url(url: str) -> None:
    """For a client that cannot be given a checking connection (slack_sdk's urllib): check the host just
    before the call. A name changed in between could still get through, so use it only for fixed hosts."""
    parts = urlsplit(url)
    checked_addresses(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))


# --- httpx ----------------------------------------------------------------------------------------------


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's own backend, connecting only to addresses it has checked (TLS still checks the name)."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = checked_addresses(host, port)
        except OSError as exc:  # the name is unknown: what httpcore raises for it
            raise httpcore.ConnectError(str(exc)) from exc
        for index, address in enumerate(addresses):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                if index == len(addresses) - 1:
                    raise
        raise httpcore.ConnectError("no address")  # unreachable: checked_addresses never returns []


def transport(**kwargs: Any) -> httpx.HTTPTransport:
    """An httpx transport whose connections are checked; ``kwargs`` as for ``httpx.HTTPTransport``."""
    guarded = httpx.HTTPTransport(**kwargs)
    guarded._pool._network_backend = GuardedBackend()  # httpcore 1.0 has no public way to set it after
    return guarded


def client(
    *,
    timeout: float = DEFAULT_TIMEOUT,
    headers: Mapping[str, str] | None = None,
    verify: Any = None,
    **kwargs: Any,
) -> httpx.Client:
    """The one HTTP client factory: ``httpx.Client(**kwargs)`` with every connection checked (and redirects,
    since each is a connection), a timeout, our user agent and the process's shared TLS context."""
    sent = {"User-Agent": USER_AGENT, **(headers or {})}
    context = tls_context() if verify is None else verify
    return httpx.Client(transport=transport(verify=context), timeout=timeout, headers=sent, **kwargs)


# --- requests (urllib3) -----------------------------------------------------------------------------------


class _Checked(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        name = self._dns_host
        try:
            addresses = checked_addresses(name, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        try:
            for index, address in enumerate(addresses):
                self._dns_host = address  # connect to what was checked; TLS still verifies self.host
                try:
                    return super()._new_conn()
                except NewConnectionError:
                    if index == len(addresses) - 1:
                        raise
        finally:
            self._dns_host = name
        raise NewConnectionError(self, "no address")  # unreachable: checked_addresses never returns []


class _CheckedTLS(_Checked, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Checked


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedTLS


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}


def guard_session(session: requests.Session) -> requests.Session:
    """Mount the checking adapter on a session an SDK uses (it replaces the default ones)."""
    session.mount("http://", GuardedAdapter())
    session.mount("https://", GuardedAdapter())
    return session


def session() -> requests.Session:
    return guard_session(requests.Session())


# --- one TLS context, and failures in words ---------------------------------------------------------------


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client in the process, as httpx would make it (certifi, or SSL_CERT_FILE/DIR).

    Making one parses the whole CA bundle: about 30 ms of CPU with the GIL held. A client per delivery paid
    that once per channel, one channel after another on a threaded worker, before the first byte went out.
    A context is safe to share between threads and connections.
    """
    return httpx.create_ssl_context()


# --- what an answer says --------------------------------------------------------------------------------

# Reset times services send beside (or instead of) Retry-After: seconds to wait, an epoch, or a timestamp.
_RESET_HEADERS = ("RateLimit-Reset", "X-RateLimit-Reset", "X-Rate-Limit-Reset")
_EPOCH_AFTER = 1_000_000_000  # a reset larger than this is a moment (Unix time), not a number of seconds


def _seconds_until(value: str, now: float) -> float | None:
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, number - now if number > _EPOCH_AFTER else number)
    try:  # an HTTP date (RFC 9110) or an ISO 8601 time (Mastodon's X-RateLimit-Reset)
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - now)


def retry_after_seconds(
    response: httpx.Response | Mapping[str, str], *, now: float | None = None
) -> float | None:
    """How long the service asked us to wait: ``Retry-After`` (seconds or an HTTP date), else a rate-limit
    reset header (seconds, an epoch or a timestamp). None when it said nothing we can read."""
    if isinstance(response, httpx.Response):
        headers = response.headers
    else:  # an SDK's plain dict: names in any case (slack_sdk keeps both spellings), a value or a list of them
        headers = httpx.Headers(
            {name.lower(): str(value[0] if isinstance(value, list | tuple) and value else value)
             for name, value in response.items()}
        )  # fmt: skip
    moment = time.time() if now is None else now
    for name in ("Retry-After", *_RESET_HEADERS):
        value = headers.get(name)
        if value is not None and (seconds := _seconds_until(value, moment)) is not None:
            return seconds
    return None


Classified = Literal["ok", "transient", "permanent"]


def classify(status: int) -> Classified:
    """An HTTP status as a sender must treat it: done, worth another try later, or final.

    Timeouts (408), too early (425), too many requests (429) and server errors say "later"; any other 4xx
    means the request as it stands is refused, and sending it again cannot change that.
    """
    if 200 <= status < 300:
        return "ok"
    if status in (408, 425, 429) or status >= 500:
        return "transient"
    return "permanent"


def error_for(response: httpx.Response, message: str, *, gone: bool = False) -> OutboundError:
    """The error a failed answer means, its permanence and wait taken from the answer itself."""
    transient = classify(response.status_code) == "transient" and not gone
    return OutboundError(
        message,
        permanent=not transient,
        gone=gone,
        retry_after=retry_after_seconds(response) if transient else None,
    )


@contextmanager
def reaching(who: str, *, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Network failures of the httpx calls inside, as ``OutboundError``s in words a person can act on: a refused
    address is permanent, a timeout or a cut connection transient."""
    try:
        yield
    except Refused as exc:
        raise OutboundError(f"could not reach {who}: {UNREACHABLE}", permanent=True) from exc
    except httpx.TimeoutException as exc:
        raise OutboundError(f"{who} did not answer: timed out after {timeout:.0f} s") from exc
    except httpx.HTTPError as exc:
        raise OutboundError(f"could not reach {who}: {network_problem(exc)}") from exc


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
    if refused_in(exc):
        return False  # the private-network guard refused it: sending again cannot make the address public
    types = _network_error_types()
    return any(isinstance(cause, types) for cause in causes(exc))


# An unknown name, a closed port and a private address read alike (UNREACHABLE), so that these
# errors cannot be used to map a network from outside.
_NETWORK_PROBLEMS = (
    (("name or service not known", "nameresolution", "getaddrinfo", "name resolution", "nodename nor servname",
      "connection refused", "network is unreachable", "no route to host"),
     UNREACHABLE),
    (("timed out", "timeout"), "it did not answer in time"),
    (("certificate", "ssl", "tls"), "the secure connection failed (TLS)"),
    (("connection reset", "remotedisconnected", "connection aborted", "broken pipe"), "the connection was cut"),
)  # fmt: skip


def network_problem(exc: BaseException) -> str:
    """What went wrong on the way, in words a communicator can act on, whatever library raised it."""
    if refused_in(exc):
        return UNREACHABLE
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
        if not refused_in(exc):
            raise
        if isinstance(exc, OutboundError):
            raise OutboundError(exc.message, permanent=True) from exc
        raise OutboundError(f"could not connect: {UNREACHABLE}", permanent=True) from exc
