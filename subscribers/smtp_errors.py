"""What an SMTP (or ESP) error means for one mail: refused for good, deferred for this recipient, or a
problem of the connection; and the words the deliveries page shows for it."""

import smtplib

from anymail.exceptions import AnymailRecipientsRefused


def refusal_codes(exc: smtplib.SMTPRecipientsRefused) -> list[int]:
    return [code for code, _ in exc.recipients.values()]


def is_permanent(exc: Exception) -> bool:
    """The receiving side refused this one message for good (no such mailbox, policy): do not retry it.

    Only a 5xx refusal is final; a 4xx one (450/451/452: greylisting, throttling, a full mailbox) is tried
    again later, and 421 means the server is closing the connection."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = refusal_codes(exc)
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, AnymailRecipientsRefused):  # the ESP rejected the address itself
        return True
    if isinstance(
        exc, smtplib.SMTPSenderRefused
    ):  # our From is refused: every mail would be; retry, then stop
        return False
    return isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600


def is_deferred(exc: Exception) -> bool:
    """A temporary refusal of this one recipient (4xx but 421) on a connection that goes on: retry it alone
    later and go on with the batch, rather than hold back (and use up the attempts of) the mails after it."""
    if not isinstance(exc, smtplib.SMTPRecipientsRefused):
        return False
    codes = refusal_codes(exc)
    return bool(codes) and all(400 <= code < 500 and code != 421 for code in codes)


def reply_text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [f"{code} {reply_text(reply)}" for code, reply in exc.recipients.values()]
        return f"refused by the mail server: {'; '.join(codes)}"[:300]
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"mail server answered {exc.smtp_code} {reply_text(exc.smtp_error)}"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]
