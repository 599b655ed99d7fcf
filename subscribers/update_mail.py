"""The mail of one published update, rendered once for all of its subscribers.

Every subscriber's copy is the same but for their address, their own manage and unsubscribe links (signed
tokens), its Message-ID and its thread headers. So the templates (and the update's Markdown) are rendered once
with placeholders for those, and each copy only fills them in: rendering, ``reverse()`` and building the MIME
tree per subscriber cost several times more than sending the mail did.

For Django's SMTP backend the finished bytes are filled in the same way, from a prototype that Django itself
built, so the wire carries what ``EmailMultiAlternatives.message()`` would have produced. The first copy of
each shape (threaded or not, which headers fold, which parts are quoted-printable) is checked against Django's
own build; any copy that cannot be filled in safely (a non-ASCII address, a To header that folds, a line over
SMTP's 998-character limit) is built by Django in full, and each such reason is logged once per update.

What is filled in per copy, not rendered: the subscriber's address, links and token, the Message-ID and thread
headers, and the Date (the time the copy is built, as Django would write it). A part with a line over 998
characters is quoted-printable (Django's choice): its lines with a placeholder are encoded per copy, the
others once.

The templates are rendered once, for a dummy subscriber whose only field is the placeholder of the address:
no mail template may use any other ``subscriber.*`` field (nor anything else that differs per subscriber),
or every copy would carry the dummy's value.
"""

import logging
import re
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from email import quoprimime
from email.utils import formatdate
from urllib.parse import quote

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import sanitize_address
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape

from incidents.documents import absolute
from incidents.models import Component, Incident, IncidentUpdate
from statushub.lib.markdown import render_markdown
from statushub.lib.markdown_text import plain_text
from subscribers.mail import EMAIL, incident_subject, list_headers, one_line
from subscribers.models import Subscriber
from subscribers.tokens import Purpose, token_maker

logger = logging.getLogger(__name__)

# An address that every mail system writes as it is (no quoting, no IDNA, no encoded words).
_PLAIN_ADDRESS = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[a-z0-9-]+(\.[a-z0-9-]+)+"
)
_TOKEN = re.compile(r"[A-Za-z0-9_:-]+")  # base64url and the signer's ':': reverse() keeps them as they are
_SMTP_LINE_LIMIT = 998  # RFC 5322 2.1.1; over it Django would have switched the part to quoted-printable
_BOUNDARY = re.compile(rb'boundary="([^"]+)"')
_DATE = re.compile(rb"^Date: [^\r\n]*", re.MULTILINE)
_DATE_LENGTH = len(formatdate(0))  # "Thu, 01 Jan 1970 00:00:00 -0000": fixed, so it never folds differently


def _now() -> float:
    return time.time()


def _headers_of(raw: bytes) -> tuple[bytes, bytes]:
    head, sep, rest = raw.partition(b"\r\n\r\n")
    return head, sep + rest


def _needs_qp(part: str) -> bool:
    """Django's choice in ``SafeMIMEText.set_payload``: quoted-printable once any line is over the limit."""
    return any(len(line.encode(errors="surrogateescape")) > _SMTP_LINE_LIMIT for line in part.splitlines())


def _qp_line(line: bytes) -> bytes:
    """One line of a quoted-printable part, as the email package encodes it (each line on its own)."""
    return quoprimime.body_encode(line.decode("latin1")).replace("\n", "\r\n").encode("ascii")


def _status_label(status: str) -> str:
    try:
        return str(Component.Status(status).label)
    except ValueError:
        return status


def _quote_token(token: str) -> str:
    # quote() walks the string character by character; a signed token only needs its ':' escaped.
    return token.replace(":", "%3A") if _TOKEN.fullmatch(token) else quote(token, safe="")


class _Route:
    """A subscriber link: ``reverse()`` once per update, then only the token changes."""

    def __init__(self, name: str) -> None:
        self.name = name
        mark = f"t{secrets.token_hex(8)}"
        self.prefix, self.suffix = absolute(reverse(name, args=[mark])).split(mark)

    def url(self, token: str) -> str:
        if _TOKEN.fullmatch(token):
            return f"{self.prefix}{token}{self.suffix}"
        return absolute(reverse(self.name, args=[token]))


@dataclass(frozen=True)
class Copy:
    """What differs between two subscribers' copies of one update's mail."""

    email: str
    manage_url: str
    unsubscribe_url: str
    unsubscribe_token: str
    message_id: str
    root_id: str | None

    @property
    def threaded(self) -> bool:
        return bool(self.root_id and self.root_id != self.message_id)


