"""The signing library against the wire format (docs/signing-wire-format.md), RFC test vectors and openssl."""

import base64
import hashlib
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from statushub.lib import signing
from statushub.lib.signing import (
    PREFIX,
    KeyEncryptionError,
    KeyFormatError,
    SignatureFormatError,
    StatementError,
)

# RFC 8032 section 7.1, test 1 (the same key is RFC 8037 appendix A's JWK example).
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_EMPTY_MESSAGE_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def _fields(**changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "v": 1,
        "kid": "kid-1",
        "site": "https://status.example",
        "incident": "7",
        "update": "42",
        "seq": 1,
        "status": "investigating",
        "impact": "major",
        "components": [{"id": "3", "name": "Payments API", "status": "major_outage"}],
        "body": "We are investigating elevated errors on **Payments**.",
        "author": {"name": "Priya Raman", "title": "VP Engineering"},
        "published_at": "2026-11-23T09:31:00Z",
        "corrects": None,
        "prev": None,
    }
    fields.update(changes)
    return fields


def _json(statement: bytes) -> bytes:
    assert statement.startswith(PREFIX)
    return statement[len(PREFIX) :]


# --- canonical statements -----------------------------------------------------------------------


def test_the_prefix_is_twenty_ascii_bytes_ending_in_one_newline():
    assert PREFIX == b"statushub-update-v1\n"
    assert len(PREFIX) == 20
    assert signing.build_statement(_fields()).startswith(PREFIX)


def test_members_are_sorted_and_written_without_whitespace():
    assert (
        _json(signing.build_statement({"b": 1, "a": {"z": [3, 2], "c": None}}))
        == b'{"a":{"c":null,"z":[3,2]},"b":1}'
    )


def test_the_same_fields_in_any_order_give_the_same_bytes():
    fields = _fields()
    reordered = dict(reversed(list(fields.items())))
    assert signing.build_statement(fields) == signing.build_statement(reordered)


def test_unicode_is_written_as_utf8_and_only_controls_are_escaped():
    body = 'Caf\u00e9 \u2013 \u2714 \U0001f525 "quoted" \\ line\nbreak\ttab \x1f \u2028'
    assert _json(signing.build_statement({"body": body})) == (
        '{"body":"Caf\u00e9 \u2013 \u2714 \U0001f525 \\"quoted\\" \\\\ line\\nbreak\\ttab \\u001f \u2028"}'
    ).encode("utf-8")


def test_numbers_follow_the_ecmascript_rules_of_rfc_8785():
    statement = signing.build_statement(
        {"a": 1.0, "b": 1e21, "c": 1e-7, "d": -0.0, "e": 0.1, "f": 10, "g": 3.5}
    )
    assert _json(statement) == b'{"a":1,"b":1e+21,"c":1e-7,"d":0,"e":0.1,"f":10,"g":3.5}'


def test_fields_that_cannot_be_canonicalised_are_refused():
    with pytest.raises(StatementError):
        signing.build_statement({"seq": 2**60})
    with pytest.raises(StatementError):
        signing.build_statement({"x": float("nan")})


def test_a_built_statement_parses_back_to_its_fields():
    fields = _fields(seq=3, prev="ab" * 32, corrects="41")
    assert signing.parse_statement(signing.build_statement(fields)) == fields


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (b"statushub-update-v2\n{}", "prefix"),
        (b'{"v":1}', "prefix"),
        (PREFIX + b"{not json", "does not parse"),
        (PREFIX + b"[1,2]", "must be an object"),
        (PREFIX + b"\xff\xfe", "UTF-8"),
        (PREFIX + b'{"v":1, "kid":"k"}', "canonical"),
        (PREFIX + b'{"v":1,"kid":"k"}', "canonical"),
        (PREFIX + b'{"kid":"k","kid":"j"}', "canonical"),
        (PREFIX + b'{"v":1.0}', "canonical"),
        (PREFIX + b'{"body":"\\u00e9"}', "canonical"),
        (PREFIX + b'{"v":NaN}', "does not parse"),
        (PREFIX + b'{"v":1}', "missing required member"),
    ],
)
def test_malformed_statements_are_refused_with_a_reason(statement, message):
    with pytest.raises(StatementError, match=message):
        signing.parse_statement(statement)


