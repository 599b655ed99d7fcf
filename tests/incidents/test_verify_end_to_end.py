"""Verify published updates from a running server with the real CLI and with openssl, over loopback."""

import subprocess
import sys
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from incidents import services, signing
from incidents.models import IncidentUpdate
from statushub.lib import signing as lib

pytestmark = pytest.mark.django_db(transaction=True)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "statushub.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def site(live_server, settings, make_incident, publisher):
    settings.STATUSHUB_SITE_URL = live_server.url
    incident = make_incident("Payments failing", public=False)
    for n, status in enumerate(["investigating", "identified", "monitoring"]):
        services.update_publish(
            incident=incident, author=publisher, status=status, body=f"Update {n}.",
            at=timezone.now() - timedelta(seconds=3 - n),
        )  # fmt: skip
    return live_server.url


def _updates():
    return list(IncidentUpdate.objects.order_by("seq"))


def test_the_cli_verifies_a_published_update(site):
    update = _updates()[-1]
    result = _cli("verify", f"{site}/updates/{update.public_id}/")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERIFIED" in result.stdout
    assert "Priya Raman" in result.stdout


def test_openssl_verifies_a_published_update_with_the_public_files(site, tmp_path):
    update = _updates()[0]
    document = httpx.get(f"{site}/updates/{update.public_id}.json").json()
    (tmp_path / "statement.bin").write_bytes(httpx.get(document["statement_url"]).content)
    (tmp_path / "sig.bin").write_bytes(lib.b64decode_signature(document["signature"]))
    (tmp_path / "key.pem").write_bytes(
        httpx.get(f"{site}/.well-known/statushub/keys/{document['kid']}.pem").content
    )
    command = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "key.pem", "-rawin", "-in", "statement.bin",
               "-sigfile", "sig.bin"]  # fmt: skip
    ok = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "Signature Verified Successfully" in ok.stdout

    tampered = bytearray((tmp_path / "statement.bin").read_bytes())
    tampered[40] ^= 1
    (tmp_path / "statement.bin").write_bytes(bytes(tampered))
    bad = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert bad.returncode != 0


def test_changing_one_byte_of_a_stored_statement_fails_verification(site):
    update = _updates()[1]
    tampered = bytearray(bytes(update.statement))
    tampered[-20] = ord("X") if tampered[-20] != ord("X") else ord("Y")
    IncidentUpdate.objects.filter(pk=update.pk).update(statement=bytes(tampered))

    result = _cli("verify", f"{site}/updates/{update.public_id}/")

    assert result.returncode == 1
    assert "NOT VERIFIED" in result.stdout


def test_a_swapped_signature_fails_verification(site):
    first, second, _ = _updates()
    IncidentUpdate.objects.filter(pk=second.pk).update(signature=first.signature)
    result = _cli("verify", f"{site}/updates/{second.public_id}/")
    assert result.returncode == 1
    assert "signature" in result.stdout.lower()


def test_the_whole_chain_verifies_and_a_deleted_update_is_detected(site):
    intact = _cli("verify-chain", site)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "CHAIN INTACT: 3 updates" in intact.stdout

    IncidentUpdate.objects.filter(pk=_updates()[1].pk).delete()
    broken = _cli("verify-chain", site)
    assert broken.returncode == 1
    assert "CHAIN BROKEN" in broken.stdout


def test_updates_signed_before_a_rotation_stay_valid_and_later_ones_use_the_new_key(
    site, publisher, settings
):
    old_key = signing.active_key(publisher)
    assert old_key is not None
    new_key = signing.key_rotate(owner=publisher)
    incident = _updates()[0].incident
    later = services.update_publish(incident=incident, author=publisher, status="resolved", body="Fixed.")
    assert later.signing_key == new_key
    old_key.refresh_from_db()
    assert old_key.revoked_at is not None

    for update in _updates():
        result = _cli("verify", f"{site}/updates/{update.public_id}/")
        assert result.returncode == 0, result.stdout
    keys = httpx.get(f"{site}/.well-known/statushub/keys.json").json()["keys"]
    assert {k["kid"]: bool(k["revoked"]) for k in keys} == {old_key.kid: True, new_key.kid: False}


def test_a_key_revoked_before_an_update_was_published_fails_verification(site, publisher):
    update = _updates()[-1]
    key = signing.active_key(publisher)
    assert key is not None
    signing.key_revoke(
        key=key, by=publisher, reason="laptop stolen", at=update.published_at - timedelta(seconds=1)
    )

    result = _cli("verify", f"{site}/updates/{update.public_id}/")

    assert result.returncode == 1
    assert "revoked" in result.stdout.lower()
