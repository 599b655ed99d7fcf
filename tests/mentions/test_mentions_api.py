"""/api/v1/mentions and /api/v1/mention-sources, as a script holding a personal token uses them."""

import pytest
import respx

from mentions.models import Mention, MentionSource
from people import tokens

pytestmark = pytest.mark.django_db


def _h(user, *scopes):
    _row, token = tokens.token_create(owner=user, name="script", scopes=list(scopes))
    return {"Authorization": f"Bearer {token}"}


def test_a_mention_entered_through_the_api_is_scored_and_a_second_entry_is_not_stored(client, communicator):
    headers = _h(communicator, "mentions:write", "mentions:read")
    body = {"text": "I was double-billed and nobody answers. Refund me or I'll sue.", "author_handle": "li",
            "service": "reddit", "url": "https://reddit.example/r/1", "remote_id": "t3_1", "followers": 0}  # fmt: skip

    first = client.post("/api/v1/mentions", body, content_type="application/json", headers=headers)
    again = client.post("/api/v1/mentions", body, content_type="application/json", headers=headers)

    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and Mention.objects.count() == 1
    doc = first.json()
    assert doc["sentiment"] < 0 and set(doc["cues"]) >= {"legal", "refund", "persistence"}
    assert doc["priority"] > 40 and "mentions legal action" in doc["priority_reasons"]
    assert doc["incident_id"] is None and doc["customer_id"] is None


def test_mentions_are_listed_most_urgent_first_with_filters(client, communicator):
    headers = _h(communicator, "mentions:write", "mentions:read")
    for text in [
        "Is checkout down?",
        "Checkout DOWN again, going to blog about this",
        "Thanks, working now!",
    ]:
        client.post("/api/v1/mentions", {"text": text}, content_type="application/json", headers=headers)

    listed = client.get("/api/v1/mentions", headers=headers).json()
    urgent = client.get("/api/v1/mentions?priority=30", headers=headers).json()

    assert listed["items"][0]["text"] == "Checkout DOWN again, going to blog about this"
    assert listed["count"] == 3 and urgent["count"] == 1
    bad = client.get("/api/v1/mentions?state=sideways", headers=headers)
    assert bad.status_code == 422


def test_an_engineer_cannot_read_mentions(client, engineer):
    response = client.get("/api/v1/mentions", headers=_h(engineer, "incidents:read"))
    assert response.status_code == 403


def test_a_publisher_adds_a_feed_and_polls_it_now(client, publisher):
    headers = _h(publisher, "sources:write", "mentions:read")
    created = client.post(
        "/api/v1/mention-sources",
        {"kind": "rss", "name": "Google Alerts", "url": "https://alerts.example/f"},
        content_type="application/json",
        headers=headers,
    )
    assert created.status_code == 201, created.content
    source_id = created.json()["id"]
    with respx.mock() as mock:
        mock.get("https://alerts.example/f").respond(500)
        polled = client.post(f"/api/v1/mention-sources/{source_id}/poll", headers=headers)

    assert polled.status_code == 200
    assert polled.json()["error"] and polled.json()["source"]["failures"] == 1
    assert [s["name"] for s in client.get("/api/v1/mention-sources", headers=headers).json()] == [
        "Google Alerts"
    ]
    missing = client.post("/api/v1/mention-sources", {"kind": "rss", "name": "x"}, content_type="application/json",
                          headers=headers)  # fmt: skip
    assert missing.status_code == 422
    MentionSource.objects.filter(pk=source_id).update(enabled=False)
    assert client.post(f"/api/v1/mention-sources/{source_id}/poll", headers=headers).status_code == 409


def test_a_reply_drafted_through_the_api_waits_for_a_person_and_is_checked(client, communicator):
    headers = _h(communicator, "mentions:write", "mentions:read")
    created = client.post(
        "/api/v1/mentions",
        {"text": "Checkout down, refund me"},
        content_type="application/json",
        headers=headers,
    ).json()

    drafted = client.post(
        f"/api/v1/mentions/{created['id']}/replies",
        {"text": "Sorry! We will refund you right away."},
        content_type="application/json",
        headers=headers,
    )

    assert drafted.status_code == 201
    body = drafted.json()
    assert body["sent"] is False and [f["kind"] for f in body["tone"]["flags"]] == ["negotiation"]
    mention = Mention.objects.get(pk=created["id"])
    assert mention.reply_draft == "Sorry! We will refund you right away." and mention.state == "new"
    assert not mention.replies.exists()
    client.force_login(communicator)
    page = client.get(f"/manage/mentions/{mention.pk}/").content.decode()
    assert "Sorry! We will refund you right away." in page and "review it, then send" in page
