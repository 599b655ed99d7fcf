"""Keys, the chain and offline signing, on the server side."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from incidents import drafts, signing
from incidents.models import ChainHead, IncidentUpdate, SigningKey, UpdateDraft
from people.models import AuditEvent
from statushub.lib import signing as lib
from tests.helpers import publish

pytestmark = pytest.mark.django_db


def _publish(incident, author, body, seconds=0):
    return publish(incident, author, body, at=timezone.now() + timedelta(seconds=seconds))


def test_updates_form_a_hash_chain_of_signed_canonical_statements(make_incident, publisher, settings):
    settings.STATUSHUB_SITE_URL = "https://status.northwind.example"
    incident = make_incident("API down", body="First.")
    second = _publish(incident, publisher, "Second.", seconds=1)
    first = incident.updates.get(seq=1)

    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_sha256 == ""
    assert second.prev_sha256 == first.statement_sha256 == lib.digest(bytes(first.statement))
    assert ChainHead.objects.get().digest == second.statement_sha256
    statement = bytes(second.statement)
    assert statement.startswith(b"statushub-update-v1\n")
    fields = lib.parse_statement(statement)
    assert fields == {
        "v": 1, "kid": second.signing_key.kid, "site": "https://status.northwind.example",
        "incident": str(incident.pk), "update": second.public_id, "seq": 2, "status": "identified",
        "impact": "major", "components": [], "body": "Second.",
        "author": {"name": "Priya Raman", "title": ""}, "published_at": lib.format_time(second.published_at),
        "corrects": None, "prev": first.statement_sha256,
    }  # fmt: skip
    assert lib.verify(
        bytes(second.signing_key.public_key), lib.b64decode_signature(second.signature), statement
    )


def test_a_publishers_key_is_made_on_first_use_and_kept_encrypted(make_incident, publisher, settings):
    make_incident()
    key = SigningKey.objects.get(owner=publisher)
    assert key.encrypted_private_key
    assert bytes(key.public_key).hex() not in key.encrypted_private_key
    private = lib.decrypt_private_key(key.encrypted_private_key, settings.STATUSHUB_KEY_ENCRYPTION_KEYS)
    assert lib.public_key_bytes(private) == bytes(key.public_key)
    assert AuditEvent.objects.filter(action="key_created", actor=publisher, target=key.kid).exists()


def test_the_key_encryption_key_can_be_rotated(make_incident, publisher, settings):
    make_incident()
    old = list(settings.STATUSHUB_KEY_ENCRYPTION_KEYS)
    new = lib.new_encryption_key()
    settings.STATUSHUB_KEY_ENCRYPTION_KEYS = [new, *old]

    call_command("rotate_key_encryption", stdout=open("/dev/null", "w"))  # noqa: SIM115

    key = SigningKey.objects.get(owner=publisher)
    settings.STATUSHUB_KEY_ENCRYPTION_KEYS = [new]
    lib.decrypt_private_key(key.encrypted_private_key, [new])
    with pytest.raises(lib.KeyEncryptionError):
        lib.decrypt_private_key(key.encrypted_private_key, old)
    first_update = key.updates.first()
    assert first_update is not None
    assert _publish(first_update.incident, publisher, "Still signing after rotation.", seconds=1).signature


def test_after_revocation_the_next_publish_gets_a_fresh_key(make_incident, publisher):
    incident = make_incident()
    first_key = signing.active_key(publisher)
    assert first_key is not None
    signing.key_revoke(key=first_key, by=publisher, reason="laptop lost")
    later = _publish(incident, publisher, "After revocation.", seconds=2)
    assert later.signing_key != first_key
    first_key.refresh_from_db()
    assert first_key.revoked_reason == "laptop lost"
    assert AuditEvent.objects.filter(action="key_revoked", target=first_key.kid).exists()


def test_an_offline_key_signs_a_frozen_statement(make_incident, publisher):
    incident = make_incident("Offline signing", public=False)
    private = lib.generate_private_key()
    key = signing.key_register_public(owner=publisher, pem=lib.public_pem(lib.public_key_bytes(private)))
    draft = UpdateDraft.objects.create(
        incident=incident, status="investigating", body="Signed on my laptop.", created_by=publisher,
        last_edited_by=publisher,
    )  # fmt: skip
    with pytest.raises(signing.SigningError, match="offline"):
        _publish(incident, publisher, "Online attempt")

    statement = drafts.draft_prepare_offline(draft=draft, user=publisher)
    signature = lib.b64encode_signature(lib.sign(private, statement))
    update = drafts.draft_publish(draft=draft, user=publisher, offline_signature=signature)

    assert bytes(update.statement) == statement
    assert update.signing_key == key
    assert AuditEvent.objects.filter(action="key_registered").exists()


def test_an_offline_signature_is_refused_if_the_chain_moved_or_the_bytes_differ(
    make_incident, publisher, communicator
):
    incident = make_incident("Offline", public=False)
    private = lib.generate_private_key()
    signing.key_register_public(owner=publisher, pem=lib.public_pem(lib.public_key_bytes(private)))
    draft = UpdateDraft.objects.create(
        incident=incident,
        status="investigating",
        body="Words.",
        created_by=publisher,
        last_edited_by=publisher,
    )
    statement = drafts.draft_prepare_offline(draft=draft, user=publisher)

    with pytest.raises(signing.SigningError, match="not a signature"):
        drafts.draft_publish(draft=draft, user=publisher, offline_signature="not base64!!")
    wrong = lib.b64encode_signature(lib.sign(lib.generate_private_key(), statement))
    with pytest.raises(signing.SigningError, match="does not match"):
        drafts.draft_publish(draft=draft, user=publisher, offline_signature=wrong)

    # Someone else publishes meanwhile: the frozen statement no longer extends the chain.
    ChainHead.objects.update(seq=99, digest="0" * 64)
    good = lib.b64encode_signature(lib.sign(private, statement))
    with pytest.raises(signing.SigningError, match="Another update was published"):
        drafts.draft_publish(draft=draft, user=publisher, offline_signature=good)
    assert not IncidentUpdate.objects.filter(incident=incident).exists()


def test_only_publishers_can_publish_even_when_calling_the_service(make_incident, communicator):
    incident = make_incident(public=False)
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        _publish(incident, communicator, "I am not allowed")


def test_the_public_verification_endpoints_serve_exact_bytes_and_a_jwks(client, make_incident, publisher):
    incident = make_incident()
    update = incident.updates.get()
    key = update.signing_key

    statement = client.get(reverse("status:update-statement", args=[update.public_id]))
    assert statement.content == bytes(update.statement)
    assert statement["Content-Type"] == "application/octet-stream"
    assert not statement.cookies

    document = client.get(reverse("status:update-json", args=[update.public_id])).json()
    assert document["signature"] == update.signature
    assert document["kid"] == key.kid
    assert document["statement_url"].endswith(f"/updates/{update.public_id}/statement")

    jwks = client.get(reverse("status:keys")).json()
    assert jwks["keys"] == [
        {
            "kty": "OKP", "crv": "Ed25519", "x": lib.public_jwk(bytes(key.public_key))["x"], "kid": key.kid,
            "use": "sig", "alg": "EdDSA", "owner": {"name": "Priya Raman", "title": ""},
            "created": lib.format_time(key.created_at), "revoked": None,
        }
    ]  # fmt: skip
    pem = client.get(reverse("status:key-pem", args=[key.kid])).content
    assert lib.public_raw_from_pem(pem) == bytes(key.public_key)

    redirect = client.get(reverse("status:update", args=[update.public_id]))
    assert redirect["Location"] == f"/incidents/{incident.pk}/#update-{update.public_id}"


def test_the_chain_listing_pages_in_sequence_order(client, make_incident, publisher, monkeypatch):
    from incidents import verify_views

    monkeypatch.setattr(verify_views, "CHAIN_PAGE", 2)
    incident = make_incident()
    for n in range(1, 4):
        _publish(incident, publisher, f"Update {n}", seconds=n)

    first = client.get(reverse("status:chain")).json()
    assert [e["seq"] for e in first["entries"]] == [1, 2]
    assert first["next"].endswith("/.well-known/statushub/chain/2.json")  # a path: static exports hold it too
    second = client.get(reverse("status:chain-page", args=[2])).json()
    assert [e["seq"] for e in second["entries"]] == [3, 4]
    assert client.get(reverse("status:chain") + "?after=2").json() == second  # the older address still works
    assert second["entries"][0]["prev"] == first["entries"][1]["sha256"]
    assert client.get(reverse("status:chain") + "?after=x").status_code == 400


def test_the_incident_json_carries_each_updates_signature(client, make_incident, publisher):
    incident = make_incident("API down", body="Looking.")
    _publish(incident, publisher, "Found it.", seconds=1)
    document = client.get(reverse("status:incident-json", args=[incident.pk])).json()
    bodies = [u["body"] for u in document["incident_updates"]]
    assert bodies == ["Found it.", "Looking."]
    for entry in document["incident_updates"]:
        update = IncidentUpdate.objects.get(public_id=entry["id"])
        assert update.signing_key is not None
        assert (entry["signature"], entry["kid"]) == (
            update.signing_key and update.signature,
            update.signing_key.kid,
        )
        assert entry["statement_url"].endswith(f"/updates/{update.public_id}/statement")
    draft = make_incident("Not public yet", public=False)
    assert client.get(reverse("status:incident-json", args=[draft.pk])).status_code == 404


def test_a_revoked_offline_key_cannot_publish_a_statement_prepared_before(make_incident, publisher):
    incident = make_incident("Offline", public=False)
    private = lib.generate_private_key()
    key = signing.key_register_public(owner=publisher, pem=lib.public_pem(lib.public_key_bytes(private)))
    draft = UpdateDraft.objects.create(
        incident=incident,
        status="investigating",
        body="Words.",
        created_by=publisher,
        last_edited_by=publisher,
    )
    statement = drafts.draft_prepare_offline(draft=draft, user=publisher)
    signature = lib.b64encode_signature(lib.sign(private, statement))
    signing.key_revoke(key=key, by=publisher, reason="stolen")

    with pytest.raises(signing.SigningError):
        drafts.draft_publish(draft=draft, user=publisher, offline_signature=signature)
    assert not IncidentUpdate.objects.filter(incident=incident).exists()


def test_revoking_a_key_changes_the_keys_etag(
    client, make_incident, publisher, django_capture_on_commit_callbacks
):
    make_incident()
    first = client.get(reverse("status:keys"))
    key = signing.active_key(publisher)
    assert key is not None
    with django_capture_on_commit_callbacks(execute=True):
        signing.key_revoke(key=key, by=publisher, reason="rotated")
    again = client.get(reverse("status:keys"), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200
    assert again.json()["keys"][0]["revoked"] is not None
