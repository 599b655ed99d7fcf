"""The demo's inbox: staff read the mails Django's file backend wrote under var/mail, newest first.

It lets someone trying the demo confirm a subscription and use a mail's one-click unsubscribe without a mail
server. With a real mail backend the page says so and shows nothing.
"""

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from incidents.permissions import COMPOSE
from people.access import permission_required
from statushub.lib import security_headers

FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
SEPARATOR = b"\n" + b"-" * 79 + b"\n"
_ONE_CLICK_URL = re.compile(r"<(https?://[^>]+)>")


@dataclass
class OutboxMail:
    date: str
    to: str
    subject: str
    headers: list[tuple[str, str]]
    text: str
    html: str
    one_click_url: str


def _parse(raw: bytes) -> OutboxMail:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    unsubscribe = str(message.get("List-Unsubscribe", ""))
    match = _ONE_CLICK_URL.search(unsubscribe) if message.get("List-Unsubscribe-Post") else None
    shown = ("From", "Message-ID", "In-Reply-To", "References", "List-Unsubscribe", "List-Unsubscribe-Post")
    return OutboxMail(
        date=str(message.get("Date", "")),
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        headers=[(name, str(message[name])) for name in shown if message.get(name)],
        text=text_part.get_content() if isinstance(text_part, EmailMessage) else "",
        html=html_part.get_content() if isinstance(html_part, EmailMessage) else "",
        one_click_url=match.group(1) if match else "",
    )


def latest_mails(directory: Path, *, limit: int = 30) -> list[OutboxMail]:
    """The newest ``limit`` mails in the file backend's folder (each file holds one connection's mails)."""
    if not directory.is_dir():
        return []
    files = sorted(directory.glob("*.log"), key=lambda path: path.stat().st_mtime, reverse=True)
    mails: list[OutboxMail] = []
    for path in files:
        chunks = [chunk for chunk in path.read_bytes().split(SEPARATOR) if chunk.strip()]
        for raw in reversed(chunks):
            mails.append(_parse(raw))
            if len(mails) >= limit:
                return mails
    return mails


# The mails hold every subscriber's confirm and manage links: only the people who write to subscribers read them.
@permission_required(COMPOSE)
def outbox(request: HttpRequest) -> HttpResponse:
    file_backend = settings.EMAIL_BACKEND == FILE_BACKEND
    mails = latest_mails(Path(settings.EMAIL_FILE_PATH)) if file_backend else []
    context = {"mails": mails, "file_backend": file_backend, "folder": settings.EMAIL_FILE_PATH}
    response = render(request, "subscribers/outbox.html", context)
    return security_headers.allow_style_attributes(response, (mail.html for mail in mails))