def test_a_statement_with_a_trailing_newline_is_not_canonical():
    with pytest.raises(StatementError, match="canonical"):
        signing.parse_statement(signing.build_statement(_fields()) + b"\n")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"v": 2}, "version"),
        ({"seq": 0}, "seq"),
        ({"seq": "1"}, "seq"),
        ({"update": 42}, "update"),
        ({"prev": "AB" * 32}, "prev"),
        ({"prev": "ab"}, "prev"),
        ({"published_at": "yesterday"}, "published_at"),
        ({"author": "Priya"}, "author"),
    ],
)
def test_members_of_the_wrong_kind_are_refused(changes, message):
    with pytest.raises(StatementError, match=message):
        signing.parse_statement(signing.build_statement(_fields(**changes)))


def test_the_digest_is_the_lowercase_hex_sha256_of_all_the_signed_bytes():
    statement = signing.build_statement(_fields())
    assert signing.digest(statement) == hashlib.sha256(statement).hexdigest()
    assert signing.digest(statement) != hashlib.sha256(_json(statement)).hexdigest()


# --- keys and signatures ------------------------------------------------------------------------


def test_signatures_match_the_rfc_8032_test_vector():
    assert signing.public_key_bytes(RFC8032_SECRET) == RFC8032_PUBLIC
    assert signing.sign(RFC8032_SECRET, b"") == RFC8032_EMPTY_MESSAGE_SIGNATURE
    assert signing.verify(RFC8032_PUBLIC, RFC8032_EMPTY_MESSAGE_SIGNATURE, b"")


def test_a_signature_verifies_over_the_exact_statement():
    private = signing.generate_private_key()
    public = signing.public_key_bytes(private)
    assert len(private) == 32
    assert len(public) == 32
    statement = signing.build_statement(_fields(kid=signing.kid_for(public)))
    signature = signing.sign(private, statement)
    assert len(signature) == 64
    assert signing.verify(public, signature, statement)


def test_a_statement_changed_by_one_byte_does_not_verify():
    private = signing.generate_private_key()
    statement = signing.build_statement(_fields())
    signature = signing.sign(private, statement)
    tampered = statement.replace(b"Payments", b"Paymentz")
    assert tampered != statement
    assert not signing.verify(signing.public_key_bytes(private), signature, tampered)


def test_a_signature_from_another_key_or_of_the_wrong_size_does_not_verify():
    statement = signing.build_statement(_fields())
    signature = signing.sign(signing.generate_private_key(), statement)
    other_public = signing.public_key_bytes(signing.generate_private_key())
    assert not signing.verify(other_public, signature, statement)
    assert not signing.verify(other_public, signature[:63], statement)
    assert not signing.verify(b"short", signature, statement)


def test_signatures_travel_as_padded_standard_base64():
    signature = bytes(range(200, 256)) + bytes(8)
    text = signing.b64encode_signature(signature)
    assert text == base64.b64encode(signature).decode()
    assert text.endswith("=")
    assert signing.b64decode_signature(text) == signature
    assert signing.b64decode_signature(text + "\n") == signature


@pytest.mark.parametrize("text", ["", "not base64!", base64.b64encode(bytes(63)).decode(), "A" * 87])
def test_a_signature_that_is_not_64_bytes_of_base64_is_refused(text):
    with pytest.raises(SignatureFormatError):
        signing.b64decode_signature(text)


def test_the_kid_is_the_rfc_7638_thumbprint_of_the_rfc_8037_example_key():
    assert signing.kid_for(RFC8032_PUBLIC) == RFC8037_THUMBPRINT
    assert signing.public_jwk(RFC8032_PUBLIC)["x"] == RFC8037_X


def test_the_kid_is_the_thumbprint_computed_independently():
    public = signing.public_key_bytes(signing.generate_private_key())
    x = base64.urlsafe_b64encode(public).decode().rstrip("=")
    members = json.dumps({"kty": "OKP", "x": x, "crv": "Ed25519"}, sort_keys=True, separators=(",", ":"))
    expected = base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).decode().rstrip("=")
    assert signing.kid_for(public) == expected
    assert "=" not in expected


