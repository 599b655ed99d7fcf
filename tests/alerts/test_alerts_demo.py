"""The demo's alert source: the README's curl (an Alertmanager notification) opens a draft incident."""

import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from incidents.models import Component, Incident, UpdateDraft

pytestmark = pytest.mark.django_db

# The body of the README's curl command, with the time it would put in.
README_BODY = """{"version": "4", "groupKey": "{}:{alertname=\\"InvoiceRenderFailures\\"}", "status": "firing",
 "receiver": "statushub", "groupLabels": {"alertname": "InvoiceRenderFailures"}, "commonLabels": {},
 "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
 "alerts": [{"status": "firing", "fingerprint": "5f3a9c1e7b2d4a60",
   "labels": {"alertname": "InvoiceRenderFailures", "service": "invoicing", "severity": "critical"},
   "annotations": {"summary": "Invoice PDFs failing for 12% of requests"},
   "startsAt": "STARTS", "endsAt": "0001-01-01T00:00:00Z",
   "generatorURL": "http://prometheus:9090/graph?g0.expr=invoice_render_errors"}]}"""


def test_the_readme_curl_opens_a_draft_incident_in_the_demo(client):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    before = set(Incident.objects.values_list("pk", flat=True))
    starts = timezone.now().replace(microsecond=0)

    response = client.post(
        "/hooks/alerts/prometheus/",
        README_BODY.replace("STARTS", f"{starts:%Y-%m-%dT%H:%M:%SZ}"),
        content_type="application/json",
        headers={"Authorization": "Bearer shalert_northwind-demo-alerts"},
    )

    assert response.status_code == 200, response.content
    assert response.json()["opened"] is True
    incident = Incident.objects.exclude(pk__in=before).get()
    assert incident.title == "InvoiceRenderFailures: Invoice PDFs failing for 12% of requests"
    assert incident.detected_at == starts and not incident.is_public
    invoicing = Component.objects.get(name="Invoicing")
    assert UpdateDraft.objects.get(incident=incident).component_statuses == {
        str(invoicing.pk): "major_outage"
    }
    assert invoicing.status == "operational"
    assert "InvoiceRenderFailures" not in client.get("/").content.decode()
    unresolved = json.loads(client.get("/api/v2/incidents/unresolved.json").content)["incidents"]
    assert str(incident.pk) not in {entry["id"] for entry in unresolved}
