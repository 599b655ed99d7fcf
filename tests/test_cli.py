"""The ``statushub`` CLI against a fake site that serves the wire format (docs/signing-wire-format.md).

The fake site is built from real keys and statements made with the library: a chain of three updates
signed by two publishers, Priya's key being revoked only after all three were published.
"""

import ast
import base64
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from statushub import cli
from statushub.lib import signing

SITE = "https://status.example"
KEYS_URL = f"{SITE}/.well-known/statushub/keys.json"
CHAIN_URL = f"{SITE}/.well-known/statushub/chain.json"


@dataclass
class FakeKey:
    private: bytes
    owner: dict[str, str]
    created: str
    revoked: str | None = None

    @property
    def public(self) -> bytes:
        return signing.public_key_bytes(self.private)

    @property
    def kid(self) -> str:
        return signing.kid_for(self.public)


@dataclass
class FakeUpdate:
    """What the server stores for a published update; ``statement`` is what it serves."""

    id: str
    incident: str
    seq: int
    prev: str | None
    kid: str
    published_at: str
    statement: bytes
    signature: str
    sha256: str
    record: dict[str, Any]  # the fields as the server stored them


@dataclass
class FakeSite:
    keys: list[FakeKey]
    updates: list[FakeUpdate] = field(default_factory=list)
    page_size: int = 500
    hidden_from_chain: set[int] = field(default_factory=set)
    listed_twice_in_chain: set[int] = field(default_factory=set)
    requests: list[httpx.Request] = field(default_factory=list)

    def key(self, kid: str) -> FakeKey:
        return next(key for key in self.keys if key.kid == kid)

    def publish(
        self, key: FakeKey, body: str, published_at: str, status: str = "investigating"
    ) -> FakeUpdate:
        seq = len(self.updates) + 1
        fields = {
            "v": 1,
            "kid": key.kid,
            "site": SITE,
            "incident": "7",
            "update": str(500 + seq),
            "seq": seq,
            "status": status,
            "impact": "major",
            "components": [{"id": "3", "name": "Payments API", "status": "major_outage"}],
            "body": body,
            "author": dict(key.owner),
            "published_at": published_at,
            "corrects": None,
            "prev": self.updates[-1].sha256 if self.updates else None,
        }
        update = self._signed(fields, key)
        self.updates.append(update)
        return update

    def rewrite(self, index: int, key: FakeKey | None = None, **changes: Any) -> FakeUpdate:
        """Replace a stored update with a validly re-signed statement whose fields differ."""
        old = self.updates[index]
        fields = {**old.record, **changes}
        key = key or self.key(old.kid)
        fields["kid"] = key.kid
        self.updates[index] = self._signed(fields, key)
        return self.updates[index]

    @staticmethod
    def _signed(fields: dict[str, Any], key: FakeKey) -> FakeUpdate:
        statement = signing.build_statement(fields)
        return FakeUpdate(
            id=fields["update"],
            incident=fields["incident"],
            seq=fields["seq"],
            prev=fields["prev"],
            kid=key.kid,
            published_at=fields["published_at"],
            statement=statement,
            signature=signing.b64encode_signature(signing.sign(key.private, statement)),
            sha256=signing.digest(statement),
            record=fields,
        )

    # --- the endpoints ---

    def update_json(self, update: FakeUpdate) -> dict[str, Any]:
        fields = update.record
        return {
            "id": update.id,
            "incident_id": update.incident,
            "seq": update.seq,
            "status": fields["status"],
            "body": fields["body"],
            "author": fields["author"],
            "published_at": update.published_at,
            "corrects": None,
            "signature": update.signature,
            "kid": update.kid,
            "statement_url": f"{SITE}/updates/{update.id}/statement",
            "statement_sha256": update.sha256,
            "prev": update.prev,
        }

    def chain_entry(self, update: FakeUpdate) -> dict[str, Any]:
        return {
            "seq": update.seq,
            "update_id": update.id,
            "update_url": f"{SITE}/updates/{update.id}/",
            "statement_url": f"{SITE}/updates/{update.id}/statement",
            "sha256": update.sha256,
            "prev": update.prev,
            "signature": update.signature,
            "kid": update.kid,
            "published_at": update.published_at,
        }

    def keys_json(self) -> dict[str, Any]:
        return {
            "keys": [
                {
                    **signing.public_jwk(key.public),
                    "owner": key.owner,
                    "created": key.created,
                    "revoked": key.revoked,
                }
                for key in self.keys
            ]
        }

    def chain_page(self, after: int) -> dict[str, Any]:
        listed = [update for update in self.updates if update.seq not in self.hidden_from_chain]
        listed += [update for update in self.updates if update.seq in self.listed_twice_in_chain]
        listed.sort(key=lambda update: update.seq)
        remaining = [update for update in listed if update.seq > after]
        page = remaining[: self.page_size]
        more = len(remaining) > self.page_size
        return {
            "site": SITE,
            "entries": [self.chain_entry(update) for update in page],
            "next": f"{CHAIN_URL}?after={page[-1].seq}" if more else None,
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        by_id = {update.id: update for update in self.updates}
        if path == "/.well-known/statushub/keys.json":
            return httpx.Response(200, json=self.keys_json())
        if path == "/.well-known/statushub/chain.json":
            return httpx.Response(200, json=self.chain_page(int(request.url.params.get("after", "0"))))
        if match := re.fullmatch(r"/\.well-known/statushub/keys/(.+)\.pem", path):
            key = self.key(match[1])
            return httpx.Response(200, text=signing.public_pem(key.public))
        if (match := re.fullmatch(r"/updates/(\w+)(/|\.json|/statement)", path)) and match[1] in by_id:
            update = by_id[match[1]]
            if match[2] == ".json":
                return httpx.Response(200, json=self.update_json(update))
            if match[2] == "/statement":
                return httpx.Response(
                    200, content=update.statement, headers={"Content-Type": "application/octet-stream"}
                )
            return httpx.Response(
                302, headers={"Location": f"{SITE}/incidents/{update.incident}/#update-{update.id}"}
            )
        if re.fullmatch(r"/incidents/\d+/", path):
            return httpx.Response(200, text="<html>incident page</html>")
        return httpx.Response(404, text="Not found")


PRIYA = {"name": "Priya Raman", "title": "VP Engineering"}
MARCO = {"name": "Marco Rossi", "title": "Head of SRE"}


def build_site() -> FakeSite:
    priya = FakeKey(
        signing.generate_private_key(), PRIYA, "2026-01-01T00:00:00Z", revoked="2026-12-01T00:00:00Z"
    )
    marco = FakeKey(signing.generate_private_key(), MARCO, "2026-06-01T00:00:00Z")
    site = FakeSite(keys=[priya, marco])
    site.publish(priya, "We are investigating elevated error rates on **Payments**.", "2026-11-23T09:31:00Z")
    site.publish(
        marco,
        "The cause is a failed database failover; we are rolling back.",
        "2026-11-23T09:58:00Z",
        "identified",
    )
    site.publish(
        priya, "Payments have been working normally since 10:32 UTC.", "2026-11-23T10:40:00Z", "resolved"
    )
    return site


@pytest.fixture
def site() -> Iterator[FakeSite]:
    fake = build_site()
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="status.example").mock(side_effect=fake.handle)
        yield fake


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def final_line(out: str) -> str:
    return out.strip().splitlines()[-1]


