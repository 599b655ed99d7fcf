"""``statushub verify``: every check on one signed update, from any of its public URLs."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from statushub.cli.common import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, FAIL, OK, CliError, parse_fields
from statushub.cli.fetch import CHAIN_PATH, KEYS_PATH, Fetcher, FetchError, make_client
from statushub.cli.keys import load_keys, person
from statushub.lib.signing import (
    SignatureFormatError,
    StatementError,
    b64decode_signature,
    digest,
    format_time,
    parse_time,
    verify,
)

_UPDATE_URL = re.compile(
    r"^(?P<site>https?://.+)/updates/(?P<id>[A-Za-z0-9_-]+)(?:\.json|/statement|/)?/?(?:[?#].*)?$"
)
_INCIDENT_URL = re.compile(r"^(?P<site>https?://.+)/incidents/[^#]*#update-(?P<id>[A-Za-z0-9_-]+)$")


class Checks:
    """Prints each check as a ✔/✘ line and remembers the first failure."""

    def __init__(self) -> None:
        self.first_failure: str | None = None

    def check(self, ok: bool, message: str) -> bool:
        print(f"{OK if ok else FAIL} {message}")
        if not ok and self.first_failure is None:
            self.first_failure = message
        return ok


def parse_update_url(url: str) -> tuple[str, str]:
    """``(site, update id)`` from any of the public URLs of an update."""
    url = url.strip()
    match = _UPDATE_URL.match(url) or _INCIDENT_URL.match(url)
    if not match:
        raise CliError(
            f"{url!r} is not an update URL; expected SITE/updates/<id>/, SITE/updates/<id>.json, "
            "SITE/updates/<id>/statement or SITE/incidents/<n>/#update-<id>"
        )
    return match["site"], match["id"]


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        site, update_id = parse_update_url(args.url)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    with make_client() as client:
        try:
            return verify_update(Fetcher(client), site, update_id)
        except FetchError as exc:
            print(f"error: cannot verify, {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE


def verify_update(fetcher: Fetcher, site: str, update_id: str) -> int:
    """Run every check on one update; print them and return the exit code."""
    document = fetcher.json(f"{site}/updates/{update_id}.json")
    statement_url = document.get("statement_url")
    if not isinstance(statement_url, str):
        raise FetchError(f"{site}/updates/{update_id}.json has no statement_url")
    statement = fetcher.bytes(statement_url)
    keys = load_keys(fetcher.json(site + KEYS_PATH))
    sha = digest(statement)

    print(f"Update {update_id} on {site}")
    checks = Checks()

    # (a) the bytes are a canonical statement
    fields: dict[str, Any] | None
    try:
        fields = parse_fields(statement)
        checks.check(
            True, f"statement is well-formed canonical JSON ({len(statement)} bytes, sha256 {sha[:16]}…)"
        )
    except StatementError as exc:
        fields = None
        checks.check(False, f"statement is not a valid canonical statement: {exc}")

    # (c) the key is published
    kid = fields["kid"] if fields else document.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        checks.check(False, f"key {kid} is not listed in {site}{KEYS_PATH}")
    elif key.problem:
        checks.check(False, f"key {kid} in keys.json cannot be used: {key.problem}")
    else:
        checks.check(True, f"key {kid} is listed in keys.json (owner: {key.owner})")
    usable_key = key if key is not None and key.problem is None else None

    # (d) the signature
    try:
        signature = b64decode_signature(str(document.get("signature") or ""))
    except SignatureFormatError as exc:
        checks.check(False, f"the update's signature is unusable: {exc}")
    else:
        if usable_key is None:
            checks.check(False, "the signature cannot be checked without a usable key")
        elif verify(usable_key.public, signature, statement):
            checks.check(True, "the Ed25519 signature verifies over the exact statement bytes")
        else:
            checks.check(
                False,
                f"the Ed25519 signature does not verify with key {kid}: "
                "the statement bytes or the signature were altered, or another key signed it",
            )

    if fields is None:
        checks.check(
            document.get("statement_sha256") == sha,
            f"statement sha256 {sha[:16]}… {'matches' if document.get('statement_sha256') == sha else 'does not match'}"
            " statement_sha256 in the update JSON",
        )
        print(f"NOT VERIFIED: {checks.first_failure}")
        return EXIT_FAILED

    # (e) the key was valid when the update was published
    published_at = parse_time(fields["published_at"])
    if usable_key is not None:
        problem = usable_key.validity_problem(published_at)
        if problem:
            checks.check(False, problem)
        else:
            until = (
                f"revoked later, at {format_time(usable_key.revoked)}"
                if usable_key.revoked
                else "not revoked"
            )
            assert usable_key.created is not None
            checks.check(
                True,
                f"key was valid at {format_time(published_at)} "
                f"(created {format_time(usable_key.created)}, {until})",
            )

    # (b) the statement is the one asked for, and matches the update JSON
    mismatches = []
    if fields["update"] != update_id:
        mismatches.append(f"the statement is for update {fields['update']}, not update {update_id}")
    if str(document.get("id")) != update_id:
        mismatches.append(f"the update JSON has id {document.get('id')!r}, not {update_id}")
    if fields["site"] != site:
        mismatches.append(f"the statement is for site {fields['site']}, not {site}")
    if document.get("kid") != fields["kid"]:
        mismatches.append(
            f"the update JSON names key {document.get('kid')}, the statement key {fields['kid']}"
        )
    for name in ("seq", "prev"):
        if document.get(name) != fields[name]:
            mismatches.append(
                f"the update JSON has {name}={document.get(name)!r}, the statement {fields[name]!r}"
            )
    if document.get("statement_sha256") != sha:
        mismatches.append(
            f"the statement's sha256 {sha[:16]}… does not match statement_sha256 "
            f"{str(document.get('statement_sha256'))[:16]}… in the update JSON"
        )
    checks.check(
        not mismatches,
        "; ".join(mismatches)
        or f"statement matches the URL and update JSON (update {update_id}, site {site}, kid, seq, sha256)",
    )

    # (f) the chain link to the previous statement
    _check_chain_link(fetcher, site, fields, checks)

    print(f"Author:       {person(fields['author'])}")
    print(f"Published at: {format_time(published_at)}")
    print(f"Key:          {fields['kid']}")
    if checks.first_failure is not None:
        print(f"NOT VERIFIED: {checks.first_failure}")
        return EXIT_FAILED
    print(
        f"VERIFIED: update {update_id} (seq {fields['seq']}) on {site} was signed by "
        f"{person(fields['author'])} at {format_time(published_at)}"
    )
    return EXIT_OK


def _check_chain_link(fetcher: Fetcher, site: str, fields: dict[str, Any], checks: Checks) -> None:
    seq, prev = fields["seq"], fields["prev"]
    if prev is None:
        checks.check(
            seq == 1,
            "chain link: first statement of the chain (seq 1, prev null)"
            if seq == 1
            else f"chain link broken: prev is null but seq is {seq} (only seq 1 may start the chain)",
        )
        return
    if seq == 1:
        checks.check(False, "chain link broken: seq 1 must have prev null")
        return
    page = fetcher.json(site + CHAIN_PATH, params={"after": str(seq - 2)})
    entries = page.get("entries")
    if not isinstance(entries, list):
        entries = []
    entry = next((e for e in entries if isinstance(e, dict) and e.get("seq") == seq - 1), None)
    if entry is None or not isinstance(entry.get("statement_url"), str):
        checks.check(False, f"chain link broken: chain.json has no entry with seq {seq - 1}")
        return
    previous = digest(fetcher.bytes(entry["statement_url"]))
    checks.check(
        previous == prev,
        f"chain link: prev matches the sha256 of seq {seq - 1} (update {entry.get('update_id')})"
        if previous == prev
        else f"chain link broken: prev is {prev[:16]}… but the statement with seq {seq - 1} "
        f"(update {entry.get('update_id')}) has sha256 {previous[:16]}…",
    )


def configure_verify(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "url", help="an update URL: SITE/updates/<id>/, .json, /statement or an incident #update- link"
    )
