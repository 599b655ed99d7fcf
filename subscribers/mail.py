"""The mails StatusHub sends subscribers: confirmations, "already subscribed", and notices to the owners of
webhook and Slack subscriptions. Plain text and HTML, from templates that escape everything. The mail of each
update, sent to many subscribers at once, is built in ``update_mail.py``."""

from email.utils import parseaddr
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from incidents.documents import absolute
from incidents.models import Incident, IncidentUpdate
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


def message_id_parts(update: IncidentUpdate) -> tuple[str, str]:
    """What comes before and after the subscriber's id in the Message-ID of an update's mail."""
    return f"<update.{update.public_id}.", f"@{site_domain()}>"


def list_headers(*, unsubscribe_url: str, unsubscribe_token: str) -> dict[str, str]:
    """RFC 2369 and RFC 8058: mail clients show an Unsubscribe button that POSTs to the https link."""
    mailbox = settings.STATUSHUB_MAIL_UNSUBSCRIBE_TO or parseaddr(settings.STATUSHUB_MAIL_FROM)[1]
    return {
        "List-Unsubscribe": f"<{unsubscribe_url}>, "
        f"<mailto:{mailbox}?subject={quote('unsubscribe ' + unsubscribe_token, safe='')}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": f"{one_line(settings.STATUSHUB_SITE_NAME)} status <status.{site_domain()}>",
    }


def _message(*, to: str, subject: str, template: str, context: dict[str, Any]) -> EmailMultiAlternatives:
    context = {"site_name": settings.STATUSHUB_SITE_NAME, "site_url": settings.STATUSHUB_SITE_URL, **context}
    text = render_to_string(f"subscribers/mail/{template}.txt", context)
    html = render_to_string(f"subscribers/mail/{template}.html", context)
    message = EmailMultiAlternatives(one_line(subject), text, settings.STATUSHUB_MAIL_FROM, [to])
    message.attach_alternative(html, "text/html")
    return message


def _choice_names(row: Subscriber | HookSubscription) -> list[str]:
    if row.all_components:
        return []
    return [component.name for component in row.components.all()]


def incident_subject(incident: Incident) -> str:
    # One subject per incident: together with References it keeps every client's thread together.
    return f"[{settings.STATUSHUB_SITE_NAME}] {incident.title}"


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
