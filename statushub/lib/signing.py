"""Signed update statements: canonical bytes, Ed25519 keys, signatures and key encryption at rest.

Pure library (no Django) shared by the server and the ``statushub`` CLI. The contract is
``docs/signing-wire-format.md``: a statement is ``PREFIX`` followed by the RFC 8785 canonical JSON of
its fields, signed with Ed25519; keys are identified by their RFC 7638 JWK thumbprint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "PREFIX",
    "REQUIRED_MEMBERS",
    "KeyEncryptionError",
    "KeyFormatError",
    "SignatureFormatError",
    "StatementError",
    "b64decode_signature",
    "b64encode_signature",
    "build_statement",
    "decrypt_private_key",
    "digest",
    "encrypt_private_key",
    "format_time",
    "generate_private_key",
    "key_valid_at",
    "kid_for",
    "new_encryption_key",
    "parse_statement",
    "parse_time",
    "private_pem",
    "private_raw_from_pem",
    "public_jwk",
    "public_key_bytes",
    "public_pem",
    "public_raw_from_pem",
    "reencrypt_private_key",
    "sign",
    "verify",
]

PREFIX: bytes = b"statushub-update-v1\n"

REQUIRED_MEMBERS: tuple[str, ...] = (
    "v",
    "kid",
    "site",
    "incident",
    "update",
    "seq",
    "status",
    "impact",
    "components",
    "body",
    "author",
    "published_at",
    "corrects",
    "prev",
)

_HEX64 = re.compile(r"[0-9a-f]{64}")
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})",
)


class StatementError(ValueError):
    """The bytes are not a well-formed, canonical statement."""


class SignatureFormatError(ValueError):
    """A signature is not standard base64 of exactly 64 bytes."""


class KeyFormatError(ValueError):
    """A PEM (or raw key) is not the kind of Ed25519 key expected."""


class KeyEncryptionError(ValueError):
    """A private key could not be encrypted or decrypted with the given Fernet keys."""


# --- statements ---------------------------------------------------------------------------------


def build_statement(fields: dict[str, object]) -> bytes:
    """Return the signed bytes for ``fields``: ``PREFIX`` + RFC 8785 canonical JSON."""
    try:
        return PREFIX + rfc8785.dumps(fields)  # type: ignore[arg-type]
    except rfc8785.CanonicalizationError as exc:
        raise StatementError(f"statement fields cannot be canonicalised: {exc}") from exc


def parse_statement(statement: bytes) -> dict[str, object]:
    """Parse signed bytes back into fields; raise ``StatementError`` unless they are a canonical statement."""
    if not isinstance(statement, bytes | bytearray | memoryview):
        raise StatementError(f"a statement must be bytes, not {type(statement).__name__}")
    statement = bytes(statement)
    if not statement.startswith(PREFIX):
        raise StatementError(
            f"the statement does not start with the prefix {PREFIX!r} (it starts with {statement[:20]!r})"
        )
    payload = statement[len(PREFIX) :]
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StatementError(f"the statement's JSON is not valid UTF-8: {exc}") from exc
    try:
        fields = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise StatementError(f"the statement's JSON does not parse: {exc}") from exc
    if not isinstance(fields, dict):
        raise StatementError(f"the statement's JSON must be an object, not {type(fields).__name__}")
    try:
        canonical = rfc8785.dumps(fields)
    except rfc8785.CanonicalizationError as exc:
        raise StatementError(f"the statement's JSON cannot be canonicalised: {exc}") from exc
    if canonical != payload:
        raise StatementError(
            "the statement's JSON is not in RFC 8785 canonical form "
            "(re-canonicalising it gives different bytes: member order, spacing, escapes or numbers differ)"
        )
    _check_members(fields)
    return fields


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _check_members(fields: dict[str, Any]) -> None:
    missing = [name for name in REQUIRED_MEMBERS if name not in fields]
    if missing:
        raise StatementError(f"the statement is missing required member(s): {', '.join(missing)}")
    if fields["v"] != 1 or isinstance(fields["v"], bool):
        raise StatementError(f"unsupported statement version v={fields['v']!r} (expected 1)")
    for name in ("kid", "site", "incident", "update", "status", "impact", "body", "published_at"):
        if not isinstance(fields[name], str):
            raise StatementError(f"member {name!r} must be a string, not {type(fields[name]).__name__}")
    seq = fields["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise StatementError(f"member 'seq' must be an integer >= 1, not {seq!r}")
    prev = fields["prev"]
    if prev is not None and not (isinstance(prev, str) and _HEX64.fullmatch(prev)):
        raise StatementError(f"member 'prev' must be null or 64 lowercase hex digits, not {prev!r}")
    if fields["corrects"] is not None and not isinstance(fields["corrects"], str):
        raise StatementError("member 'corrects' must be null or a string id")
    if not isinstance(fields["components"], list):
        raise StatementError("member 'components' must be an array")
    author = fields["author"]
    if not isinstance(author, dict) or not isinstance(author.get("name"), str):
        raise StatementError("member 'author' must be an object with a 'name' string")
    try:
        parse_time(fields["published_at"])
    except ValueError as exc:
        raise StatementError(f"member 'published_at' is not an RFC 3339 time: {exc}") from exc


def digest(statement: bytes) -> str:
    """Lowercase hex SHA-256 of the signed bytes (prefix included)."""
    return hashlib.sha256(statement).hexdigest()


# --- keys and signatures ------------------------------------------------------------------------


def generate_private_key() -> bytes:
    """A new Ed25519 private key as 32 raw bytes."""
    return Ed25519PrivateKey.generate().private_bytes_raw()


def _private_key(private_raw: bytes) -> Ed25519PrivateKey:
    if len(private_raw) != 32:
        raise KeyFormatError(f"an Ed25519 private key is 32 raw bytes, not {len(private_raw)}")
    return Ed25519PrivateKey.from_private_bytes(private_raw)


def _public_key(public_raw: bytes) -> Ed25519PublicKey:
    if len(public_raw) != 32:
        raise KeyFormatError(f"an Ed25519 public key is 32 raw bytes, not {len(public_raw)}")
    return Ed25519PublicKey.from_public_bytes(public_raw)


def public_key_bytes(private_raw: bytes) -> bytes:
    """The 32 raw public bytes of a raw private key."""
    return _private_key(private_raw).public_key().public_bytes_raw()


def sign(private_raw: bytes, data: bytes) -> bytes:
    """Ed25519 signature (64 bytes) of ``data``."""
    return _private_key(private_raw).sign(data)


def verify(public_raw: bytes, signature: bytes, data: bytes) -> bool:
    """True if ``signature`` is a valid Ed25519 signature of ``data``; False otherwise, including bad input."""
    if len(signature) != 64:
        return False
    try:
        _public_key(public_raw).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


def b64encode_signature(sig: bytes) -> str:
    """Standard base64 (with padding) of a signature."""
    return base64.b64encode(sig).decode("ascii")


def b64decode_signature(text: str) -> bytes:
    """Decode a base64 signature; raise ``SignatureFormatError`` unless it is exactly 64 bytes."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureFormatError(f"the signature is not valid standard base64: {exc}") from exc
    if len(raw) != 64:
        raise SignatureFormatError(f"an Ed25519 signature is 64 bytes, but this one decodes to {len(raw)}")
    return raw


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def kid_for(public_raw: bytes) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url without padding) of an Ed25519 public key."""
    _public_key(public_raw)
    members = '{"crv":"Ed25519","kty":"OKP","x":"' + _b64url(public_raw) + '"}'
    return _b64url(hashlib.sha256(members.encode("utf-8")).digest())


def public_jwk(public_raw: bytes) -> dict[str, str]:
    """The public key as a JWK (RFC 8037 OKP), with its thumbprint as ``kid``."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64url(public_raw),
        "kid": kid_for(public_raw),
        "use": "sig",
        "alg": "EdDSA",
    }


