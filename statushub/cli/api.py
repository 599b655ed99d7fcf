"""``statushub incident`` and ``statushub note``: the engineers' API (``/api/v1/``) with a personal API token."""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any
from urllib.parse import urlsplit

import httpx

from statushub.cli.common import EXIT_OK, TIMEOUT_SECONDS, USER_AGENT, CliError, UsageError

URL_VARIABLE, TOKEN_VARIABLE = "STATUSHUB_URL", "STATUSHUB_TOKEN"
SEVERITIES = ("sev1", "sev2", "sev3", "sev4")
COMPONENT_STATUSES = (
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
)


def _api_target(args: argparse.Namespace) -> tuple[str, str]:
    url = (args.url or os.environ.get(URL_VARIABLE) or "").strip().rstrip("/")
    token = (args.token or os.environ.get(TOKEN_VARIABLE) or "").strip()
    if not url:
        raise UsageError(
            f"set {URL_VARIABLE} to your StatusHub address, e.g. https://status.example (or pass --url)"
        )
    if not re.match(r"^https?://[^/\s]+$", url):
        raise UsageError(f"{url!r} is not a StatusHub address such as https://status.example")
    host = (urlsplit(url).hostname or "").lower()
    if url.startswith("http://") and host not in ("localhost", "127.0.0.1", "::1"):
        # The token would cross the network in clear text.
        raise UsageError(f"{url!r} is plain http: use https:// (plain http is only for localhost)")
    if not token:
        raise UsageError(f"set {TOKEN_VARIABLE} to an API token from {url}/manage/tokens/ (or pass --token)")
    return url, token


def api_call(
    args: argparse.Namespace,
    method: str,
    path: str,
    *,
    json: Any = None,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One call to ``/api/v1``; any failure becomes a ``CliError`` carrying the API's own message."""
    url, token = _api_target(args)
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json", "Authorization": f"Bearer {token}"}
    # No redirects: following one could turn a POST into a GET, or carry the token to another host.
    with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False, headers=headers) as client:
        try:
            response = client.request(method, f"{url}/api/v1{path}", json=json, params=params)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach {url}: {exc.__class__.__name__}: {exc}") from exc
    if response.is_redirect:
        location = response.headers.get("Location", "elsewhere")
        raise CliError(f"{url} redirects to {location}: set {URL_VARIABLE} to the address it redirects to")
    try:
        document = response.json()
    except ValueError:
        document = None
    if response.status_code >= 400:
        detail = document.get("detail") if isinstance(document, dict) else None
        raise CliError(f"{detail or response.reason_phrase} (HTTP {response.status_code})")
    if not isinstance(document, dict):
        raise CliError(f"{url} did not answer with the StatusHub API's JSON: is {URL_VARIABLE} right?")
    return document


def _incident_number(value: str) -> int:
    number = value.strip().removeprefix("#")
    if not number.isdigit() or int(number) < 1:
        raise UsageError(f"{value!r} is not an incident number (such as 42)")
    return int(number)


def _component(value: str) -> dict[str, str]:
    """``NAME`` or ``NAME=STATUS``."""
    name, sep, status = value.rpartition("=") if "=" in value else (value, "", "")
    name, status = name.strip(), status.strip().lower()
    if not name:
        raise UsageError(f"--component {value!r}: give a component name, optionally NAME=STATUS")
    if sep and status not in COMPONENT_STATUSES:
        raise UsageError(f"--component {value!r}: the status must be one of {', '.join(COMPONENT_STATUSES)}")
    return {"name": name, "status": status} if sep else {"name": name}


def cmd_note(args: argparse.Namespace) -> int:
    number = _incident_number(args.incident)
    if not args.text.strip():
        raise UsageError("the note is empty")
    note = api_call(
        args, "POST", f"/incidents/{number}/notes", json={"text": args.text, "public": bool(args.public)}
    )
    if note.get("on_public_timeline"):
        where = "public"
    elif note.get("public"):
        where = "public, shown once the incident is public"
    else:
        where = "internal"
    print(f"note {note.get('id')} posted on incident {number} ({where})")
    return EXIT_OK


def cmd_incident_open(args: argparse.Namespace) -> int:
    if not args.title.strip():
        raise UsageError("the title is empty")
    payload: dict[str, Any] = {
        "title": args.title,
        "severity": args.severity,
        "components": [_component(value) for value in args.component or []],
    }
    if args.note:
        payload["note"] = args.note
    incident = api_call(args, "POST", "/incidents", json=payload)
    print(f"incident {incident.get('id')} opened (draft, not public): {incident.get('compose_url')}")
    return EXIT_OK


def cmd_incident_list(args: argparse.Namespace) -> int:
    page = api_call(args, "GET", "/incidents", params={"status": args.status, "limit": "100"})
    found = page.get("items")
    items: list[Any] = found if isinstance(found, list) else []
    for incident in items:
        visibility = "public" if incident.get("public") else "draft"
        print(
            f"#{incident.get('id')}  {str(incident.get('severity')).upper()}  {incident.get('status')}  "
            f"({visibility})  {incident.get('title')}"
        )
    shown = f" (showing {len(items)})" if len(items) < int(page.get("count") or 0) else ""
    print(f"{page.get('count', len(items))} {args.status} incident(s){shown}", file=sys.stderr)
    return EXIT_OK


def cmd_incident(args: argparse.Namespace) -> int:
    return {"open": cmd_incident_open, "list": cmd_incident_list}[args.incident_command](args)


def _add_api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help=f"your StatusHub address (default: ${URL_VARIABLE})")
    parser.add_argument(
        "--token",
        help=f"an API token (default: ${TOKEN_VARIABLE}; prefer the variable: arguments show in the process list)",
    )


def configure_note(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("incident", metavar="INCIDENT", help="the incident's number, e.g. 42")
    parser.add_argument("text", metavar="TEXT", help="the note (Markdown)")
    parser.add_argument(
        "--public", action="store_true", help="also show it on the public timeline (default: internal)"
    )
    _add_api_options(parser)


def configure_incident(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="incident_command", required=True, metavar="ACTION")
    opening = actions.add_parser(
        "open", help="open a draft incident (not public until a publisher publishes)", description=(
            "Open a draft incident. It is not public, and no component's public status changes, "
            "until a publisher publishes its first update."
        ),
    )  # fmt: skip
    opening.add_argument("title", metavar="TITLE")
    opening.add_argument(
        "--severity",
        required=True,
        type=str.lower,
        choices=SEVERITIES,
        metavar="SEV1..SEV4",
        help="SEV1 to SEV4",
    )
    opening.add_argument(
        "--component",
        action="append",
        metavar="NAME[=STATUS]",
        help=f"an affected component, repeatable; STATUS is one of {', '.join(COMPONENT_STATUSES)} "
        "(default: from the severity)",
    )
    opening.add_argument("--note", help="a first internal progress note")
    _add_api_options(opening)
    listing = actions.add_parser("list", help="list incidents", description="List incidents, newest first.")
    listing.add_argument(
        "--status", default="open", choices=("open", "closed", "all"), help="which incidents (default: open)"
    )
    _add_api_options(listing)
