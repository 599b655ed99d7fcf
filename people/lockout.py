"""Who django-axes counts failed passwords against: the person and the address they came from."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address, from the same header the rate limits read behind a proxy (the proxy's own entry,
    the last one, so a client cannot choose it by sending the header itself)."""
    key = settings.RATELIMIT_IP_META_KEY or "REMOTE_ADDR"
    value = str(request.META.get(key) or request.META.get("REMOTE_ADDR") or "")
    return value.split(",")[-1].strip()
