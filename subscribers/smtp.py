"""One prepared message over an open SMTP connection, pipelined when the server offers it (RFC 2920).

smtplib sends MAIL, RCPT and DATA one at a time and waits for each reply: four round trips per message. Mail
servers built for volume (Postfix, Exim, Amazon SES, Postmark, Mailgun…) advertise PIPELINING, which lets the
envelope go out in one write and the replies come back together: two round trips. Without it, this is
smtplib's ``sendmail``. Errors are smtplib's own, raised in the same cases, so callers tell a refused address
from a broken connection as they would with ``sendmail``.
"""

import re
import smtplib
from contextlib import suppress
from functools import lru_cache

_LEADING_DOT = re.compile(rb"(?m)^\.")
# An address with nothing to parse: smtplib's quoteaddr() would run the email package's address parser on it
# (about 100 µs, a third of all the CPU the rest of sending a mail takes) only to put it in angle brackets.
_BARE_ADDRESS = re.compile(r"[^\s<>()\[\],;:\\\"@]+@[^\s<>()\[\],;:\\\"@]+")


@lru_cache(maxsize=16)  # the sender: the same for every mail
def _quoted(address: str) -> str:
    return f"<{address}>" if _BARE_ADDRESS.fullmatch(address) else smtplib.quoteaddr(address)


def _end_transaction(smtp: smtplib.SMTP, code: int) -> None:
    # As sendmail does: 421 means the server is closing the connection; anything else only ends this mail.
    if code == 421:
        smtp.close()
    else:
        with suppress(smtplib.SMTPServerDisconnected):
            smtp.rset()


def send(smtp: smtplib.SMTP, *, sender: str, recipient: str, data: bytes) -> None:
    """Send ``data`` (CRLF line ends) from ``sender`` to ``recipient``, or raise what ``sendmail`` would."""
    smtp.ehlo_or_helo_if_needed()
    if not (smtp.does_esmtp and smtp.has_extn("pipelining")):
        smtp.sendmail(sender, [recipient], data)
        return
    size = f" SIZE={len(data)}" if smtp.has_extn("size") else ""
    smtp.send(f"MAIL FROM:{_quoted(sender)}{size}\r\nRCPT TO:{_quoted(recipient)}\r\nDATA\r\n")
    # Every reply of the group is read before acting on any (RFC 2920 3.1).
    mail, rcpt, start = smtp.getreply(), smtp.getreply(), smtp.getreply()
    if start[0] == 354 and (mail[0] != 250 or rcpt[0] not in (250, 251)):
        # A server that took DATA without a recipient: end it with no content (RFC 2920 3.1).
        smtp.send(b".\r\n")
        smtp.getreply()
    if mail[0] != 250:
        _end_transaction(smtp, mail[0])
        raise smtplib.SMTPSenderRefused(mail[0], mail[1], sender)
    if rcpt[0] not in (250, 251):
        _end_transaction(smtp, rcpt[0])
        raise smtplib.SMTPRecipientsRefused({recipient: rcpt})
    if start[0] != 354:
        _end_transaction(smtp, start[0])
        raise smtplib.SMTPDataError(*start)
    body = _LEADING_DOT.sub(b"..", data)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    smtp.send(body + b".\r\n")
    code, reply = smtp.getreply()
    if code != 250:
        _end_transaction(smtp, code)
        raise smtplib.SMTPDataError(code, reply)
