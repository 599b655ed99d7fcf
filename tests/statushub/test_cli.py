"""The ``statushub`` CLI's ``verify`` and ``verify-chain`` against a fake site that serves the wire format
(docs/signing-wire-format.md; see ``tests/statushub/test_cli_helpers.py``)."""

import ast
import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from statushub import cli
from tests.statushub.test_cli_helpers import KEYS_URL, SITE, FakeSite, build_site, final_line, run

ROOT = Path(__file__).resolve().parents[2]
CLI_MODULES = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "statushub" / "cli").glob("*.py"))


@pytest.fixture
def site() -> Iterator[FakeSite]:
    fake = build_site()
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="status.example").mock(side_effect=fake.handle)
        yield fake


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


# --- the program itself -------------------------------------------------------------------------


def test_usage_errors_return_the_argparse_exit_code(capsys):
    assert cli.main([]) == 2
    assert cli.main(["--help"]) == 0
    assert "verify-chain" in capsys.readouterr().out


@pytest.mark.parametrize("module", [*CLI_MODULES, "statushub/lib/signing.py"])
def test_the_cli_and_library_import_nothing_from_django_or_the_server(module):
    tree = ast.parse((ROOT / module).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] in {"django", "incidents", "people"}}


def test_it_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "statushub.cli", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "keygen" in result.stdout
