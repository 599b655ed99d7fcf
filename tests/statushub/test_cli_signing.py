"""``statushub keygen`` and ``statushub sign``: offline keys, and signing only a statement prepared for them."""

import stat

from statushub.lib import signing
from tests.statushub.test_cli_helpers import PRIYA, SITE, run


def _statement_for(kid: str) -> bytes:
    return signing.build_statement(
        {
            "v": 1,
            "kid": kid,
            "site": SITE,
            "incident": "7",
            "update": "504",
            "seq": 4,
            "status": "resolved",
            "impact": "none",
            "components": [],
            "body": "Postmortem published.",
            "author": PRIYA,
            "published_at": "2026-11-25T12:00:00Z",
            "corrects": None,
            "prev": "ab" * 32,
        }
    )


def test_keygen_and_sign_round_trip(tmp_path, capsys):
    key_file = tmp_path / "priya.pem"
    code, out, _ = run(capsys, "keygen", "--out", str(key_file))
    assert code == 0
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    public_pem = out[: out.index("-----END PUBLIC KEY-----\n") + len("-----END PUBLIC KEY-----\n")]
    public = signing.public_raw_from_pem(public_pem)
    kid = signing.kid_for(public)
    assert f"kid: {kid}" in out
    assert signing.public_key_bytes(signing.private_raw_from_pem(key_file.read_bytes())) == public

    statement_file = tmp_path / "statement.bin"
    statement_file.write_bytes(_statement_for(kid))
    sig_file = tmp_path / "statement.sig"
    code, out, err = run(capsys, "sign", "--key", str(key_file), str(statement_file), "--out", str(sig_file))
    assert code == 0, err
    assert out == ""
    assert "signed update 504 (seq 4" in err
    signature = signing.b64decode_signature(sig_file.read_text())
    assert signing.verify(public, signature, statement_file.read_bytes())

    code, out, _ = run(capsys, "sign", "--key", str(key_file), str(statement_file))
    assert code == 0
    assert signing.verify(public, signing.b64decode_signature(out), statement_file.read_bytes())


def test_keygen_refuses_to_overwrite_an_existing_file(tmp_path, capsys):
    key_file = tmp_path / "priya.pem"
    key_file.write_text("precious")
    code, out, err = run(capsys, "keygen", "--out", str(key_file))
    assert code == 1
    assert "refusing to overwrite" in err
    assert out == ""
    assert key_file.read_text() == "precious"


def test_sign_refuses_a_statement_prepared_for_another_key(tmp_path, capsys):
    key_file = tmp_path / "priya.pem"
    key_file.write_text(signing.private_pem(signing.generate_private_key()))
    other_kid = signing.kid_for(signing.public_key_bytes(signing.generate_private_key()))
    statement_file = tmp_path / "statement.bin"
    statement_file.write_bytes(_statement_for(other_kid))
    code, out, err = run(capsys, "sign", "--key", str(key_file), str(statement_file))
    assert code == 1
    assert out == ""
    assert f"refusing to sign: the statement names key {other_kid}" in err


def test_sign_refuses_a_file_that_is_not_a_statement(tmp_path, capsys):
    key_file = tmp_path / "priya.pem"
    private = signing.generate_private_key()
    key_file.write_text(signing.private_pem(private))
    statement_file = tmp_path / "statement.bin"
    statement_file.write_bytes(_statement_for(signing.kid_for(signing.public_key_bytes(private))) + b"\n")
    code, out, err = run(capsys, "sign", "--key", str(key_file), str(statement_file))
    assert code == 1
    assert out == ""
    assert "refusing to sign" in err
    assert "not in RFC 8785 canonical form" in err


def test_sign_reads_the_key_password_from_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STATUSHUB_KEY_PASSWORD", "correct horse")
    key_file = tmp_path / "priya.pem"
    code, out, _ = run(capsys, "keygen", "--out", str(key_file), "--password-env", "STATUSHUB_KEY_PASSWORD")
    assert code == 0
    assert "ENCRYPTED PRIVATE KEY" in key_file.read_text()
    kid = out.split("kid: ")[1].strip()
    statement_file = tmp_path / "statement.bin"
    statement_file.write_bytes(_statement_for(kid))

    code, _, err = run(capsys, "sign", "--key", str(key_file), str(statement_file))
    assert code == 1
    assert "a password is needed" in err
    code, out, _ = run(
        capsys,
        "sign",
        "--key",
        str(key_file),
        str(statement_file),
        "--password-env",
        "STATUSHUB_KEY_PASSWORD",
    )
    assert code == 0
    assert len(signing.b64decode_signature(out)) == 64
    monkeypatch.delenv("STATUSHUB_KEY_PASSWORD")
    code, _, err = run(
        capsys,
        "sign",
        "--key",
        str(key_file),
        str(statement_file),
        "--password-env",
        "STATUSHUB_KEY_PASSWORD",
    )
    assert code == 1
    assert "STATUSHUB_KEY_PASSWORD (from --password-env) is not set" in err