# --- verify -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"{SITE}/updates/503/",
        f"{SITE}/updates/503",
        f"{SITE}/updates/503.json",
        f"{SITE}/updates/503/statement",
        f"{SITE}/incidents/7/#update-503",
    ],
)
def test_it_verifies_an_authentic_update_from_any_of_its_urls(site, capsys, url):
    code, out, _ = run(capsys, "verify", url)
    assert code == 0, out
    assert final_line(out) == (
        f"VERIFIED: update 503 (seq 3) on {SITE} was signed by Priya Raman, VP Engineering at 2026-11-23T10:40:00Z"
    )
    assert "\u2718" not in out
    assert out.count("\u2714") == 6
    assert "Author:       Priya Raman, VP Engineering" in out
    assert "Published at: 2026-11-23T10:40:00Z" in out
    assert f"Key:          {site.updates[2].kid}" in out
    assert "chain link: prev matches the sha256 of seq 2 (update 502)" in out
    assert "revoked later, at 2026-12-01T00:00:00Z" in out


def test_it_sends_its_user_agent(site, capsys):
    assert run(capsys, "verify", f"{SITE}/updates/502/")[0] == 0
    assert len(site.requests) == 5
    assert {request.headers["User-Agent"] for request in site.requests} == {"statushub-cli/0.1"}


def test_it_verifies_the_first_update_whose_prev_is_null(site, capsys):
    code, out, _ = run(capsys, "verify", f"{SITE}/updates/501/")
    assert code == 0, out
    assert "first statement of the chain (seq 1, prev null)" in out


