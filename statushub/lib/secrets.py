"""Secrets at rest (channel credentials): JSON encrypted with the same rotating Fernet keys as signing keys."""

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretError(ValueError):
    pass


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
