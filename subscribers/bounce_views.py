"""django-anymail's webhooks, mounted only once they are secured.

Your mail provider calls these with bounces, complaints and unsubscribes (tracking) and, if you route the
mailto: unsubscribe address to it, with those mails (inbound). Anymail checks the shared secret (HTTP basic
auth, ``ANYMAIL_WEBHOOK_SECRET``) and, for Mailgun, the signature; our receivers (``receivers.py``) act on the
normalised events. Without the secret the URLs answer 404 instead of accepting anyone's word for a bounce.
See https://anymail.dev/en/stable/tips/securing_webhooks/.
"""

from collections.abc import Callable

from anymail.webhooks.mailgun import MailgunInboundWebhookView, MailgunTrackingWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView, PostmarkTrackingWebhookView
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

View = Callable[..., HttpResponse]


def _secured(view: View, *required: str) -> View:
    @csrf_exempt
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        configured = getattr(settings, "ANYMAIL", {}) or {}
        if not all(configured.get(name) for name in ("WEBHOOK_SECRET", *required)):
            raise Http404("This mail provider's webhook is not configured")
        return view(request, *args, **kwargs)

    return wrapper


postmark_tracking = _secured(PostmarkTrackingWebhookView.as_view())
postmark_inbound = _secured(PostmarkInboundWebhookView.as_view())
mailgun_tracking = _secured(MailgunTrackingWebhookView.as_view(), "MAILGUN_WEBHOOK_SIGNING_KEY")
mailgun_inbound = _secured(MailgunInboundWebhookView.as_view(), "MAILGUN_WEBHOOK_SIGNING_KEY")