def test_the_public_jwk_has_the_members_of_the_wire_format():
    public = signing.public_key_bytes(signing.generate_private_key())
    assert signing.public_jwk(public) == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": base64.urlsafe_b64encode(public).decode().rstrip("="),
        "kid": signing.kid_for(public),
        "use": "sig",
        "alg": "EdDSA",
    }


# --- PEM ----------------------------------------------------------------------------------------


def test_public_and_private_pems_round_trip():
    private = signing.generate_private_key()
    public = signing.public_key_bytes(private)
    public_pem = signing.public_pem(public)
    private_pem = signing.private_pem(private)
    assert public_pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert private_pem.startswith("-----BEGIN PRIVATE KEY-----\n")
    assert signing.public_raw_from_pem(public_pem) == public
    assert signing.public_raw_from_pem(public_pem.encode()) == public
    assert signing.private_raw_from_pem(private_pem) == private


def test_a_password_protected_private_pem_needs_its_password():
    private = signing.generate_private_key()
    pem = signing.private_pem(private, password=b"hunter22")
    assert "ENCRYPTED PRIVATE KEY" in pem
    assert signing.private_raw_from_pem(pem, password=b"hunter22") == private
    with pytest.raises(KeyFormatError, match="password"):
        signing.private_raw_from_pem(pem)
    with pytest.raises(KeyFormatError, match="wrong password"):
        signing.private_raw_from_pem(pem, password=b"wrong")


def test_public_raw_from_pem_refuses_anything_but_an_ed25519_public_key():
    private = signing.generate_private_key()
    with pytest.raises(KeyFormatError, match="private key"):
        signing.public_raw_from_pem(signing.private_pem(private))
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(KeyFormatError, match="not an Ed25519 public key"):
        signing.public_raw_from_pem(ec_pem)
    with pytest.raises(KeyFormatError):
        signing.public_raw_from_pem("-----BEGIN PUBLIC KEY-----\nbm9wZQ==\n-----END PUBLIC KEY-----\n")
    with pytest.raises(KeyFormatError):
        signing.public_raw_from_pem("hello")


def test_private_raw_from_pem_refuses_a_public_key_or_another_algorithm():
    public = signing.public_key_bytes(signing.generate_private_key())
    with pytest.raises(KeyFormatError, match="not a private key"):
        signing.private_raw_from_pem(signing.public_pem(public))
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(KeyFormatError, match="not an Ed25519 private key"):
        signing.private_raw_from_pem(ec_pem)


# --- openssl agrees -----------------------------------------------------------------------------