# The placeholders. The email package folds a header line over 78 characters, so their lengths decide where
# the prototype's headers fold: short for one-token headers (To, Message-ID...), which a copy may fill in only
# while they stay on one line; long for the signed links, which are always longer than a line, so fold alone.
# The one-token headers a copy fills in whole: a value too long for one line goes on the next, as the email
# package folds it ("Message-ID: " CRLF " <...>"), whatever its length.
_FOLDING = {"message_id": "Message-ID", "in_reply_to": "In-Reply-To", "references": "References"}
_SHORT_FIELDS = ("email", "date", *_FOLDING)
_LONG_FIELDS = ("manage", "unsubscribe", "token")
_HTML_FIELDS = ("email", "manage", "unsubscribe")
_HEADER_LINE = 78


def _header_value(name: str, value: str) -> bytes:
    if len(name) + 2 + len(value) <= _HEADER_LINE:
        return value.encode()
    return b"\r\n " + value.encode()


class _Wire:
    """A prototype's bytes cut at its placeholders; a copy is the pieces joined with that copy's values.

    A line of a quoted-printable part that holds a placeholder is one placeholder of its own in the prototype
    (``lines``): filled in, then encoded, per copy."""

    def __init__(self, raw: bytes, marks: dict[str, str], lines: dict[str, str]) -> None:
        """``marks``: each placeholder by name, those of ``lines`` included; ``lines``: the text of each line
        placeholder, with the other placeholders in it."""
        self.by_mark = {mark.encode(): name for name, mark in marks.items()}
        # The longest first, so that no placeholder is taken for one it begins with.
        pattern = (
            b"(" + b"|".join(re.escape(mark) for mark in sorted(self.by_mark, key=len, reverse=True)) + b")"
        )
        split = re.compile(pattern).split
        self.pieces = split(raw)
        # A line, cut at its placeholders: its odd pieces are their names, its even ones bytes.
        self.lines: dict[str, list[bytes | str]] = {
            name: [self.by_mark[p] if i % 2 else p for i, p in enumerate(split(line.encode()))]
            for name, line in lines.items()
        }
        match = _BOUNDARY.search(raw)
        self.boundary = match.group(1) if match else b""
        self.checked: set[tuple[bool, ...]] = set()  # the header shapes whose first copy Django confirmed

    def fill(self, values: dict[str, bytes]) -> bytes:
        if self.lines:
            values = dict(values)
            for name, line in self.lines.items():
                filled = [values[p] if isinstance(p, str) else p for p in line]
                values[name] = _qp_line(b"".join(filled))
        pieces = self.pieces
        return b"".join(
            [values[self.by_mark[piece]] if index % 2 else piece for index, piece in enumerate(pieces)]
        )


def _comparable(raw: bytes) -> bytes:
    """Two builds of one copy differ only in their random MIME boundary and maybe the second in Date."""
    match = _BOUNDARY.search(raw)
    if match:
        raw = raw.replace(match.group(1), b"BOUNDARY")
    head, rest = _headers_of(raw)
    return _DATE.sub(b"Date: -", head, count=1) + rest


