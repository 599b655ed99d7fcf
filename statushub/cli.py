"""``statushub``: verify signed StatusHub updates from anywhere, sign with an offline key, and work on
incidents from a terminal with a personal API token.

Needs no StatusHub server code and no Django: only the public endpoints described in
``docs/signing-wire-format.md``, the engineers' API (``/api/v1/``), ``httpx`` and ``statushub.lib.signing``.

    statushub verify https://status.example/updates/42/
    statushub verify-chain https://status.example
    statushub keygen --out priya.pem
    statushub sign --key priya.pem statement.bin --out statement.sig
    statushub incident open "Card payments failing" --severity SEV2 --component Payments
    statushub note 42 "Rolled back to v41; error rate falling." [--public]
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from statushub.lib.signing import (
    KeyFormatError,
    SignatureFormatError,
    StatementError,
    b64decode_signature,
    b64encode_signature,
    digest,
    format_time,
    generate_private_key,
    key_valid_at,
    kid_for,
    parse_statement,
    parse_time,
    private_pem,
    private_raw_from_pem,
    public_key_bytes,
    public_pem,
    sign,
    verify,
)

USER_AGENT = "statushub-cli/0.1"
TIMEOUT_SECONDS = 10.0
PROGRESS_EVERY = 50
OK = "\u2714"  # ✔
FAIL = "\u2718"  # ✘

EXIT_OK, EXIT_FAILED, EXIT_UNREACHABLE = 0, 1, 2
EXIT_USAGE = 2

KEYS_PATH = "/.well-known/statushub/keys.json"
CHAIN_PATH = "/.well-known/statushub/chain.json"

_UPDATE_URL = re.compile(
    r"^(?P<site>https?://.+)/updates/(?P<id>[A-Za-z0-9_-]+)(?:\.json|/statement|/)?/?(?:[?#].*)?$"
)
_INCIDENT_URL = re.compile(r"^(?P<site>https?://.+)/incidents/[^#]*#update-(?P<id>[A-Za-z0-9_-]+)$")


class CliError(Exception):
    """A refusal or bad input: printed as ``error: ...`` and exit 1."""


class UsageError(Exception):
    """The command was not given what it needs: printed as ``error: ...`` and exit 2, like argparse's errors."""


