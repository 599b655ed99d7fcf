from datetime import UTC, datetime

from django import template

register = template.Library()


@register.filter
def iso(value: datetime | None) -> str:
    """RFC 3339 in UTC, for <time datetime> and machine readers."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@register.filter
def percent(value: float | None) -> str:
    if value is None:
        return "no data"
    # Two decimals, but never round a bad day up to a perfect 100%.
    floored = int(value * 10000) / 100
    return f"{floored:.2f}%"


@register.filter
def duration(value: object) -> str:
    seconds = int(getattr(value, "total_seconds", lambda: 0)())
    if seconds <= 0:
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours >= 48:
        return f"{hours // 24} days {hours % 24} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


@register.filter
def status_label(value: str | None) -> str:
    from incidents.models import Component

    if not value:
        return ""
    return str(dict(Component.Status.choices).get(value, value))


@register.filter
def timeline(incident: object) -> list[object]:
    from incidents.selectors import incident_timeline

    return list(incident_timeline(incident))  # type: ignore[arg-type]


@register.filter
def promise(incident: object) -> datetime | None:
    from incidents.selectors import current_promise

    return current_promise(incident)  # type: ignore[arg-type]


@register.filter
def listify(value: object) -> list[object]:
    return [value]


@register.simple_tag
def site_url() -> str:
    from django.conf import settings

    return str(settings.STATUSHUB_SITE_URL)


@register.filter
def pretty_json(value: object) -> str:
    import contextlib
    import json

    # A recorded request whose body is itself JSON reads better decoded.
    if isinstance(value, dict) and isinstance(value.get("body"), str):
        with contextlib.suppress(ValueError):
            value = {**value, "body": json.loads(value["body"])}
    return json.dumps(value, indent=2, ensure_ascii=False)


@register.filter
def get_item(mapping: object, key: object) -> object:
    return mapping.get(key) if isinstance(mapping, dict) else None
