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
"""

import ipaddress
import logging
import socket
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any
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


def client(*, verify: Any = True, **kwargs: Any) -> httpx.Client:
    """``httpx.Client(**kwargs)`` with every connection checked (and redirects, since each is a connection)."""
    return httpx.Client(transport=transport(verify=verify), **kwargs)


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
