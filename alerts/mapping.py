"""From an alert's labels to our words: its severity, its component, and the status we suggest for it."""

from incidents.models import Component, Incident

Sev = Incident.Severity

# The usual words for severity in alerting rules (Prometheus, Grafana, PagerDuty's P1 to P4); a source adds its own.
DEFAULT_SEVERITY_MAP: dict[str, str] = {
    **dict.fromkeys(["critical", "crit", "page", "fatal", "emergency", "sev1", "p1"], Sev.SEV1),
    **dict.fromkeys(["major", "high", "error", "err", "sev2", "p2"], Sev.SEV2),
    **dict.fromkeys(["warning", "warn", "minor", "medium", "sev3", "p3"], Sev.SEV3),
    **dict.fromkeys(["info", "informational", "low", "none", "notice", "sev4", "p4", "p5"], Sev.SEV4),
}

# A first guess the publisher confirms on the compose screen; nothing public moves until they publish.
SUGGESTED_STATUS: dict[str, str] = {
    Sev.SEV1: Component.Status.MAJOR_OUTAGE,
    Sev.SEV2: Component.Status.PARTIAL_OUTAGE,
    Sev.SEV3: Component.Status.PARTIAL_OUTAGE,
    Sev.SEV4: Component.Status.DEGRADED_PERFORMANCE,
}

_SEVERITY_RANK = {Sev.SEV1: 1, Sev.SEV2: 2, Sev.SEV3: 3, Sev.SEV4: 4}


def severity_for(labels: dict[str, str], *, label: str, overrides: dict[str, str], default: str) -> str:
    value = labels.get(label, "").strip().lower()
    custom = {str(k).strip().lower(): v for k, v in overrides.items()}
    found = custom.get(value) or DEFAULT_SEVERITY_MAP.get(value)
    return str(found) if found in _SEVERITY_RANK else default


def worst_severity(severities: list[str]) -> str:
    return min(severities, key=lambda s: _SEVERITY_RANK[Sev(s)])


def component_for(
    labels: dict[str, str],
    *,
    label_names: list[str],
    mapping: dict[str, str],
    components: dict[str, Component],
) -> tuple[Component | None, str]:
    """The component the labels name, and what we looked for (for the note when nothing matched).

    ``components`` is keyed by lowercased name. A mapped value wins over a same-named component.
    """
    looked = []
    lowered_map = {str(k).strip().lower(): str(v) for k, v in mapping.items()}
    for name in label_names:
        value = labels.get(name, "").strip()
        if not value:
            continue
        looked.append(f"{name}={value}")
        target = lowered_map.get(value.lower(), value)
        component = components.get(target.strip().lower())
        if component is not None:
            return component, ""
    return None, ", ".join(looked)
