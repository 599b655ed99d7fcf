"""Signed links in subscription mails: nothing to store, nothing to leak from the database.

A token names the row and its ``token_nonce`` and is signed with SECRET_KEY under a salt per purpose, so an
unsubscribe link cannot be used to manage, and a confirmation link expires. Changing the nonce voids every
link already mailed for that row.
"""

from collections.abc import Callable
from enum import StrEnum

from django.core import signing


class Purpose(StrEnum):
    CONFIRM = "confirm"  # expires (settings.STATUSHUB_SUBSCRIBE_CONFIRM_HOURS)
    MANAGE = "manage"
    UNSUBSCRIBE = "unsubscribe"


class TokenExpired(Exception):
    """The signature is good but the link is older than it may be."""


def _signer(kind: str, purpose: Purpose) -> signing.Signer:
    salt = f"subscribers.{kind}.{purpose}"
    return signing.TimestampSigner(salt=salt) if purpose == Purpose.CONFIRM else signing.Signer(salt=salt)


def make_token(kind: str, purpose: Purpose, pk: int, nonce: str) -> str:
    return _signer(kind, purpose).sign_object([pk, nonce])


def token_maker(kind: str, purpose: Purpose) -> Callable[[int, str], str]:
    """``make_token`` for many rows in a row: the signer is made once."""
    signer = _signer(kind, purpose)
    return lambda pk, nonce: signer.sign_object([pk, nonce])


def read_token(
    kind: str, purpose: Purpose, token: str, *, max_age: float | None = None
) -> tuple[int, str] | None:
    """The (pk, nonce) a token names, or None if it was not made by us for this purpose.

    Raises ``TokenExpired`` for a confirmation link older than ``max_age`` seconds.
    """
    signer = _signer(kind, purpose)
    try:
        if isinstance(signer, signing.TimestampSigner):
            value = signer.unsign_object(token, max_age=max_age)
        else:
            value = signer.unsign_object(token)
    except signing.SignatureExpired as exc:
        raise TokenExpired from exc
    except (signing.BadSignature, ValueError, UnicodeDecodeError):
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], int)
        or not isinstance(value[1], str)
    ):
        return None
    return value[0], value[1]