def public_pem(public_raw: bytes) -> str:
    """The public key as a SubjectPublicKeyInfo ``PUBLIC KEY`` PEM."""
    return (
        _public_key(public_raw)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def _pem_bytes(pem: bytes | str) -> bytes:
    return pem.encode("utf-8") if isinstance(pem, str) else bytes(pem)


def public_raw_from_pem(pem: bytes | str) -> bytes:
    """The 32 raw bytes of an Ed25519 ``PUBLIC KEY`` PEM; ``KeyFormatError`` for anything else."""
    data = _pem_bytes(pem)
    if b"PRIVATE KEY-----" in data:
        raise KeyFormatError("this PEM holds a private key; give the public key (a 'PUBLIC KEY' PEM) instead")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"not a readable public key PEM: {exc}") from exc
    except Exception as exc:  # cryptography raises UnsupportedAlgorithm for unknown key types
        raise KeyFormatError(f"not a supported public key PEM: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFormatError(f"the PEM holds a {type(key).__name__.lstrip('_')}, not an Ed25519 public key")
    return key.public_bytes_raw()


def private_pem(private_raw: bytes, password: bytes | None = None) -> str:
    """The private key as a PKCS#8 PEM, unencrypted unless ``password`` is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return (
        _private_key(private_raw)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        .decode("ascii")
    )


def private_raw_from_pem(pem: bytes | str, password: bytes | None = None) -> bytes:
    """The 32 raw bytes of an Ed25519 private key PEM; ``KeyFormatError`` for anything else."""
    data = _pem_bytes(pem)
    if b"PRIVATE KEY-----" not in data:
        raise KeyFormatError("not a private key PEM (expected a 'PRIVATE KEY' block)")
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except TypeError as exc:
        if password is None:
            raise KeyFormatError("the private key PEM is encrypted; a password is needed") from exc
        raise KeyFormatError(
            f"the private key PEM is not encrypted; no password should be given ({exc})"
        ) from exc
    except ValueError as exc:
        raise KeyFormatError(
            f"cannot read the private key PEM (wrong password or damaged file): {exc}"
        ) from exc
    except Exception as exc:  # UnsupportedAlgorithm
        raise KeyFormatError(f"not a supported private key PEM: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFormatError(f"the PEM holds a {type(key).__name__.lstrip('_')}, not an Ed25519 private key")
    return key.private_bytes_raw()


# --- private keys at rest -----------------------------------------------------------------------


def new_encryption_key() -> str:
    """A new Fernet key (urlsafe base64 text)."""
    return Fernet.generate_key().decode("ascii")


def _multifernet(keys: list[str]) -> MultiFernet:
    if not keys:
        raise KeyEncryptionError("no encryption keys are configured")
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError) as exc:
            raise KeyEncryptionError(
                f"encryption key #{position} is not a valid Fernet key (32 bytes, urlsafe base64): {exc}"
            ) from exc
    return MultiFernet(fernets)


def encrypt_private_key(private_raw: bytes, keys: list[str]) -> str:
    """Encrypt a raw private key with the first (primary) Fernet key."""
    _private_key(private_raw)
    return _multifernet(keys).encrypt(private_raw).decode("ascii")


def decrypt_private_key(token: str, keys: list[str]) -> bytes:
    """Decrypt a private key with any of ``keys``; ``KeyEncryptionError`` if none of them can."""
    try:
        raw = _multifernet(keys).decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise KeyEncryptionError(
            f"none of the {len(keys)} configured encryption key(s) decrypts this private key "
            "(was its encryption key removed from the list?)"
        ) from exc
    if len(raw) != 32:
        raise KeyEncryptionError(f"the decrypted private key is {len(raw)} bytes, not 32")
    return raw


def reencrypt_private_key(token: str, keys: list[str]) -> str:
    """Re-encrypt a private key under the primary (first) key, decrypting with any of ``keys``."""
    try:
        return _multifernet(keys).rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise KeyEncryptionError(
            f"none of the {len(keys)} configured encryption key(s) decrypts this private key, "
            "so it cannot be re-encrypted"
        ) from exc


# --- time ---------------------------------------------------------------------------------------


def key_valid_at(created: datetime, revoked: datetime | None, at: datetime) -> bool:
    """True when a key created at ``created`` and revoked at ``revoked`` (or never) is valid at ``at``."""
    return created <= at and (revoked is None or at < revoked)


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 time (``Z`` or an offset) into an aware UTC datetime."""
    if not isinstance(text, str) or not _RFC3339.fullmatch(text):
        raise ValueError(f"{text!r} is not an RFC 3339 time such as 2026-11-23T09:31:00Z")
    normalised = text.upper().removesuffix("Z") + ("+00:00" if text[-1] in "Zz" else "")
    try:
        return datetime.fromisoformat(normalised).astimezone(UTC)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid time: {exc}") from exc


def format_time(dt: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with seconds precision and a trailing ``Z``."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("format_time needs an aware datetime (a naive one has no defined UTC instant)")
    return dt.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
