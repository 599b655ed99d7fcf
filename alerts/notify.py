"""Telling the incident team an alert opened a draft: a Slack incoming webhook and an e-mail.

Run on Celery after the commit (``alerts.tasks``), never in the webhook's request. The Slack URL is a secret
(whoever has it can post to the channel): it is never logged or put in an error message.
"""

from django.conf import settings
from django.core import mail
from django.template.loader import render_to_string
from django.urls import reverse

from alerts import selectors
from alerts.models import AlertSource
from incidents.documents import absolute
from incidents.models import Component, Incident, UpdateDraft
from integrations.slack import incoming as slack_incoming

SLACK_TIMEOUT = 10.0


def _slack_escape(text: str) -> str:
    # https://api.slack.com/reference/surfaces/formatting#escaping
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _suggested(incident: Incident) -> list[str]:
    """The components the draft suggests, as “Payments (major outage)”."""
    draft = (
        UpdateDraft.objects.filter(incident=incident, published_update__isnull=True, corrects__isnull=True)
        .order_by("-updated_at")
        .first()
    )
    statuses = draft.component_statuses if draft else {}
    names = Component.objects.in_bulk([int(pk) for pk in statuses])
    labels = dict(Component.Status.choices)
    return [
        f"{names[int(pk)].name} ({labels.get(status, status).lower()})"
        for pk, status in statuses.items()
        if int(pk) in names
    ]


def context(incident: Incident, source: AlertSource) -> dict[str, object]:
    return {
        "incident": incident,
        "source": source,
        "severity": incident.severity.upper(),
        "components": _suggested(incident),
        "compose_url": absolute(reverse("manage:compose", args=[incident.pk])),
        "admin_url": absolute(reverse("admin:incidents_incident_change", args=[incident.pk])),
        "site_name": settings.STATUSHUB_SITE_NAME,
    }


def slack_text(incident: Incident, source: AlertSource) -> str:
    ctx = context(incident, source)
    detected = f"{incident.detected_at:%H:%M} UTC" if incident.detected_at else "just now"
    components = ", ".join(ctx["components"]) or "no component matched"  # type: ignore[arg-type]
    return (
        f":rotating_light: *Draft incident opened by an alert* from {_slack_escape(source.name)}: "
        f"<{ctx['compose_url']}|{_slack_escape(incident.title)}>\n"
        f"{ctx['severity']} · detected {detected} · {_slack_escape(components)}\n"
        "Nothing is public yet: a publisher writes and publishes the first update."
    )


def send_slack(url: str, text: str) -> None:
    """POST ``{"text": …}`` to an incoming webhook; ``OutboundError`` when Slack did not take it."""
    slack_incoming.post_text(url, text, timeout=SLACK_TIMEOUT)


def team_messages(incident: Incident, source: AlertSource) -> list[mail.EmailMessage]:
    ctx = context(incident, source)
    subject = f"[{settings.STATUSHUB_SITE_NAME}] Alert opened a draft incident: {incident.title}"
    body = render_to_string("alerts/incident_opened_email.txt", ctx)
    return [
        mail.EmailMessage(subject=subject[:200], body=body, to=[user.email])
        for user in selectors.team_to_notify()
    ]
