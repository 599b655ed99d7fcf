"""The mails StatusHub sends subscribers: confirmations, "already subscribed", every update, and notices to the
owners of webhook and Slack subscriptions. Plain text and HTML, from templates that escape everything."""

from email.utils import parseaddr
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.template.loader import render_to_string
from django.urls import reverse

from incidents.documents import absolute
from incidents.models import Component, Incident, IncidentUpdate
from statushub.lib.markdown import render_markdown
from subscribers.models import HookSubscription, Subscriber
from subscribers.tokens import Purpose, make_token

EMAIL = "email"
HOOK = "hook"


def site_domain() -> str:
    return (
        str(settings.STATUSHUB_SITE_URL).split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"
    )


def one_line(text: str) -> str:
    """Header values never carry a line break (Django would refuse the whole mail)."""
    return " ".join(text.split())


def token_for(row: Subscriber | HookSubscription, purpose: Purpose) -> str:
    kind = EMAIL if isinstance(row, Subscriber) else HOOK
    return make_token(kind, purpose, row.pk, row.token_nonce)


def confirm_url(row: Subscriber | HookSubscription) -> str:
    name = "subscribers:confirm" if isinstance(row, Subscriber) else "subscribers:hook-confirm"
    return absolute(reverse(name, args=[token_for(row, Purpose.CONFIRM)]))


def manage_url(row: Subscriber | HookSubscription) -> str:
    name = "subscribers:manage" if isinstance(row, Subscriber) else "subscribers:hook-manage"
    return absolute(reverse(name, args=[token_for(row, Purpose.MANAGE)]))


def unsubscribe_url(subscriber: Subscriber) -> str:
    return absolute(reverse("subscribers:unsubscribe", args=[token_for(subscriber, Purpose.UNSUBSCRIBE)]))


def message_id_for(update: IncidentUpdate, subscriber: Subscriber) -> str:
    return f"<update.{update.public_id}.{subscriber.pk}@{site_domain()}>"


def list_headers(subscriber: Subscriber) -> dict[str, str]:
    """RFC 2369 and RFC 8058: mail clients show an Unsubscribe button that POSTs to the https link."""
    token = token_for(subscriber, Purpose.UNSUBSCRIBE)
    mailbox = settings.STATUSHUB_MAIL_UNSUBSCRIBE_TO or parseaddr(settings.STATUSHUB_MAIL_FROM)[1]
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(subscriber)}>, "
        f"<mailto:{mailbox}?subject={quote('unsubscribe ' + token, safe='')}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": f"{one_line(settings.STATUSHUB_SITE_NAME)} status <status.{site_domain()}>",
    }


def _message(
    *, to: str, subject: str, template: str, context: dict[str, Any],
    headers: dict[str, str] | None = None, connection: BaseEmailBackend | None = None,
) -> EmailMultiAlternatives:  # fmt: skip
    context = {"site_name": settings.STATUSHUB_SITE_NAME, "site_url": settings.STATUSHUB_SITE_URL, **context}
    text = render_to_string(f"subscribers/mail/{template}.txt", context)
    html = render_to_string(f"subscribers/mail/{template}.html", context)
    message = EmailMultiAlternatives(
        one_line(subject), text, settings.STATUSHUB_MAIL_FROM, [to], headers=headers, connection=connection
    )
    message.attach_alternative(html, "text/html")
    return message


def _choice_names(row: Subscriber | HookSubscription) -> list[str]:
    if row.all_components:
        return []
    return [component.name for component in row.components.all()]


def _status_label(status: str) -> str:
    try:
        return str(Component.Status(status).label)
    except ValueError:
        return status


def incident_subject(incident: Incident) -> str:
    # One subject per incident: together with References it keeps every client's thread together.
    return f"[{settings.STATUSHUB_SITE_NAME}] {incident.title}"


def update_message(
    *, update: IncidentUpdate, subscriber: Subscriber, message_id: str, root_id: str | None,
    connection: BaseEmailBackend | None = None,
) -> EmailMultiAlternatives:  # fmt: skip
    headers = {"Message-ID": message_id, **list_headers(subscriber)}
    if root_id and root_id != message_id:
        headers["In-Reply-To"] = root_id
        headers["References"] = root_id
    incident = update.incident
    context = {
        "update": update,
        "incident": incident,
        "status": Incident.Status(update.status).label,
        "body_html": render_markdown(update.body),
        "update_url": absolute(reverse("status:update", args=[update.public_id])),
        "statement_url": absolute(reverse("status:update-statement", args=[update.public_id])),
        "incident_url": absolute(reverse("status:incident", args=[incident.pk])),
        "changes": [
            {"name": change.get("name", ""), "new_status_label": _status_label(change.get("new_status", ""))}
            for change in update.affected_components or []
        ],
        "subscriber": subscriber,
        "manage_url": manage_url(subscriber),
        "unsubscribe_url": unsubscribe_url(subscriber),
    }
    return _message(
        to=subscriber.email, subject=incident_subject(incident), template="update", context=context,
        headers=headers, connection=connection,
    )  # fmt: skip


def confirm_message(subscriber: Subscriber) -> EmailMultiAlternatives:
    context = {
        "confirm_url": confirm_url(subscriber),
        "hours": settings.STATUSHUB_SUBSCRIBE_CONFIRM_HOURS,
        "components": _choice_names(subscriber),
    }
    subject = f"Confirm your subscription to {settings.STATUSHUB_SITE_NAME} status updates"
    return _message(to=subscriber.email, subject=subject, template="confirm", context=context)


def already_subscribed_message(subscriber: Subscriber) -> EmailMultiAlternatives:
    context = {
        "manage_url": manage_url(subscriber),
        "unsubscribe_url": unsubscribe_url(subscriber),
        "components": _choice_names(subscriber),
    }
    subject = f"You are already subscribed to {settings.STATUSHUB_SITE_NAME} status updates"
    return _message(to=subscriber.email, subject=subject, template="already", context=context)


def hook_confirm_message(subscription: HookSubscription) -> EmailMultiAlternatives:
    context = {
        "subscription": subscription,
        "confirm_url": confirm_url(subscription),
        "hours": settings.STATUSHUB_SUBSCRIBE_CONFIRM_HOURS,
        "components": _choice_names(subscription),
    }
    subject = f"Confirm your {subscription.get_kind_display()} subscription to {settings.STATUSHUB_SITE_NAME} status"
    return _message(to=subscription.owner_email, subject=subject, template="hook_confirm", context=context)


def hook_disabled_message(subscription: HookSubscription) -> EmailMultiAlternatives:
    context = {"subscription": subscription, "manage_url": manage_url(subscription)}
    subject = f"We stopped sending {settings.STATUSHUB_SITE_NAME} status updates to your {subscription.get_kind_display()}"
    return _message(to=subscription.owner_email, subject=subject, template="hook_disabled", context=context)