class UpdateMail:
    """One update's mail: ``message()`` for any mail backend, ``wire()`` for Django's SMTP backend."""

    def __init__(self, update: IncidentUpdate) -> None:
        self.update = update
        incident = update.incident
        self.subject = one_line(incident_subject(incident))
        self.from_email = settings.STATUSHUB_MAIL_FROM
        self.encoding = settings.DEFAULT_CHARSET
        self.envelope_sender = sanitize_address(self.from_email, self.encoding)
        self._manage = _Route("subscribers:manage")
        self._unsubscribe = _Route("subscribers:unsubscribe")
        self._manage_token = token_maker(EMAIL, Purpose.MANAGE)
        self._unsubscribe_token = token_maker(EMAIL, Purpose.UNSUBSCRIBE)
        stem = f"sh{secrets.token_hex(6)}"
        self._stem = stem
        self._marks = {name: f"{stem}{name.replace('_', '')}" for name in _SHORT_FIELDS}
        self._marks["date"] = self._marks["date"].ljust(_DATE_LENGTH, "x")
        self._marks.update({name: f"{stem}{name}".ljust(80, "x") for name in _LONG_FIELDS})
        self._marks.update({f"html_{name}": f"{stem}html{name}".ljust(80, "x") for name in _HTML_FIELDS})
        context = {
            "site_name": settings.STATUSHUB_SITE_NAME,
            "site_url": settings.STATUSHUB_SITE_URL,
            "update": update,
            "incident": incident,
            "status": Incident.Status(update.status).label,
            "body_html": render_markdown(update.body),
            "body_text": plain_text(update.body, quotes="angle"),
            "update_url": absolute(reverse("status:update", args=[update.public_id])),
            "statement_url": absolute(reverse("status:update-statement", args=[update.public_id])),
            "incident_url": absolute(reverse("status:incident", args=[incident.pk])),
            "changes": [
                {
                    "name": change.get("name", ""),
                    "new_status_label": _status_label(change.get("new_status", "")),
                }
                for change in update.affected_components or []
            ],
            # A dummy subscriber: only its address is a placeholder, filled in per copy. No mail template may
            # use another subscriber field; each copy would say what the dummy does.
            "subscriber": Subscriber(email=self._marks["email"]),
            "manage_url": self._marks["manage"],
            "unsubscribe_url": self._marks["unsubscribe"],
        }
        self._text = render_to_string("subscribers/mail/update.txt", context)
        self._html = render_to_string("subscribers/mail/update.html", context)
        self._wires: dict[bool, _Wire | None] = {}
        self._date: tuple[int, bytes] = (-1, b"")
        self.fallbacks: Counter[str] = Counter()  # copies Django built in full, by reason

    def copy_for(
        self, *, subscriber_id: int, email: str, token_nonce: str, message_id: str, root_id: str | None
    ) -> Copy:
        unsubscribe_token = self._unsubscribe_token(subscriber_id, token_nonce)
        return Copy(
            email=email,
            manage_url=self._manage.url(self._manage_token(subscriber_id, token_nonce)),
            unsubscribe_url=self._unsubscribe.url(unsubscribe_token),
            unsubscribe_token=unsubscribe_token,
            message_id=message_id,
            root_id=root_id,
        )

    def _fill(self, template: str, values: dict[str, str]) -> str:
        for name, value in values.items():
            template = template.replace(self._marks[name], value)
        return template

    def _build(
        self,
        copy: Copy,
        *,
        text: str,
        html: str,
        connection: BaseEmailBackend | None = None,
        thread: tuple[str, str] | None = None,
    ) -> EmailMultiAlternatives:
        headers = {
            "Message-ID": copy.message_id,
            **list_headers(unsubscribe_url=copy.unsubscribe_url, unsubscribe_token=copy.unsubscribe_token),
        }
        if copy.threaded:
            headers["In-Reply-To"], headers["References"] = thread or (str(copy.root_id), str(copy.root_id))
        message = EmailMultiAlternatives(
            self.subject, text, self.from_email, [copy.email], headers=headers, connection=connection
        )
        message.attach_alternative(html, "text/html")
        return message

    def message(self, copy: Copy, connection: BaseEmailBackend | None = None) -> EmailMultiAlternatives:
        values = {"email": copy.email, "manage": copy.manage_url, "unsubscribe": copy.unsubscribe_url}
        text = self._fill(self._text, values)
        html = self._fill(self._html, {name: escape(value) for name, value in values.items()})
        return self._build(copy, text=text, html=html, connection=connection)

    def wire(self, copy: Copy) -> tuple[str, bytes]:
        """The envelope recipient and the bytes Django's SMTP backend would send for this copy."""
        wire = self._wire(copy.threaded)
        if wire is None:
            return self._fallback(copy, "its prototype differs from Django's build")
        if not _PLAIN_ADDRESS.fullmatch(copy.email):
            return self._fallback(copy, "an address that needs quoting or IDNA")
        if len("To") + 2 + len(copy.email) > _HEADER_LINE:
            return self._fallback(copy, "an address too long for one header line")
        values = self._wire_values(copy)
        raw = wire.fill(values)
        if wire.boundary in b"".join(values.values()):
            return self._fallback(copy, "a value that holds the MIME boundary")
        if max(map(len, raw.split(b"\r\n"))) > _SMTP_LINE_LIMIT:
            return self._fallback(copy, "a filled-in line over 998 characters")
        shape = (copy.threaded, *(value.startswith(b"\r\n") for value in values.values()))
        if shape not in wire.checked and not self._check(wire, copy, raw, shape):
            return self._fallback(copy, "its prototype differs from Django's build")
        return copy.email, raw

    def _fallback(self, copy: Copy, reason: str) -> tuple[str, bytes]:
        self.fallbacks[reason] += 1
        if self.fallbacks[reason] == 1:
            logger.warning("update %s: building copies with %s in full (slower)", self.update.pk, reason)
        return self._django_wire(copy)

    def _date_value(self) -> bytes:
        """The Date header as Django writes it when it builds a message, for the current second."""
        now = int(_now())
        second, value = self._date
        if second != now:
            value = formatdate(now, localtime=settings.EMAIL_USE_LOCALTIME).encode()
            self._date = (now, value)
        return value

    def _django_wire(self, copy: Copy) -> tuple[str, bytes]:
        message = self.message(copy)
        return sanitize_address(copy.email, self.encoding), message.message().as_bytes(linesep="\r\n")

    def _wire_values(self, copy: Copy) -> dict[str, bytes]:
        root_id = copy.root_id or ""
        return {
            "email": copy.email.encode(),
            "manage": copy.manage_url.encode(),
            "unsubscribe": copy.unsubscribe_url.encode(),
            "html_email": escape(copy.email).encode(),
            "html_manage": escape(copy.manage_url).encode(),
            "html_unsubscribe": escape(copy.unsubscribe_url).encode(),
            "token": _quote_token(copy.unsubscribe_token).encode(),
            "date": self._date_value(),
            "message_id": _header_value(_FOLDING["message_id"], copy.message_id),
            "in_reply_to": _header_value(_FOLDING["in_reply_to"], root_id),
            "references": _header_value(_FOLDING["references"], root_id),
        }

    def _qp_lines(self, part: str, marks: list[str], lines: dict[str, str]) -> str:
        """For a part Django will make quoted-printable: each line with a placeholder becomes a placeholder of
        its own (a short, plain line that the encoding leaves as it is), kept in ``lines``."""
        if not _needs_qp(part):
            return part
        out = []
        for line in part.splitlines(keepends=True):
            body = line.rstrip("\r\n")
            if any(mark in body for mark in marks):
                name = f"line{len(lines):03d}"
                lines[name] = body
                out.append(f"{self._stem}{name}{line[len(body) :]}")
            else:
                out.append(line)
        return "".join(out)

    def _wire(self, threaded: bool) -> _Wire | None:
        if threaded not in self._wires:
            marks = {
                k: v for k, v in self._marks.items() if threaded or k not in ("in_reply_to", "references")
            }
            prototype = Copy(
                email=marks["email"], manage_url=marks["manage"], unsubscribe_url=marks["unsubscribe"],
                unsubscribe_token=marks["token"], message_id=marks["message_id"],
                root_id=marks["in_reply_to"] if threaded else None,
            )  # fmt: skip
            html = self._fill(self._html, {name: marks[f"html_{name}"] for name in _HTML_FIELDS})
            lines: dict[str, str] = {}
            text = self._qp_lines(self._text, list(marks.values()), lines)
            html = self._qp_lines(html, list(marks.values()), lines)
            thread = (marks["in_reply_to"], marks["references"]) if threaded else None
            message = self._build(prototype, text=text, html=html, thread=thread)
            head, rest = _headers_of(message.message().as_bytes(linesep="\r\n"))
            # Django wrote the time of this build: the Date header becomes a placeholder too.
            head, dates = _DATE.subn(f"Date: {marks['date']}".encode(), head, count=1)
            if not dates:
                marks.pop("date")
            marks.update({name: f"{self._stem}{name}" for name in lines})
            self._wires[threaded] = _Wire(head + rest, marks, lines)
        return self._wires[threaded]

    def _check(self, wire: _Wire, copy: Copy, raw: bytes, shape: tuple[bool, ...]) -> bool:
        """Compare the first filled-in copy of each shape with Django's own build; on any difference, let Django
        build all."""
        recipient, expected = self._django_wire(copy)
        if recipient == copy.email and _comparable(expected) == _comparable(raw):
            wire.checked.add(shape)
            return True
        logger.warning("update %s: prefilled mail differs from Django's; building each copy", self.update.pk)
        self._wires[copy.threaded] = None
        return False


_MAILS: dict[tuple[object, ...], UpdateMail] = {}
_KEEP = 8


def mail_for(update: IncidentUpdate) -> UpdateMail:
    """The update's mail as this process last rendered it: each of its batches would otherwise render it again.

    A published update never changes; its incident's title (the subject) may, and so may settings in tests."""
    key = (
        update.pk, update.statement_sha256, update.incident.title, update.incident.updated_at, settings.SECRET_KEY,
        settings.STATUSHUB_SITE_URL, settings.STATUSHUB_SITE_NAME, settings.STATUSHUB_MAIL_FROM,
        settings.STATUSHUB_MAIL_UNSUBSCRIBE_TO,
    )  # fmt: skip
    mail = _MAILS.pop(key, None) or UpdateMail(update)
    _MAILS[key] = mail  # the most recently used last
    while len(_MAILS) > _KEEP:
        del _MAILS[next(iter(_MAILS))]
    return mail
