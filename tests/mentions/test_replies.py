"""Answering a mention as a person: a saved reply filled in, the tone guard, one voice, and the reply sent by the
delivery engine (dry run here) only when someone presses Send."""

import pytest
from django.urls import reverse
from django.utils import timezone

from channels import engine
from channels.models import Channel, Delivery
from incidents.models import IncidentRole
from mentions import services
from mentions.models import Mention, MentionReply, SavedReply
from people.models import AuditEvent
from people.services import profile_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def mention():
    (m,) = services.ingest(
        [
            services.Incoming(
                service="mastodon",
                remote_id="109",
                text="Checkout down AGAIN. Refund me.",
                author_handle="li@fosstodon.example",
                author_name="Li",
                author_id="77",
                url="https://fosstodon.example/@li/109",
                posted_at=timezone.now(),
            )
        ]
    )
    return m


@pytest.fixture
def brand_mastodon(db):
    return Channel.objects.create(
        kind="mastodon", name="Northwind on Mastodon", dry_run=True, config={"instance": "https://m.example"}
    )


def test_the_take_it_offline_reply_is_filled_from_the_replier_and_the_mention(client, communicator, mention):
    profile = profile_for(communicator)
    profile.title, profile.work_email = "Communications lead", "sam@northwind.example"
    profile.save()
    client.force_login(communicator)
    saved = SavedReply.objects.get(kind="offline")

    page = client.get(reverse("manage:mention", args=[mention.pk]) + f"?saved={saved.pk}").content.decode()

    assert (
        "Hi Li, I&#x27;m Sam Okafor, Communications lead at StatusHub. I&#x27;m sorry for the frustration"
        in page
    )
    assert "write to me at sam@northwind.example" in page
    assert "Tone check: nothing to flag." in page  # the saved replies pass the guard


def test_a_reply_is_sent_by_the_engine_when_a_person_presses_send(
    client, communicator, mention, brand_mastodon, eager
):
    client.force_login(communicator)
    text = "Hi Li, I'm Sam at Northwind. Sorry for the trouble: could you send me a private message?"

    client.post(
        reverse("manage:mention-reply", args=[mention.pk]), {"text": text, "kind": "reply", "action": "send"}
    )

    reply = MentionReply.objects.get()
    assert reply.sent_by == communicator and reply.body == text and reply.kind == "reply"
    assert reply.delivery is not None and reply.delivery.channel == brand_mastodon
    assert reply.delivery.kind == Delivery.Kind.REPLY and reply.delivery.to["id"] == "109"
    engine.delivery_attempt(reply.delivery.pk)  # what the worker does with it
    reply.delivery.refresh_from_db()
    assert reply.delivery.state == Delivery.State.DELIVERED and reply.delivery.dry_run
    mention.refresh_from_db()
    assert mention.state == "answered" and mention.first_response_at is not None
    page = client.get(reverse("manage:mention", args=[mention.pk])).content.decode()
    assert 'data-delivery-state="delivered"' in page


def test_checking_the_tone_sends_nothing(client, communicator, mention, brand_mastodon):
    client.force_login(communicator)

    page = client.post(
        reverse("manage:mention-reply", args=[mention.pk]),
        {"text": "We will refund you personally, I promise.", "action": "check"},
    ).content.decode()

    assert 'data-tone-kind="negotiation"' in page
    assert not MentionReply.objects.exists() and not Delivery.objects.exists()


def test_a_flagged_reply_needs_a_reason_which_the_audit_log_keeps(
    client, communicator, mention, brand_mastodon
):
    client.force_login(communicator)
    url = reverse("manage:mention-reply", args=[mention.pk])
    heated = "Obviously this is user error, not our fault!!!"

    client.post(url, {"text": heated, "kind": "reply", "action": "send"})
    assert not MentionReply.objects.exists()
    client.post(
        url, {"text": heated, "kind": "reply", "action": "send", "tone_override": "1", "tone_reason": "ok"}
    )

    assert MentionReply.objects.get().body == heated
    assert AuditEvent.objects.get(action="reply_tone_override").data["reason"] == "ok"


def test_one_voice_for_a_mention_linked_to_an_incident(
    client, communicator, mention, brand_mastodon, make_incident
):
    incident = make_incident("Checkout failing", public=False)
    Mention.objects.filter(pk=mention.pk).update(incident=incident)
    IncidentRole.objects.create(incident=incident, user=communicator, role="secondary_communicator")
    client.force_login(communicator)
    text = "Hi Li, sorry for the trouble, we are on it."

    refused = client.post(
        reverse("manage:mention-reply", args=[mention.pk]), {"text": text, "action": "send"}
    )
    assert refused.status_code == 403 and not MentionReply.objects.exists()

    IncidentRole.objects.filter(incident=incident).update(role="primary_communicator")
    client.post(reverse("manage:mention-reply", args=[mention.pk]), {"text": text, "action": "send"})
    assert MentionReply.objects.count() == 1


def test_without_a_connected_account_the_answer_is_recorded_by_hand(client, communicator, mention):
    client.force_login(communicator)
    url = reverse("manage:mention-reply", args=[mention.pk])

    page = client.post(url, {"text": "Called Li back.", "kind": "reply", "action": "send"}, follow=True)
    assert "No Mastodon account is connected to answer from" in page.content.decode()
    client.post(
        url, {"text": "Called Li back, refund confirmed by phone.", "kind": "by_hand", "action": "send"}
    )

    reply = MentionReply.objects.get()
    assert reply.kind == "by_hand" and reply.delivery is None
