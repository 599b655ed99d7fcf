"""The demo story: its subscriber receives the next published update (not the seeded history), a staff
member reads it in the outbox, and one click unsubscribes them."""

import html
import re

import pytest
from django.core.management import call_command

from incidents import services as incident_services
from incidents.models import Incident
from subscribers.models import MailDelivery, Subscriber

pytestmark = pytest.mark.django_db


@pytest.fixture
def file_mail(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "mail"
    return settings.EMAIL_FILE_PATH


def test_the_demo_subscriber_gets_the_next_publish_and_unsubscribes_from_the_outbox(
    client, eager, file_mail, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the seeded publishes fan out, as in the demo
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    alex = Subscriber.objects.get()
    assert (alex.email, alex.state) == ("alex@customer.example", "active")
    assert not MailDelivery.objects.exists()  # none of the seeded history

    incident = Incident.objects.get(title="Some customers charged twice on renewal")
    with django_capture_on_commit_callbacks(execute=True):
        incident_services.update_publish(
            incident=incident, author=incident.updates.get(status="identified").author, status="monitoring",
            body="The fix is live; refunds are on their way.",
        )  # fmt: skip

    assert client.get("/subscribe/outbox/").status_code == 302  # staff only
    client.post(
        "/admin/login/", {"username": "sam", "password": "northwind-demo"}
    )  # the real form (axes needs it)
    outbox = client.get("/subscribe/outbox/")
    assert outbox.status_code == 200
    content = outbox.content.decode()
    assert "[StatusHub] Some customers charged twice on renewal" in content
    assert "The fix is live; refunds are on their way." in content
    found = re.search(r'<form method="post" action="([^"]+)"', content)
    assert found
    one_click = html.unescape(found.group(1))
    assert one_click.startswith("http://localhost:8000/subscribe/unsubscribe/")

    client.logout()
    response = client.post(one_click.removeprefix("http://localhost:8000"), {"List-Unsubscribe": "One-Click"})

    alex.refresh_from_db()
    assert response.status_code == 200 and alex.state == "unsubscribed"


def test_the_outbox_says_so_when_mail_goes_to_a_real_server(admin_client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"

    response = admin_client.get("/subscribe/outbox/")

    assert response.status_code == 200 and b"real mail backend" in response.content


def test_the_publishers_deliveries_page_counts_subscriber_mails(client, publisher, make_incident):
    from django.urls import reverse
    from django.utils import timezone

    subscriber = Subscriber.objects.create(email="reader@example.org", confirmed_at=timezone.now())
    update = incident_services.update_publish(
        incident=make_incident(public=False), author=publisher, status="identified", body="Found it."
    )
    MailDelivery.objects.create(update=update, subscriber=subscriber, state="sent", message_id="<m@x>")
    client.force_login(publisher)
    page = client.get(reverse("manage:deliveries", args=[update.public_id])).content.decode()
    assert "E-mail subscribers: sent <strong>1</strong>" in page
