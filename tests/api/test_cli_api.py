"""``statushub note`` and ``statushub incident`` against a running server, with real tokens: no mocks."""

import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from incidents.models import Component, Incident, ProgressNote
from people import tokens
from people.models import ApiToken
from statushub import cli

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(live_server, settings, monkeypatch):
    settings.STATUSHUB_SITE_URL = live_server.url
    monkeypatch.setenv("STATUSHUB_URL", live_server.url)
    monkeypatch.delenv("STATUSHUB_TOKEN", raising=False)
    return live_server.url


def _use_token(monkeypatch, user, *scopes: str) -> ApiToken:
    row, token = tokens.token_create(owner=user, name="terminal", scopes=list(scopes))
    monkeypatch.setenv("STATUSHUB_TOKEN", token)
    return row


def test_an_engineer_posts_a_note_from_the_terminal(server, monkeypatch, capsys, engineer, make_incident):
    incident = make_incident()
    _use_token(monkeypatch, engineer, "notes:write")

    code = cli.main(["note", str(incident.pk), "Rolled back to v41; error rate falling."])

    out, err = capsys.readouterr()
    note = ProgressNote.objects.get()
    assert code == 0, err
    assert out == f"note {note.pk} posted on incident {incident.pk} (internal)\n"
    assert (note.incident, note.author, note.is_public) == (incident, engineer, False)
    assert note.text == "Rolled back to v41; error rate falling."


def test_a_public_note(server, monkeypatch, capsys, engineer, make_incident):
    incident = make_incident()
    _use_token(monkeypatch, engineer, "notes:write")

    assert cli.main(["note", f"#{incident.pk}", "Fixed.", "--public"]) == 0

    assert capsys.readouterr().out.endswith("(public)\n")
    assert ProgressNote.objects.get().is_public


def test_a_communicator_opens_a_draft_incident_from_the_terminal(
    server, monkeypatch, capsys, communicator, make_component
):
    payments = make_component("Payments")
    make_component("API")
    _use_token(monkeypatch, communicator, "incidents:write")

    code = cli.main(
        ["incident", "open", "Card payments failing", "--severity", "SEV2",
         "--component", "payments=major_outage", "--component", "API", "--note", "Since the 14:02 deploy."]
    )  # fmt: skip

    out, err = capsys.readouterr()
    assert code == 0, err
    incident = Incident.objects.get()
    assert (
        out
        == f"incident {incident.pk} opened (draft, not public): {server}/manage/incidents/{incident.pk}/compose/\n"
    )
    assert incident.title == "Card payments failing" and incident.severity == "sev2"
    assert not incident.is_public
    draft = incident.drafts.get()
    assert {Component.objects.get(pk=pk).name: status for pk, status in draft.component_statuses.items()} == {
        "Payments": "major_outage",
        "API": "partial_outage",
    }
    assert not incident.affected.exists()  # proposed only: nothing holds the components until published
    payments.refresh_from_db()
    assert payments.status == "operational"  # public statuses wait for a publisher
    assert incident.notes.get().text == "Since the 14:02 deploy."


def test_incidents_are_listed(server, monkeypatch, capsys, engineer, make_incident):
    incident = make_incident("Search is slow", public=False)
    _use_token(monkeypatch, engineer, "incidents:read")

    assert cli.main(["incident", "list"]) == 0

    out, err = capsys.readouterr()
    assert out == f"#{incident.pk}  SEV2  investigating  (draft)  Search is slow\n"
    assert err == "1 open incident(s)\n"


def test_api_refusals_exit_1_with_the_api_s_message(server, monkeypatch, capsys, engineer, make_component):
    make_component("Payments")
    row = _use_token(monkeypatch, engineer, "notes:write")

    assert cli.main(["incident", "open", "Down", "--severity", "sev1"]) == 1
    assert capsys.readouterr().err == (
        "error: This token does not have the incidents:write scope. "
        "Create a token with it at /manage/tokens/. (HTTP 403)\n"
    )

    assert cli.main(["note", "999999", "x"]) == 1
    assert capsys.readouterr().err == "error: There is no incident 999999. (HTTP 404)\n"

    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert cli.main(["note", "1", "x"]) == 1
    assert "This API token expired on" in capsys.readouterr().err
    assert not ProgressNote.objects.exists()


def test_bad_component_names_come_back_as_a_clear_error(
    server, monkeypatch, capsys, communicator, make_component
):
    make_component("Payments")
    _use_token(monkeypatch, communicator, "incidents:write")

    assert cli.main(["incident", "open", "Down", "--severity", "sev1", "--component", "Paymnts"]) == 1

    err = capsys.readouterr().err
    assert "there is no component named 'Paymnts' (components: Payments)" in err
    assert "(HTTP 422)" in err
    assert not Incident.objects.exists()


def test_usage_errors_exit_2(server, monkeypatch, capsys, engineer):
    assert cli.main(["note", "1", "x"]) == 2
    assert "set STATUSHUB_TOKEN to an API token" in capsys.readouterr().err

    _use_token(monkeypatch, engineer, "notes:write")
    assert cli.main(["note", "forty-two", "x"]) == 2
    assert "'forty-two' is not an incident number" in capsys.readouterr().err
    assert cli.main(["incident", "open", "Down", "--severity", "sev9"]) == 2
    assert cli.main(["incident", "open", "Down", "--severity", "sev1", "--component", "API=broken"]) == 2
    assert "the status must be one of" in capsys.readouterr().err

    monkeypatch.delenv("STATUSHUB_URL")
    assert cli.main(["note", "1", "x"]) == 2
    assert "set STATUSHUB_URL" in capsys.readouterr().err


def test_an_unreachable_server_is_an_error_not_a_traceback(monkeypatch, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the socket closes
    monkeypatch.setenv("STATUSHUB_TOKEN", "sh_aaaaaaaaaaaa_" + "A" * 40)

    code = cli.main(["note", "1", "x", "--url", f"http://127.0.0.1:{port}"])

    assert code == 1
    assert capsys.readouterr().err.startswith(f"error: cannot reach http://127.0.0.1:{port}: ConnectError")


def test_the_installed_command_reads_its_settings_from_the_environment(server, engineer, make_incident):
    incident = make_incident()
    _row, token = tokens.token_create(owner=engineer, name="terminal", scopes=["notes:write"])

    result = subprocess.run(
        [sys.executable, "-m", "statushub.cli", "note", str(incident.pk), "From a real process."],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "STATUSHUB_URL": server, "STATUSHUB_TOKEN": token, "PYTHONIOENCODING": "utf-8"},
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("note ")
    assert ProgressNote.objects.get().text == "From a real process."


def test_the_token_never_travels_over_plain_http_except_to_localhost(monkeypatch, capsys):
    from statushub import cli

    monkeypatch.setenv("STATUSHUB_URL", "http://status.example.com")
    monkeypatch.setenv("STATUSHUB_TOKEN", "sh_whatever")
    assert cli.main(["note", "1", "text"]) == 2
    assert "plain http" in capsys.readouterr().err
