"""Secrets at rest (channel credentials, hook targets, alert credentials, authenticator keys): JSON encrypted with
the same rotating Fernet keys as signing keys."""

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretError(ValueError):
    pass


# Every field holding ``encrypt_json`` output, as (model label, field, what it is): ``manage.py
# rotate_key_encryption`` re-encrypts each with the primary key (tests/incidents/test_key_rotation.py fails on one missing).
ENCRYPTED_JSON_FIELDS = (
    ("channels.Channel", "encrypted_credentials", "channel credentials"),
    ("subscribers.HookSubscription", "encrypted_target", "subscriber hook targets"),
    ("alerts.AlertSource", "encrypted_credentials", "alert source credentials"),
    ("people.TOTPDevice", "encrypted_key", "authenticator keys"),
    ("mentions.MentionSource", "encrypted_secret", "mention webhook secrets"),
)


def _fernet(keys: list[str]) -> MultiFernet:
    if not keys:
        raise SecretError("No encryption key configured (STATUSHUB_KEY_ENCRYPTION_KEYS).")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt_json(data: dict[str, Any], keys: list[str]) -> str:
    return _fernet(keys).encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def decrypt_json(token: str, keys: list[str]) -> dict[str, Any]:
    if not token:
        return {}
    try:
        value = json.loads(_fernet(keys).decrypt(token.encode()))
    except InvalidToken as exc:
        raise SecretError("None of the configured keys decrypts these credentials.") from exc
    if not isinstance(value, dict):
        raise SecretError("Stored credentials are not an object.")
    return value


def reencrypt_json(token: str, keys: list[str]) -> str:
    """The same secret, encrypted with the first of ``keys`` (any of them may decrypt it now)."""
    if not token:
        return token
    try:
        return _fernet(keys).rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretError("None of the configured keys decrypts these credentials.") from exc
