from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def duration_short(value: object) -> str:
    """4 min 05 s, 1 h 20 min: the clock's figures, exact to the second below an hour."""
    if not isinstance(value, timedelta):
        return ""
    seconds = max(0, int(value.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


@register.filter
def until(value: object, now: object) -> timedelta | None:
    """``due|until:now``: how long from now to ``due`` (negative when past)."""
    try:
        return value - now  # type: ignore[operator]
    except TypeError:
        return None


@register.filter
def negate(value: object) -> object:
    return -value if isinstance(value, timedelta) else value


@register.filter
def promise_state(promise: object, now: object) -> str:
    return promise.state(now)  # type: ignore[attr-defined]


@register.filter
def missed_by(promise: object, now: object) -> timedelta | None:
    return promise.missed_by(now)  # type: ignore[attr-defined]