def _openssl_verify(tmp_path: Path, public_pem: str, statement: bytes, signature: bytes) -> bool:
    (tmp_path / "key.pem").write_text(public_pem)
    (tmp_path / "statement.bin").write_bytes(statement)
    (tmp_path / "sig.bin").write_bytes(signature)
    result = subprocess.run(
        [
            OPENSSL,
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "key.pem",
            "-rawin",
            "-in",
            "statement.bin",
            "-sigfile",
            "sig.bin",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0 and "Signature Verified Successfully" in result.stdout


@pytest.fixture
def openssl() -> str:
    if not Path(OPENSSL).exists():
        pytest.skip("openssl is not installed")
    return OPENSSL


def test_openssl_accepts_a_signature_made_by_the_library(tmp_path, openssl):
    private = signing.generate_private_key()
    public = signing.public_key_bytes(private)
    statement = signing.build_statement(_fields(kid=signing.kid_for(public), body="Résolu \u2714"))
    signature = signing.b64decode_signature(signing.b64encode_signature(signing.sign(private, statement)))
    assert _openssl_verify(tmp_path, signing.public_pem(public), statement, signature)


def test_openssl_rejects_a_tampered_statement(tmp_path, openssl):
    private = signing.generate_private_key()
    statement = signing.build_statement(_fields())
    signature = signing.sign(private, statement)
    tampered = statement[:-2] + bytes([statement[-2] ^ 1]) + statement[-1:]
    assert not _openssl_verify(
        tmp_path, signing.public_pem(signing.public_key_bytes(private)), tampered, signature
    )


def test_openssl_reads_the_private_pem_and_derives_the_same_public_key(tmp_path, openssl):
    private = signing.generate_private_key()
    (tmp_path / "private.pem").write_text(signing.private_pem(private))
    result = subprocess.run(
        [openssl, "pkey", "-in", str(tmp_path / "private.pem"), "-pubout"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == signing.public_pem(signing.public_key_bytes(private))


# --- private keys at rest -----------------------------------------------------------------------


def test_a_private_key_is_encrypted_and_decrypted_with_fernet():
    private = signing.generate_private_key()
    key = signing.new_encryption_key()
    Fernet(key)  # a valid Fernet key
    token = signing.encrypt_private_key(private, [key])
    assert private not in base64.urlsafe_b64decode(token)
    assert signing.decrypt_private_key(token, [key]) == private


def test_rotation_re_encrypts_under_the_new_primary_key():
    private = signing.generate_private_key()
    key_a, key_b = signing.new_encryption_key(), signing.new_encryption_key()
    token = signing.encrypt_private_key(private, [key_a])
    assert (
        signing.decrypt_private_key(token, [key_b, key_a]) == private
    )  # old tokens still read during rotation
    rotated = signing.reencrypt_private_key(token, [key_b, key_a])
    assert signing.decrypt_private_key(rotated, [key_b]) == private
    with pytest.raises(KeyEncryptionError):
        signing.decrypt_private_key(rotated, [key_a])


def test_the_first_key_is_the_one_that_encrypts():
    private = signing.generate_private_key()
    key_a, key_b = signing.new_encryption_key(), signing.new_encryption_key()
    token = signing.encrypt_private_key(private, [key_b, key_a])
    assert signing.decrypt_private_key(token, [key_b]) == private


def test_a_wrong_encryption_key_gives_a_clear_error():
    token = signing.encrypt_private_key(signing.generate_private_key(), [signing.new_encryption_key()])
    with pytest.raises(KeyEncryptionError, match="none of the 1 configured"):
        signing.decrypt_private_key(token, [signing.new_encryption_key()])
    with pytest.raises(KeyEncryptionError):
        signing.reencrypt_private_key(token, [signing.new_encryption_key()])
    with pytest.raises(KeyEncryptionError):
        signing.decrypt_private_key("garbage", [signing.new_encryption_key()])


def test_missing_or_malformed_encryption_keys_give_a_clear_error():
    private = signing.generate_private_key()
    with pytest.raises(KeyEncryptionError, match="no encryption keys"):
        signing.encrypt_private_key(private, [])
    with pytest.raises(KeyEncryptionError, match="#2 is not a valid Fernet key"):
        signing.encrypt_private_key(private, [signing.new_encryption_key(), "too-short"])


# --- time ---------------------------------------------------------------------------------------

CREATED = datetime(2026, 1, 1, tzinfo=UTC)
REVOKED = datetime(2026, 12, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("revoked", "at", "valid"),
    [
        (None, CREATED, True),
        (None, CREATED - SECOND, False),
        (None, CREATED + timedelta(days=3650), True),
        (REVOKED, REVOKED - SECOND, True),
        (REVOKED, REVOKED, False),
        (REVOKED, REVOKED + SECOND, False),
        (REVOKED, CREATED - SECOND, False),
    ],
)
def test_a_key_is_valid_from_its_creation_until_just_before_its_revocation(revoked, at, valid):
    assert signing.key_valid_at(CREATED, revoked, at) is valid


def test_times_are_rfc_3339_utc_with_a_z():
    parsed = signing.parse_time("2026-11-23T09:31:00Z")
    assert parsed == datetime(2026, 11, 23, 9, 31, tzinfo=UTC)
    assert parsed.tzinfo is UTC
    assert signing.parse_time("2026-11-23T11:31:00+02:00") == parsed
    assert signing.format_time(parsed) == "2026-11-23T09:31:00Z"
    tokyo = datetime(2026, 11, 23, 18, 31, 0, 987654, tzinfo=timezone(timedelta(hours=9)))
    assert signing.format_time(tokyo) == "2026-11-23T09:31:00Z"


@pytest.mark.parametrize("text", ["2026-11-23T09:31:00", "2026-11-23", "20261123T093100Z", "soon", ""])
def test_times_without_an_offset_or_in_other_formats_are_refused(text):
    with pytest.raises(ValueError):
        signing.parse_time(text)


def test_a_naive_datetime_cannot_be_formatted():
    with pytest.raises(ValueError, match="aware"):
        signing.format_time(datetime(2026, 11, 23, 9, 31))
