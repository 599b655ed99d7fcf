"""``statushub verify-chain``: the site's whole chain of signed updates, page by page."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from statushub.cli.common import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, FAIL, CliError, parse_fields
from statushub.cli.fetch import CHAIN_PATH, KEYS_PATH, Fetcher, FetchError, make_client
from statushub.cli.keys import PublishedKey, load_keys
from statushub.lib.signing import (
    SignatureFormatError,
    StatementError,
    b64decode_signature,
    digest,
    parse_time,
    verify,
)

PROGRESS_EVERY = 50


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
            fields = parse_fields(statement)
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


def configure_verify_chain(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("site", help="the site's base URL, e.g. https://status.example")