def test_it_rejects_a_statement_changed_by_one_byte(site, capsys):
    site.updates[2].statement = site.updates[2].statement.replace(b"10:32", b"10:33")
    code, out, _ = run(capsys, "verify", f"{SITE}/updates/503/")
    assert code == 1
    assert final_line(out).startswith("NOT VERIFIED: the Ed25519 signature does not verify")
    assert "statement_sha256" in out  # the bytes no longer match the published digest either


def test_it_rejects_a_statement_that_is_no_longer_canonical(site, capsys):
    site.updates[2].statement = site.updates[2].statement.replace(b'"v":1', b'"v": 1')
    code, out, _ = run(capsys, "verify", f"{SITE}/updates/503/")
    assert code == 1
    assert final_line(out).startswith("NOT VERIFIED: statement is not a valid canonical statement")
    assert "canonical form" in final_line(out)


def test_it_rejects_a_wrong_signature(site, capsys):
    site.updates[2].signature = site.updates[0].signature  # a genuine signature, but of another statement
    code, out, _ = run(capsys, "verify", f"{SITE}/updates/503/")
    assert code == 1
    assert "signature does not verify" in final_line(out)


def test_it_rejects_a_signature_that_is_not_base64_of_64_bytes(site, capsys):
    site.updates[2].signature = base64.b64encode(b"too short").decode()
    code, out, _ = run(capsys, "verify", f"{SITE}/updates/503/")
    assert code == 1
    assert "signature is unusable" in final_line(out)


def test_it_rejects_an_update_published_after_its_key_was_revoked(site, capsys):
    site.keys[0].revoked = "2026-11-23T10:00:00Z"
    code, out, _ = run(capsys, "verify", f"{SITE}/updates/503/")
    assert code == 1
    assert final_line(out) == (
        f"NOT VERIFIED: key {site.keys[0].kid} was revoked at 2026-11-23T10:00:00Z, "
        "before the update was published at 2026-11-23T10:40:00Z"
    )


def test_an_update_published_before_its_key_was_revoked_still_verifies(site, capsys):
    site.keys[0].revoked = "2026-11-23T10:40:01Z"
    assert run(capsys, "verify", f"{SITE}/updates/503/")[0] == 0


def test_it_rejects_an_update_published_before_its_key_was_created(site, capsys):
    site.keys[1].created = "2026-11-24T00:00:00Z"
    code, out, _ = run(capsys, "verify", f"{SITE}/updates/502/")
    assert code == 1
    assert "was created at 2026-11-24T00:00:00Z, after the update's published_at" in final_line(out)


def test_it_rejects_an_update_signed_by_a_key_the_site_does_not_list(site, capsys):
    marco = site.keys.pop(1)
    code, out, _ = run(capsys, "verify", f"{SITE}/updates/502/")
    assert code == 1
    assert final_line(out) == f"NOT VERIFIED: key {marco.kid} is not listed in {KEYS_URL}"


def test_it_rejects_an_update_whose_prev_does_not_link_to_the_previous_statement(site, capsys):
    site.rewrite(2, prev="0" * 64)
    code, out, _ = run(capsys, "verify", f"{SITE}/updates/503/")
    assert code == 1
    assert final_line(out).startswith("NOT VERIFIED: chain link broken: prev is 0000000000000000")
    assert "statement with seq 2 (update 502)" in final_line(out)


def test_it_rejects_a_later_update_that_claims_to_start_the_chain(site, capsys):
    site.rewrite(2, prev=None)
    code, out, _ = run(capsys, "verify", f"{SITE}/updates/503/")
    assert code == 1
    assert "chain link broken: prev is null but seq is 3" in final_line(out)


def test_it_rejects_a_statement_served_for_another_update(site, capsys):
    site.updates[2].statement = site.updates[1].statement
    code, out, _ = run(capsys, "verify", f"{SITE}/updates/503/")
    assert code == 1
    assert "the statement is for update 502, not update 503" in out


def test_it_explains_when_the_site_cannot_be_reached(capsys):
    with respx.mock() as mock:
        mock.route(host="status.example").mock(side_effect=httpx.ConnectError("connection refused"))
        code, out, err = run(capsys, "verify", f"{SITE}/updates/503/")
    assert code == 2
    assert "VERIFIED" not in out
    assert "could not fetch https://status.example/updates/503.json: ConnectError: connection refused" in err


def test_it_explains_an_http_error(site, capsys):
    code, _, err = run(capsys, "verify", f"{SITE}/updates/999/")
    assert code == 2
    assert "HTTP 404" in err


