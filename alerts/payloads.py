"""The three webhook formats, read into one shape. Pure functions: no database, no Django.

- Prometheus Alertmanager's webhook, version 4:
  https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
- Grafana's webhook contact point (unified alerting): Alertmanager's body plus ``orgId``, ``title``, ``state``,
  ``message``, version "1", and per alert ``dashboardURL``, ``panelURL``, ``silenceURL``, ``values``.
- Our generic format (README, *Inbound alerts*): ``{"group": "…", "alerts": [{"id", "status", "title", …}]}``.

Anything malformed raises ``PayloadError`` naming the field, so the sender's operator can fix it.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

FIRING, RESOLVED = "firing", "resolved"
MAX_FINGERPRINT = 128
# Go's zero time: Alertmanager sends it as endsAt of an alert that has no end yet.
_ZERO_YEAR = 1


class PayloadError(ValueError):
    """The body cannot be read as alerts. The message names the field and says what was expected."""


@dataclass(frozen=True)
class ParsedAlert:
    fingerprint: str
    status: str  # firing or resolved
    name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None = None
    generator_url: str = ""
    links: dict[str, str] = field(default_factory=dict)  # label → URL (dashboard, panel, runbook, silence)


@dataclass(frozen=True)
class AlertBatch:
    group_key: str
    alerts: list[ParsedAlert]
    truncated: int = 0


def load_json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except UnicodeDecodeError as exc:
        raise PayloadError("The body is not UTF-8 text.") from exc
    except ValueError as exc:
        raise PayloadError(f"The body is not valid JSON: {exc}.") from exc
    except RecursionError as exc:
        raise PayloadError("The body is nested too deeply to be an alert.") from exc
    if not isinstance(value, dict):
        raise PayloadError("The body must be a JSON object.")
    return value


def _time(value: Any, where: str, *, required: bool) -> datetime | None:
    if value in (None, ""):
        if required:
            raise PayloadError(f"{where} is missing: an RFC 3339 time such as 2026-05-01T10:00:00Z.")
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{where} must be an RFC 3339 time in a string.")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise PayloadError(f"{where} is not an RFC 3339 time: {value[:40]!r}.") from exc
    if parsed.tzinfo is None:
        raise PayloadError(f"{where} has no time zone: add Z or an offset such as +02:00.")
    if parsed.year <= _ZERO_YEAR:
        return None
    return parsed.astimezone(UTC)


def _strings(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be an object of strings.")
    for key, item in value.items():
        if not isinstance(item, str):
            raise PayloadError(f"{where}.{key} must be a string.")
    return dict(value)


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{where} must be a string.")
    return value


def _status(value: Any, where: str) -> str:
    if value not in (FIRING, RESOLVED):
        raise PayloadError(f'{where} must be "firing" or "resolved", not {json.dumps(value)[:40]}.')
    return str(value)


def _alerts_list(payload: dict[str, Any]) -> list[Any]:
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError("alerts must be a list of alerts.")
    if not alerts:
        raise PayloadError("alerts is empty: there is nothing to record.")
    return alerts


def _object(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise PayloadError(f"{where} must be an object.")
    return item


def labels_fingerprint(labels: dict[str, str]) -> str:
    """For senders that give none: the same labels always make the same alert, as in Alertmanager."""
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


def _fingerprint(value: Any, labels: dict[str, str], where: str) -> str:
    text = _text(value, where).strip()
    if len(text) > MAX_FINGERPRINT:
        raise PayloadError(f"{where} is longer than {MAX_FINGERPRINT} characters.")
    return text or labels_fingerprint(labels)


def _http_links(pairs: list[tuple[str, Any]]) -> dict[str, str]:
    return {
        label: url for label, url in pairs if isinstance(url, str) and url.startswith(("https://", "http://"))
    }


def parse_alertmanager(payload: dict[str, Any], *, grafana: bool = False) -> AlertBatch:
    """Alertmanager's webhook (version 4), or Grafana's, which extends it."""
    expected = "1" if grafana else "4"
    version = payload.get("version")
    if version is not None and str(version) != expected:
        sender = "Grafana's webhook version 1" if grafana else "Alertmanager's webhook version 4"
        raise PayloadError(f"version {json.dumps(version)[:20]} is not understood: only {sender} is.")
    group_key = _text(payload.get("groupKey"), "groupKey")
    truncated = payload.get("truncatedAlerts") or 0
    if not isinstance(truncated, int) or truncated < 0:
        raise PayloadError("truncatedAlerts must be a whole number.")
    alerts = []
    for index, raw in enumerate(_alerts_list(payload)):
        where = f"alerts[{index}]"
        item = _object(raw, where)
        labels = _strings(item.get("labels"), f"{where}.labels")
        annotations = _strings(item.get("annotations"), f"{where}.annotations")
        links = _http_links(
            [
                ("Runbook", annotations.get("runbook_url")),
                ("Dashboard", item.get("dashboardURL")),
                ("Panel", item.get("panelURL")),
                ("Silence", item.get("silenceURL")),
            ]
        )
        alerts.append(
            ParsedAlert(
                fingerprint=_fingerprint(item.get("fingerprint"), labels, f"{where}.fingerprint"),
                status=_status(item.get("status"), f"{where}.status"),
                name=labels.get("alertname") or "Unnamed alert",
                labels=labels,
                annotations=annotations,
                starts_at=_time(item.get("startsAt"), f"{where}.startsAt", required=True),
                ends_at=_time(item.get("endsAt"), f"{where}.endsAt", required=False),
                generator_url=_text(item.get("generatorURL"), f"{where}.generatorURL"),
                links=links,
            )
        )
    return AlertBatch(group_key=group_key, alerts=alerts, truncated=truncated)


def parse_grafana(payload: dict[str, Any]) -> AlertBatch:
    return parse_alertmanager(payload, grafana=True)


def parse_generic(payload: dict[str, Any]) -> AlertBatch:
    """Our own format: one alert per ``id``; ``group`` (optional) keeps related alerts on one incident."""
    group_key = _text(payload.get("group"), "group")
    alerts = []
    for index, raw in enumerate(_alerts_list(payload)):
        where = f"alerts[{index}]"
        item = _object(raw, where)
        fingerprint = _text(item.get("id"), f"{where}.id").strip()
        if not fingerprint:
            raise PayloadError(f"{where}.id is missing: a stable id for this alert, the same on every send.")
        if len(fingerprint) > MAX_FINGERPRINT:
            raise PayloadError(f"{where}.id is longer than {MAX_FINGERPRINT} characters.")
        status = _status(item.get("status", FIRING), f"{where}.status")
        title = _text(item.get("title"), f"{where}.title").strip()
        if not title and status == FIRING:
            raise PayloadError(
                f"{where}.title is missing: say what is wrong, e.g. “Checkout error rate high”."
            )
        labels = _strings(item.get("labels"), f"{where}.labels")
        for key in ("severity", "component"):
            value = _text(item.get(key), f"{where}.{key}").strip()
            if value:
                labels[key] = value
        labels.setdefault("alertname", title or fingerprint)
        annotations = {
            key: _text(item.get(key), f"{where}.{key}") for key in ("summary", "description") if item.get(key)
        }
        alerts.append(
            ParsedAlert(
                fingerprint=fingerprint,
                status=status,
                name=title or fingerprint,
                labels=labels,
                annotations=annotations,
                starts_at=_time(item.get("started_at"), f"{where}.started_at", required=False),
                ends_at=_time(item.get("ended_at"), f"{where}.ended_at", required=False),
                generator_url=_text(item.get("url"), f"{where}.url"),
            )
        )
    return AlertBatch(group_key=group_key, alerts=alerts)


PARSERS: dict[str, Callable[[dict[str, Any]], AlertBatch]] = {
    "alertmanager": parse_alertmanager,
    "grafana": parse_grafana,
    "generic": parse_generic,
}


def parse(kind: str, body: bytes) -> AlertBatch:
    return PARSERS[kind](load_json(body))