class FetchError(Exception):
    """The site could not be reached or did not answer as the wire format says."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


# --- HTTP ---------------------------------------------------------------------------------------


def make_client() -> httpx.Client:
    """The HTTP client every command uses."""
    return httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=True, headers={"User-Agent": USER_AGENT})


class Fetcher:
    """GETs that turn every failure into a ``FetchError`` with a readable message."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def get(self, url: str, params: dict[str, str] | None = None) -> httpx.Response:
        try:
            response = self.client.get(url, params=params)
        except httpx.InvalidURL as exc:
            raise FetchError(f"invalid URL {url!r}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"could not fetch {url}: {exc.__class__.__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise FetchError(
                f"could not fetch {response.request.url}: HTTP {response.status_code} {response.reason_phrase}",
                status=response.status_code,
            )
        return response

    def bytes(self, url: str) -> bytes:
        return self.get(url).content

    def json(self, url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        response = self.get(url, params)
        try:
            document = response.json()
        except ValueError as exc:
            raise FetchError(f"{response.request.url} did not return JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise FetchError(f"{response.request.url} returned JSON that is not an object")
        return document


# --- keys.json ----------------------------------------------------------------------------------


@dataclass
class PublishedKey:
    """One entry of keys.json; ``problem`` says why it cannot be used, if it cannot."""

    kid: str
    public: bytes = b""
    owner: str = ""
    created: datetime | None = None
    revoked: datetime | None = None
    problem: str | None = None

    def validity_problem(self, published_at: datetime) -> str | None:
        """Why the key was not valid at ``published_at``, or None if it was."""
        if self.created is None:
            return f"key {self.kid} has no creation time in keys.json"
        if key_valid_at(self.created, self.revoked, published_at):
            return None
        when = format_time(published_at)
        if self.created > published_at:
            return f"key {self.kid} was created at {format_time(self.created)}, after the update's published_at {when}"
        assert self.revoked is not None
        return f"key {self.kid} was revoked at {format_time(self.revoked)}, before the update was published at {when}"


def load_keys(document: dict[str, Any]) -> dict[str, PublishedKey]:
    """Index a keys.json JWKS by kid, checking each key's thumbprint and times."""
    keys: dict[str, PublishedKey] = {}
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise FetchError("keys.json has no 'keys' array")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        key = PublishedKey(kid=entry["kid"])
        keys[key.kid] = key
        owner = entry.get("owner") if isinstance(entry.get("owner"), dict) else {}
        key.owner = _person(owner)
        try:
            if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
                raise ValueError(
                    f"it is not an Ed25519 OKP key (kty={entry.get('kty')!r}, crv={entry.get('crv')!r})"
                )
            x = entry.get("x")
            if not isinstance(x, str):
                raise ValueError("it has no 'x'")
            key.public = _b64url_decode(x)
            if len(key.public) != 32:
                raise ValueError(f"its 'x' is {len(key.public)} bytes, not 32")
            thumbprint = kid_for(key.public)
            if thumbprint != key.kid:
                raise ValueError(f"its kid is not the RFC 7638 thumbprint of its 'x' ({thumbprint})")
            created = entry.get("created")
            if not isinstance(created, str):
                raise ValueError("it has no 'created' time")
            key.created = parse_time(created)
            revoked = entry.get("revoked")
            key.revoked = parse_time(revoked) if revoked is not None else None
        except ValueError as exc:
            key.problem = str(exc)
    return keys


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _person(value: object) -> str:
    if not isinstance(value, dict):
        return "unknown"
    name, title = value.get("name") or "unknown", value.get("title") or ""
    return f"{name}, {title}" if title else str(name)


# --- verify -------------------------------------------------------------------------------------


def _parse(statement: bytes) -> dict[str, Any]:
    return parse_statement(statement)


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
        fields = _parse(statement)
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

    print(f"Author:       {_person(fields['author'])}")
    print(f"Published at: {format_time(published_at)}")
    print(f"Key:          {fields['kid']}")
    if checks.first_failure is not None:
        print(f"NOT VERIFIED: {checks.first_failure}")
        return EXIT_FAILED
    print(
        f"VERIFIED: update {update_id} (seq {fields['seq']}) on {site} was signed by "
        f"{_person(fields['author'])} at {format_time(published_at)}"
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


# --- verify-chain -------------------------------------------------------------------------------


class ChainChecker:
    """Walks chain.json page by page, reporting every problem as it is found."""

    def __init__(self, fetcher: Fetcher, site: str, keys: dict[str, PublishedKey]) -> None:
        self.fetcher = fetcher
        self.site = site
        self.keys = keys
        self.problems = 0
        self.checked = 0
        self.last_seq = 0
        self.seen: set[int] = set()
        self.prev_digest: str | None = None
        self.head: str | None = None

    def problem(self, message: str) -> None:
        self.problems += 1
        print(f"{FAIL} {message}")

    def run(self) -> None:
        url: str | None = f"{self.site}{CHAIN_PATH}?after=0"
        visited: set[str] = set()
        while url:
            if url in visited:
                self.problem(f"chain.json paging loops back to {url}")
                break
            visited.add(url)
            page = self.fetcher.json(url)
            if page.get("site") not in (None, self.site):
                self.problem(f"chain.json says it is the chain of {page.get('site')}, not {self.site}")
            entries = page.get("entries")
            if not isinstance(entries, list):
                raise FetchError(f"{url} has no 'entries' array")
            for entry in entries:
                self.check_entry(entry)
            next_url = page.get("next")
            url = next_url if isinstance(next_url, str) and next_url else None

    def check_entry(self, entry: Any) -> None:
        seq = entry.get("seq") if isinstance(entry, dict) else None
        if not isinstance(seq, int) or isinstance(seq, bool):
            self.problem(f"chain.json has an entry without an integer seq after seq {self.last_seq}")
            return
        self.checked += 1
        if self.checked % PROGRESS_EVERY == 0:
            print(f"checked {self.checked}/… (seq {seq})", file=sys.stderr)
        if seq in self.seen:
            self.problem(f"seq {seq}: duplicate entry (seq {seq} appears more than once)")
            return
        link_checkable = seq == self.last_seq + 1
        if seq <= self.last_seq:
            self.problem(f"seq {seq}: out of order (comes after seq {self.last_seq})")
        elif seq > self.last_seq + 1:
            first, last = self.last_seq + 1, seq - 1
            missing = f"seq {first}" if first == last else f"seqs {first} to {last}"
            self.problem(f"gap in the chain: {missing} missing before seq {seq}")
        self.seen.add(seq)

        try:
            statement = self.fetcher.bytes(str(entry.get("statement_url")))
        except FetchError as exc:
            if exc.status is None or exc.status >= 500:
                raise
            self.problem(f"seq {seq}: the statement cannot be fetched: {exc}")
            self.prev_digest, self.last_seq = None, max(self.last_seq, seq)
            return
        sha = digest(statement)
        if entry.get("sha256") != sha:
            self.problem(
                f"seq {seq}: chain.json sha256 {str(entry.get('sha256'))[:16]}… does not match "
                f"the statement bytes (sha256 {sha[:16]}…)"
            )
        try:
            fields = _parse(statement)
        except StatementError as exc:
            self.problem(f"seq {seq}: the statement is not valid: {exc}")
        else:
            self.check_fields(seq, entry, statement, fields, link_checkable)
        self.prev_digest = sha
        self.head = sha
        self.last_seq = max(self.last_seq, seq)

    def check_fields(
        self, seq: int, entry: dict[str, Any], statement: bytes, fields: dict[str, Any], link_checkable: bool
    ) -> None:
        if fields["seq"] != seq:
            self.problem(f"seq {seq}: the statement says seq {fields['seq']}")
        if fields["update"] != str(entry.get("update_id")):
            self.problem(
                f"seq {seq}: the statement is for update {fields['update']}, not {entry.get('update_id')}"
            )
        if fields["site"] != self.site:
            self.problem(f"seq {seq}: the statement is for site {fields['site']}, not {self.site}")
        if entry.get("prev") != fields["prev"]:
            self.problem(f"seq {seq}: chain.json prev differs from the statement's prev")
        if link_checkable and fields["prev"] != self.prev_digest:
            if self.prev_digest is None:
                self.problem(
                    f"seq {seq}: prev is {fields['prev']!r} but the first statement must have prev null"
                )
            else:
                self.problem(
                    f"seq {seq}: prev {str(fields['prev'])[:16]}… does not match the sha256 of seq {seq - 1} "
                    f"({self.prev_digest[:16]}…): the chain is broken, seq {seq - 1} was changed or replaced"
                )
        kid = fields["kid"]
        if entry.get("kid") != kid:
            self.problem(f"seq {seq}: chain.json names key {entry.get('kid')}, the statement key {kid}")
        key = self.keys.get(kid)
        if key is None:
            self.problem(f"seq {seq}: unknown key {kid} (not in keys.json)")
            return
        if key.problem:
            self.problem(f"seq {seq}: key {kid} in keys.json cannot be used: {key.problem}")
            return
        try:
            signature = b64decode_signature(str(entry.get("signature") or ""))
        except SignatureFormatError as exc:
            self.problem(f"seq {seq}: unusable signature: {exc}")
        else:
            if not verify(key.public, signature, statement):
                self.problem(f"seq {seq}: bad signature (does not verify with key {kid})")
        validity = key.validity_problem(parse_time(fields["published_at"]))
        if validity:
            self.problem(f"seq {seq}: {validity}")


def cmd_verify_chain(args: argparse.Namespace) -> int:
    site = args.site.strip().rstrip("/")
    if not re.match(r"^https?://[^/]+", site):
        raise CliError(f"{args.site!r} is not a site URL such as https://status.example")
    with make_client() as client:
        fetcher = Fetcher(client)
        try:
            checker = ChainChecker(fetcher, site, load_keys(fetcher.json(site + KEYS_PATH)))
            checker.run()
        except FetchError as exc:
            print(f"error: cannot verify the chain, {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
    print(f"checked {checker.checked} entries", file=sys.stderr)
    if checker.problems:
        print(f"CHAIN BROKEN: {checker.problems} problem(s)")
        return EXIT_FAILED
    head = checker.head[:16] if checker.head else "(empty)"
    print(f"CHAIN INTACT: {checker.checked} updates, head {head}")
    return EXIT_OK


# --- offline keys -------------------------------------------------------------------------------


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
        fields = _parse(statement)
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


# --- the engineers' API: incident and note ----------------------------------------------------------

URL_VARIABLE, TOKEN_VARIABLE = "STATUSHUB_URL", "STATUSHUB_TOKEN"
SEVERITIES = ("sev1", "sev2", "sev3", "sev4")
COMPONENT_STATUSES = (
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
)


def _api_target(args: argparse.Namespace) -> tuple[str, str]:
    url = (args.url or os.environ.get(URL_VARIABLE) or "").strip().rstrip("/")
    token = (args.token or os.environ.get(TOKEN_VARIABLE) or "").strip()
    if not url:
        raise UsageError(
            f"set {URL_VARIABLE} to your StatusHub address, e.g. https://status.example (or pass --url)"
        )
    if not re.match(r"^https?://[^/\s]+$", url):
        raise UsageError(f"{url!r} is not a StatusHub address such as https://status.example")
    host = (urlsplit(url).hostname or "").lower()
    if url.startswith("http://") and host not in ("localhost", "127.0.0.1", "::1"):
        # The token would cross the network in clear text.
        raise UsageError(f"{url!r} is plain http: use https:// (plain http is only for localhost)")
    if not token:
        raise UsageError(f"set {TOKEN_VARIABLE} to an API token from {url}/manage/tokens/ (or pass --token)")
    return url, token


def api_call(
    args: argparse.Namespace,
    method: str,
    path: str,
    *,
    json: Any = None,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One call to ``/api/v1``; any failure becomes a ``CliError`` carrying the API's own message."""
    url, token = _api_target(args)
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json", "Authorization": f"Bearer {token}"}
    # No redirects: following one could turn a POST into a GET, or carry the token to another host.
    with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False, headers=headers) as client:
        try:
            response = client.request(method, f"{url}/api/v1{path}", json=json, params=params)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach {url}: {exc.__class__.__name__}: {exc}") from exc
    if response.is_redirect:
        location = response.headers.get("Location", "elsewhere")
        raise CliError(f"{url} redirects to {location}: set {URL_VARIABLE} to the address it redirects to")
    try:
        document = response.json()
    except ValueError:
        document = None
    if response.status_code >= 400:
        detail = document.get("detail") if isinstance(document, dict) else None
        raise CliError(f"{detail or response.reason_phrase} (HTTP {response.status_code})")
    if not isinstance(document, dict):
        raise CliError(f"{url} did not answer with the StatusHub API's JSON: is {URL_VARIABLE} right?")
    return document


def _incident_number(value: str) -> int:
    number = value.strip().removeprefix("#")
    if not number.isdigit() or int(number) < 1:
        raise UsageError(f"{value!r} is not an incident number (such as 42)")
    return int(number)


def _component(value: str) -> dict[str, str]:
    """``NAME`` or ``NAME=STATUS``."""
    name, sep, status = value.rpartition("=") if "=" in value else (value, "", "")
    name, status = name.strip(), status.strip().lower()
    if not name:
        raise UsageError(f"--component {value!r}: give a component name, optionally NAME=STATUS")
    if sep and status not in COMPONENT_STATUSES:
        raise UsageError(f"--component {value!r}: the status must be one of {', '.join(COMPONENT_STATUSES)}")
    return {"name": name, "status": status} if sep else {"name": name}


def cmd_note(args: argparse.Namespace) -> int:
    number = _incident_number(args.incident)
    if not args.text.strip():
        raise UsageError("the note is empty")
    note = api_call(
        args, "POST", f"/incidents/{number}/notes", json={"text": args.text, "public": bool(args.public)}
    )
    if note.get("on_public_timeline"):
        where = "public"
    elif note.get("public"):
        where = "public, shown once the incident is public"
    else:
        where = "internal"
    print(f"note {note.get('id')} posted on incident {number} ({where})")
    return EXIT_OK


def cmd_incident_open(args: argparse.Namespace) -> int:
    if not args.title.strip():
        raise UsageError("the title is empty")
    payload: dict[str, Any] = {
        "title": args.title,
        "severity": args.severity,
        "components": [_component(value) for value in args.component or []],
    }
    if args.note:
        payload["note"] = args.note
    incident = api_call(args, "POST", "/incidents", json=payload)
    print(f"incident {incident.get('id')} opened (draft, not public): {incident.get('compose_url')}")
    return EXIT_OK


def cmd_incident_list(args: argparse.Namespace) -> int:
    page = api_call(args, "GET", "/incidents", params={"status": args.status, "limit": "100"})
    found = page.get("items")
    items: list[Any] = found if isinstance(found, list) else []
    for incident in items:
        visibility = "public" if incident.get("public") else "draft"
        print(
            f"#{incident.get('id')}  {str(incident.get('severity')).upper()}  {incident.get('status')}  "
            f"({visibility})  {incident.get('title')}"
        )
    shown = f" (showing {len(items)})" if len(items) < int(page.get("count") or 0) else ""
    print(f"{page.get('count', len(items))} {args.status} incident(s){shown}", file=sys.stderr)
    return EXIT_OK


def cmd_incident(args: argparse.Namespace) -> int:
    return {"open": cmd_incident_open, "list": cmd_incident_list}[args.incident_command](args)


# --- argument parsing ---------------------------------------------------------------------------


def _configure_verify(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "url", help="an update URL: SITE/updates/<id>/, .json, /statement or an incident #update- link"
    )


def _configure_verify_chain(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("site", help="the site's base URL, e.g. https://status.example")


def _configure_sign(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--key", required=True, metavar="KEY.pem", help="your Ed25519 private key (PKCS#8 PEM)"
    )
    parser.add_argument("statement", metavar="STATEMENT_FILE", help="the statement bytes to sign")
    parser.add_argument("--out", metavar="SIG_FILE", help="write the base64 signature here (default: stdout)")
    parser.add_argument("--password-env", metavar="VAR", help="read the key's password from this variable")


def _configure_keygen(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="KEY.pem", help="where to write the new private key")
    parser.add_argument(
        "--password-env", metavar="VAR", help="encrypt the key with the password in this variable"
    )


def _configure_export(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dir", metavar="DIR", help="where the site goes, e.g. /srv/status (becomes a symbolic link)"
    )
    parser.add_argument("--keep", type=int, default=2, help="earlier exports kept beside it (default 2)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (e.g. in cron)")
    parser.add_argument("--jobs", type=int, help="processes rendering side by side (default: cores)")


def cmd_export(args: argparse.Namespace) -> int:
    """Runs where StatusHub itself runs, with the server's settings: Django's own command does the work, in a
    process of its own, so this module stays free of Django for engineers' laptops."""
    import subprocess

    command = [sys.executable, "-m", "django", "export", args.dir, "--keep", str(args.keep)]
    if args.no_progress:
        command.append("--no-progress")
    if args.jobs:
        command += ["--jobs", str(args.jobs)]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "statushub.settings"),
    }
    return EXIT_OK if subprocess.run(command, env=env, check=False).returncode == 0 else EXIT_FAILED


def _add_api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help=f"your StatusHub address (default: ${URL_VARIABLE})")
    parser.add_argument(
        "--token",
        help=f"an API token (default: ${TOKEN_VARIABLE}; prefer the variable: arguments show in the process list)",
    )


def _configure_note(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("incident", metavar="INCIDENT", help="the incident's number, e.g. 42")
    parser.add_argument("text", metavar="TEXT", help="the note (Markdown)")
    parser.add_argument(
        "--public", action="store_true", help="also show it on the public timeline (default: internal)"
    )
    _add_api_options(parser)


def _configure_incident(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="incident_command", required=True, metavar="ACTION")
    opening = actions.add_parser(
        "open", help="open a draft incident (not public until a publisher publishes)", description=(
            "Open a draft incident. It is not public, and no component's public status changes, "
            "until a publisher publishes its first update."
        ),
    )  # fmt: skip
    opening.add_argument("title", metavar="TITLE")
    opening.add_argument(
        "--severity",
        required=True,
        type=str.lower,
        choices=SEVERITIES,
        metavar="SEV1..SEV4",
        help="SEV1 to SEV4",
    )
    opening.add_argument(
        "--component",
        action="append",
        metavar="NAME[=STATUS]",
        help=f"an affected component, repeatable; STATUS is one of {', '.join(COMPONENT_STATUSES)} "
        "(default: from the severity)",
    )
    opening.add_argument("--note", help="a first internal progress note")
    _add_api_options(opening)
    listing = actions.add_parser("list", help="list incidents", description="List incidents, newest first.")
    listing.add_argument(
        "--status", default="open", choices=("open", "closed", "all"), help="which incidents (default: open)"
    )
    _add_api_options(listing)


Command = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]

COMMANDS: dict[str, Command] = {
    "verify": ("check one signed update against the site's published keys", _configure_verify, cmd_verify),
    "verify-chain": (
        "check the site's whole chain of signed updates",
        _configure_verify_chain,
        cmd_verify_chain,
    ),
    "sign": ("sign a statement with an offline key", _configure_sign, cmd_sign),
    "keygen": ("create an offline Ed25519 signing key", _configure_keygen, cmd_keygen),
    "incident": (
        "open a draft incident, or list incidents (needs an API token)",
        _configure_incident,
        cmd_incident,
    ),
    "note": ("post a progress note on an incident (needs an API token)", _configure_note, cmd_note),
    "export": (
        "write the public site as static files for nginx, a static host or a CDN (run on the server)",
        _configure_export,
        cmd_export,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="statushub", description="Verify and sign StatusHub updates; open incidents and post notes."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, configure, handler) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        configure(sub)
        sub.set_defaults(handler=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error (argparse has printed it)
        return exc.code if isinstance(exc.code, int) else EXIT_UNREACHABLE
    try:
        return int(args.handler(args))
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