def test_it_refuses_a_url_that_is_not_an_update_url(capsys):
    code, _, err = run(capsys, "verify", f"{SITE}/incidents/7/")
    assert code == 2
    assert "is not an update URL" in err


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://status.example/updates/42/", ("https://status.example", "42")),
        ("https://example.com/status/updates/42.json", ("https://example.com/status", "42")),
        ("https://status.example/updates/abc-1/statement", ("https://status.example", "abc-1")),
        ("https://status.example/incidents/9/#update-42", ("https://status.example", "42")),
        ("http://localhost:8000/updates/42/?utm=x", ("http://localhost:8000", "42")),
    ],
)
def test_update_urls_give_the_site_and_the_update_id(url, expected):
    assert cli.parse_update_url(url) == expected


# --- verify-chain -------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [500, 2, 1])
def test_an_intact_chain_verifies_across_pages(site, capsys, page_size):
    site.page_size = page_size
    code, out, _ = run(capsys, "verify-chain", SITE + "/")
    assert code == 0, out
    assert out.strip() == f"CHAIN INTACT: 3 updates, head {site.updates[2].sha256[:16]}"


def test_a_missing_sequence_number_breaks_the_chain(site, capsys):
    site.hidden_from_chain = {2}
    code, out, _ = run(capsys, "verify-chain", SITE)
    assert code == 1
    assert "gap in the chain: seq 2 missing before seq 3" in out
    assert final_line(out) == "CHAIN BROKEN: 1 problem(s)"


def test_a_rewritten_middle_statement_breaks_the_link_from_the_next_one(site, capsys):
    original = site.updates[1].sha256
    rewritten = site.rewrite(1, body="Nothing was wrong with the database.")
    code, out, _ = run(capsys, "verify-chain", SITE)
    assert code == 1
    problems = [line for line in out.splitlines() if line.startswith("\u2718")]
    assert problems == [
        f"\u2718 seq 3: prev {original[:16]}… does not match the sha256 of seq 2 ({rewritten.sha256[:16]}…): "
        "the chain is broken, seq 2 was changed or replaced"
    ]
    assert final_line(out) == "CHAIN BROKEN: 1 problem(s)"


def test_a_duplicate_sequence_number_is_reported(site, capsys):
    site.listed_twice_in_chain = {2}
    code, out, _ = run(capsys, "verify-chain", SITE)
    assert code == 1
    assert "seq 2: duplicate entry" in out


def test_a_digest_that_does_not_match_the_statement_is_reported(site, capsys):
    site.updates[0].sha256 = "f" * 64
    code, out, _ = run(capsys, "verify-chain", SITE)
    assert code == 1
    assert "seq 1: chain.json sha256 ffffffffffffffff… does not match the statement bytes" in out


def test_bad_signatures_unknown_keys_and_revoked_keys_are_all_reported(site, capsys):
    site.updates[0].signature = site.updates[1].signature
    site.keys[0].revoked = "2026-11-23T10:00:00Z"
    site.keys.pop(1)
    code, out, _ = run(capsys, "verify-chain", SITE)
    assert code == 1
    assert "seq 1: bad signature" in out
    assert "seq 2: unknown key" in out
    assert "seq 3: key" in out
    assert "was revoked at 2026-11-23T10:00:00Z" in out
    assert final_line(out) == "CHAIN BROKEN: 3 problem(s)"


def test_long_chains_show_progress_on_stderr(site, capsys):
    for number in range(117):
        site.publish(site.keys[1], f"Update {number}.", "2026-11-24T09:00:00Z", "monitoring")
    code, out, err = run(capsys, "verify-chain", SITE)
    assert code == 0, out
    assert "CHAIN INTACT: 120 updates" in out
    assert "checked 50/… (seq 50)" in err
    assert "checked 100/… (seq 100)" in err
    assert "checked 120 entries" in err


def test_verify_chain_explains_when_the_site_cannot_be_reached(capsys):
    with respx.mock() as mock:
        mock.route(host="status.example").mock(return_value=httpx.Response(503))
        code, out, err = run(capsys, "verify-chain", SITE)
    assert code == 2
    assert "CHAIN" not in out
    assert "HTTP 503" in err


# --- offline keys: keygen and sign --------------------------------------------------------------


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


# --- the program itself -------------------------------------------------------------------------


def test_usage_errors_return_the_argparse_exit_code(capsys):
    assert cli.main([]) == 2
    assert cli.main(["--help"]) == 0
    assert "verify-chain" in capsys.readouterr().out


@pytest.mark.parametrize("module", ["statushub/cli.py", "statushub/lib/signing.py"])
def test_the_cli_and_library_import_nothing_from_django_or_the_server(module):
    tree = ast.parse((Path(__file__).resolve().parent.parent / module).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] in {"django", "incidents", "people"}}


def test_it_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "statushub.cli", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "keygen" in result.stdout
