"""The wire of a Standard Webhooks POST (https://www.standardwebhooks.com/), shared by the webhook channel and
subscribers' own webhooks: the signature, the POST, and what the receiver's answer means."""

import base64
import hashlib
import hmac

import httpx

from statushub.lib import outbound
from statushub.lib.outbound import OutboundError


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed with the ``whsec_`` secret."""
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except ValueError as exc:  # binascii.Error is a ValueError
        raise OutboundError(
            "The signing secret is not whsec_ followed by base64: change the channel's secret.",
            permanent=True,
        ) from exc
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def post(
    url: str, body: str, headers: dict[str, str], *, who: str = "the receiver", refused: str = "",
    timeout: float = outbound.DEFAULT_TIMEOUT,
) -> httpx.Response:  # fmt: skip
    """POST the body; raise ``OutboundError`` unless the receiver took it.

    410 Gone says the receiver no longer wants these (``gone``); 408, 429 and 5xx are worth another try (with the
    receiver's Retry-After); any other answer is final. Only the status is ever quoted: the answer's body could be
    anyone's page, shown to whoever set this address. ``refused`` prefixes a final refusal's message.
    """
    with outbound.reaching(who, timeout=timeout), outbound.client(timeout=timeout) as client:
        response = client.post(url, content=body.encode(), headers=headers)
    if response.is_success:
        return response
    status = response.status_code
    if status == 410:
        raise OutboundError(
            f"the endpoint answered 410 Gone: it no longer wants these (HTTP {status})", gone=True
        )
    transient = outbound.classify(status) == "transient"
    raise outbound.error_for(
        response, f"HTTP {status}" if transient or not refused else f"{refused}: HTTP {status}"
    )
