"""``statushub keygen`` and ``statushub sign``: an offline Ed25519 key, and signing a prepared statement with it."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from statushub.cli.common import EXIT_OK, CliError, parse_fields
from statushub.lib.signing import (
    KeyFormatError,
    StatementError,
    b64encode_signature,
    digest,
    generate_private_key,
    kid_for,
    private_pem,
    private_raw_from_pem,
    public_key_bytes,
    public_pem,
    sign,
)


def _password(var: str | None) -> bytes | None:
    if not var:
        return None
    value = os.environ.get(var)
    if value is None:
        raise CliError(f"environment variable {var} (from --password-env) is not set")
    return value.encode("utf-8")


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc


def cmd_sign(args: argparse.Namespace) -> int:
    try:
        private = private_raw_from_pem(_read(args.key, "key file"), _password(args.password_env))
    except KeyFormatError as exc:
        raise CliError(f"{args.key}: {exc}") from exc
    statement = _read(args.statement, "statement file")
    try:
        fields = parse_fields(statement)
    except StatementError as exc:
        raise CliError(
            f"refusing to sign {args.statement}: it is not a StatusHub statement ({exc}). "
            "Sign the statement file exactly as downloaded, without editing it."
        ) from exc
    kid = kid_for(public_key_bytes(private))
    if fields["kid"] != kid:
        raise CliError(
            f"refusing to sign: the statement names key {fields['kid']}, but {args.key} is key {kid}. "
            "Use the key the statement was prepared for."
        )
    signature = b64encode_signature(sign(private, statement))
    if args.out:
        try:
            Path(args.out).write_text(signature + "\n")
        except OSError as exc:
            raise CliError(f"cannot write {args.out}: {exc.strerror or exc}") from exc
    else:
        print(signature)
    target = f", signature written to {args.out}" if args.out else ""
    print(
        f"signed update {fields['update']} (seq {fields['seq']}, sha256 {digest(statement)[:16]}…) "
        f"with key {kid}{target}",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_keygen(args: argparse.Namespace) -> int:
    password = _password(args.password_env)
    private = generate_private_key()
    pem = private_pem(private, password)
    try:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise CliError(f"refusing to overwrite the existing file {args.out}") from exc
    except OSError as exc:
        raise CliError(f"cannot create {args.out}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "w") as handle:
        os.fchmod(fd, 0o600)
        handle.write(pem)
    public = public_key_bytes(private)
    print(public_pem(public), end="")
    print(f"kid: {kid_for(public)}")
    print(
        f"wrote the private key to {args.out} (mode 0600{', encrypted' if password else ''}); keep it offline "
        "and register the public key above with StatusHub",
        file=sys.stderr,
    )
    return EXIT_OK


def configure_sign(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--key", required=True, metavar="KEY.pem", help="your Ed25519 private key (PKCS#8 PEM)"
    )
    parser.add_argument("statement", metavar="STATEMENT_FILE", help="the statement bytes to sign")
    parser.add_argument("--out", metavar="SIG_FILE", help="write the base64 signature here (default: stdout)")
    parser.add_argument("--password-env", metavar="VAR", help="read the key's password from this variable")


def configure_keygen(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="KEY.pem", help="where to write the new private key")
    parser.add_argument(
        "--password-env", metavar="VAR", help="encrypt the key with the password in this variable"
    )
