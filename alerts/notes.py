"""The internal progress note an alert delivery leaves on its incident (Markdown, rendered like any note).

Alert text comes from someone else's rules: names and labels are escaped, links kept to http(s), and a big
group is listed up to ``MAX_LISTED`` alerts so one noisy delivery cannot bury the notes.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.models import Alert

MAX_LISTED = 20
# What could turn text into emphasis, a link, HTML or a table; headings and lists cannot start mid-line.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]<>|~])")


@dataclass(frozen=True)
class Change:
    kind: str  # "firing", "firing_again" or "resolved"
    alert: Alert
    looked_for: str = ""  # labels tried when no component matched
    links: tuple[tuple[str, str], ...] = ()


def escape(text: str) -> str:
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", " ".join(text.split()))


def _code(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _link(label: str, url: str) -> str:
    if not url.startswith(("https://", "http://")):
        return ""
    safe = url.replace(" ", "%20").replace("<", "%3C").replace(">", "%3E")
    return f"[{label}](<{safe}>)"


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S} UTC" if at else "unknown"


def _lasted(start: datetime, end: datetime | None) -> str:
    if end is None or end < start:
        return ""
    minutes = round((end - start) / timedelta(minutes=1))
    if minutes < 60:
        return f", after {minutes} min"
    return f", after {minutes // 60} h {minutes % 60:02d} min"


def _firing(change: Change, source_name: str) -> list[str]:
    alert = change.alert
    heading = "Alert firing again" if change.kind == "firing_again" else "Alert firing"
    severity_label = alert.labels.get("severity", "")
    said = f" (severity={escape(severity_label)})" if severity_label else ""
    lines = [
        f"**{heading}: {escape(alert.name)}** — {escape(source_name)}, {alert.severity.upper()}{said}",
        "",
    ]
    summary = alert.annotations.get("summary", "").strip()
    description = alert.annotations.get("description", "").strip()
    if summary:
        lines += [escape(summary), ""]
    if description:
        lines += ["> " + line for line in description.splitlines()] + [""]
    lines.append(f"- Since: {_when(alert.starts_at)}")
    if alert.component is not None:
        status = alert.get_suggested_status_display().lower()
        lines.append(
            f"- Component: {escape(alert.component.name)}; *{status}* is suggested on the compose screen"
        )
    elif change.looked_for:
        lines.append(
            f"- No component is named {escape(change.looked_for)}: choose one on the compose screen, "
            "or map the label on the alert source"
        )
    else:
        lines.append("- No component label: choose the affected components on the compose screen")
    if alert.labels:
        lines.append("- Labels: " + " ".join(_code(f"{k}={v}") for k, v in sorted(alert.labels.items())))
    links = [_link("Source", alert.generator_url), *(_link(label, url) for label, url in change.links)]
    links = [link for link in links if link]
    if links:
        lines.append("- " + " · ".join(links))
    return lines


def _resolved(change: Change) -> list[str]:
    alert = change.alert
    ended = alert.ends_at or alert.last_seen_at
    return [f"**Alert resolved: {escape(alert.name)}** at {_when(ended)}{_lasted(alert.starts_at, ended)}."]


def note_text(
    *,
    source_name: str,
    changes: list[Change],
    opened: bool,
    all_resolved: int = 0,
    incident_closed: bool = False,
    truncated: int = 0,
) -> str:
    blocks: list[list[str]] = []
    if opened:
        blocks.append(
            [
                f"Opened from an alert by {escape(source_name)}. Nothing is public yet: give the incident a "
                "title customers will understand, then compose and publish the first update."
            ]
        )
    for change in changes[:MAX_LISTED]:
        blocks.append(_resolved(change) if change.kind == "resolved" else _firing(change, source_name))
    if len(changes) > MAX_LISTED:
        blocks.append(
            [f"…and {len(changes) - MAX_LISTED} more alerts in this delivery (see the alert list)."]
        )
    if truncated:
        blocks.append(
            [f"The sender left out {truncated} more alerts of this group (its max_alerts setting)."]
        )
    if all_resolved:
        what = "The alert is" if all_resolved == 1 else f"All {all_resolved} alerts on this incident are"
        rest = (
            " The incident is already closed."
            if incident_closed
            else " The incident stays open until a person closes it and, if it is public, tells customers."
        )
        blocks.append([f"**{what} resolved.**{rest}"])
    return "\n\n".join("\n".join(block) for block in blocks)
