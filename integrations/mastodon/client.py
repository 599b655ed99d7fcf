"""The one Mastodon client the transport and the listener share: Mastodon.py on a guarded session, and every
error it raises turned into an ``OutboundError`` (permanent for a bad token, with the reset for a rate limit)."""

import time
from collections.abc import Callable
from typing import Any

from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from statushub.lib import outbound
from statushub.lib.outbound import OutboundError, is_network_error, network_problem


def connect(instance: str, access_token: str, *, timeout: float) -> Mastodon:
    return Mastodon(
        access_token=access_token,
        api_base_url=instance,
        ratelimit_method="throw",  # never sleep inside a worker: the caller schedules the retry
        request_timeout=timeout,
        version_check_mode="none",
        user_agent="StatusHub/0.1",
        session=outbound.session(),  # the instance is anyone's address: never one inside our network
    )


def call(api: Mastodon, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except MastodonUnauthorizedError as exc:
        raise OutboundError(
            "Mastodon refused the access token (HTTP 401): it expired or was revoked; connect the account again",
            permanent=True,
        ) from exc
    except MastodonNotFoundError as exc:
        raise OutboundError(f"Mastodon refused: {exc}", permanent=True) from exc
    except MastodonRatelimitError as exc:
        raise OutboundError("Mastodon rate limit reached", retry_after=until_reset(api)) from exc
    except MastodonNetworkError as exc:
        raise OutboundError(f"could not reach Mastodon: {network_problem(exc)}") from exc
    except MastodonServerError as exc:
        raise OutboundError(f"Mastodon unavailable: {exc}") from exc
    except MastodonAPIError as exc:  # 4xx such as 422 (validation): retrying sends the same thing
        raise OutboundError(f"Mastodon rejected the request: {exc}", permanent=True) from exc
    except Exception as exc:
        if is_network_error(exc):
            raise OutboundError(f"could not reach Mastodon: {network_problem(exc)}") from exc
        raise


def until_reset(api: Mastodon) -> float:
    """Seconds until the limit resets, as the instance said (X-RateLimit-Reset, which Mastodon.py reads and
    moves onto our clock by the answer's Date); a minute when it did not say."""
    reset = getattr(api, "ratelimit_reset", None)
    if not isinstance(reset, int | float):
        return 60.0
    return min(15 * 60.0, max(1.0, reset - time.time()))
