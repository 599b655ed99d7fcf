"""Reading a StatusHub site's public endpoints (``docs/signing-wire-format.md``) over HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from statushub.cli.common import TIMEOUT_SECONDS, USER_AGENT

KEYS_PATH = "/.well-known/statushub/keys.json"
CHAIN_PATH = "/.well-known/statushub/chain.json"


class FetchError(Exception):
    """The site could not be reached or did not answer as the wire format says."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def make_client() -> httpx.Client:
    """The HTTP client every command uses."""
    return httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=True, headers={"User-Agent": USER_AGENT})


class Fetcher:
    """GETs that turn every failure into a ``FetchError`` with a readable message."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def get(self, url: str, params: dict[str, str] | None = None) -> httpx.Response:
        try:
            response = self.client.get(url, params=params)
        except httpx.InvalidURL as exc:
            raise FetchError(f"invalid URL {url!r}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"could not fetch {url}: {exc.__class__.__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise FetchError(
                f"could not fetch {response.request.url}: HTTP {response.status_code} {response.reason_phrase}",
                status=response.status_code,
            )
        return response

    def bytes(self, url: str) -> bytes:
        return self.get(url).content

    def json(self, url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        response = self.get(url, params)
        try:
            document = response.json()
        except ValueError as exc:
            raise FetchError(f"{response.request.url} did not return JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise FetchError(f"{response.request.url} returned JSON that is not an object")
        return document
