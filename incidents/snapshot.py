"""The public snapshot: every public URL rendered once per change, then served without the database.

Each file is rendered by the very view that serves it dynamically, so the snapshot, an export and the dynamic
page cannot drift apart. A refresh renders only what a change touched:

- the site-wide files (the page, history months, the Statuspage API, page and component feeds, keys, the chain),
  re-rendered on every refresh and rewritten only where their bytes changed;
- the files of each incident named by a ``PublicChange`` row (its page, JSON, feeds and its updates' statements),
  or removed when the incident is no longer public.

The open page polls ``_live/?v=<tag>``; the tag is a digest of the live region itself, so the snapshot server can
answer "nothing new" (204) for it without any shared counter.

Rendering the files themselves is ``incidents/snapshot_render.py``; the static copy (``export``, and the
deployment's store mirrored into ``STATUSHUB_EXPORT_DIR``) is ``incidents/snapshot_export.py``.
"""

import functools
import hashlib
import json
import logging
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from incidents import selectors
from incidents.models import IncidentUpdate, PublicChange
from incidents.selectors import public_incidents
from incidents.snapshot_render import front_page, incident_files, render, site_wide
from incidents.verify_views import CHAIN_PAGE
from statushub.lib.snapshot_store import Store, snapshot_store

log = logging.getLogger(__name__)

BATCH = 2000  # change rows per transaction
CHUNK = 200  # incidents per query (and per process, when several render)

Progress = Callable[[int], object]


def _month_key(when: datetime) -> str:
    return f"{when.astimezone(UTC):%Y/%m}"  # the history pages' months are UTC months


def _month_path(key: str) -> str:
    year, month = key.split("/")
    return reverse("status:history-month", args=[int(year), int(month)])


def history_months(months: Iterable[str]) -> dict[str, bytes]:
    """The history pages of ``months`` and this month, and of their busy neighbours, whose links may have moved."""
    current = _month_key(timezone.now())
    wanted = {*months, current}
    for key in list(wanted):
        year, month = (int(part) for part in key.split("/"))
        page = selectors.history_month(year=year, month=month)
        for neighbour in (page.newer, page.older):
            if neighbour:
                wanted.add(f"{neighbour[0]}/{neighbour[1]:02d}")
    files = {}
    for key in sorted(wanted):
        body = render(_month_path(key))
        if body is not None:
            files[_month_path(key)] = body
    if _month_path(current) in files:
        files[reverse("status:history")] = files[_month_path(current)]
    return files


def _incident_meta_key(pk: int) -> str:
    return f"incident-{pk}"


def _refresh_incidents(
    store: Store,
    pks: Iterable[int],
    months: set[str],
    progress: Progress | None,
    failed: set[int] | None = None,
) -> int:
    """Render (or remove) the files of each incident; collects the history months they touch into ``months``.

    An incident that fails to render is logged and left as it was (into ``failed``): one bad row must not hold
    back the rest of the site.
    """
    written = 0
    early: list[int] = []  # files written ahead of the rest (an incident's page), counted in
    pks = sorted(set(pks))
    by_pk = {incident.pk: incident for incident in public_incidents().filter(pk__in=pks)}
    for pk in pks:
        meta = store.get_meta(_incident_meta_key(pk))
        before = meta if isinstance(meta, dict) else {}
        if before.get("month"):
            months.add(str(before["month"]))
        incident = by_pk.get(pk)
        files: dict[str, bytes] = {}
        if incident is not None and incident.acknowledged_at is not None:
            try:
                files = incident_files(incident, first=lambda pair: early.append(store.write(pair)))
            except Exception:
                log.exception(
                    "Incident %s could not be rendered into the snapshot; it keeps its old files", pk
                )
                if failed is not None:
                    failed.add(pk)
                continue
            months.add(_month_key(incident.acknowledged_at))
        removed = set(before.get("paths", [])) - set(files)
        written += store.write(files, removed)
        if files:
            month = _month_key(incident.acknowledged_at) if incident and incident.acknowledged_at else None
            store.set_meta(_incident_meta_key(pk), {"paths": sorted(files), "month": month})
        elif before:
            store.set_meta(_incident_meta_key(pk), {})
        if progress:
            progress(1)
    return written + sum(early)


def fingerprint() -> str:
    """What every file depends on besides the data: settings shown on pages, templates, static file names.

    A refresh that finds it changed (a renamed site, a new release) renders everything again.
    """
    digest = hashlib.sha256()
    for value in (
        settings.STATUSHUB_SITE_NAME,
        settings.STATUSHUB_SITE_URL,
        settings.STATUSHUB_TIME_ZONE,
        settings.STATUSHUB_WEBSUB_HUB,
        str(settings.STATUSHUB_POLL_SECONDS),
    ):
        digest.update(value.encode() + b"\0")
    digest.update(_code_digest())
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if manifest.exists():  # the hashed static names pages link to; canonical, so every node agrees
        digest.update(json.dumps(json.loads(manifest.read_text()).get("paths", {}), sort_keys=True).encode())
    return digest.hexdigest()[:16]


@functools.cache
def _code_digest() -> bytes:
    """Templates and the code that renders: they change only with a release, which restarts every process."""
    base = Path(settings.BASE_DIR)
    digest = hashlib.sha256()
    for source in [
        *sorted((base / "templates" / "status").glob("*.html")),
        *sorted((base / "incidents").glob("*.py")),  # views, selectors, documents, feeds: what renders
        *sorted((base / "incidents" / "templatetags").glob("*.py")),
    ]:
        digest.update(source.read_bytes())
    return digest.digest()


def differs_from_served() -> bool:
    """Whether the deployment's snapshot was rendered with other settings or templates than this process has."""
    try:
        site = snapshot_store().get_meta("site")
    except Exception:  # no store reachable: nothing to compare with
        return False
    return isinstance(site, dict) and site.get("fingerprint") not in (None, fingerprint())


def chain_pages(*, whole: bool) -> dict[str, bytes]:
    """The chain's pages: all of them (``whole``), or the first and the last two, the only ones a publish changes."""
    signed = IncidentUpdate.objects.exclude(signature="").order_by("seq").values_list("seq", flat=True)
    everything = list(signed) if whole else None  # one read instead of an OFFSET per page
    count = len(everything) if everything is not None else signed.count()
    last = max(0, (count - 1) // CHAIN_PAGE)
    files: dict[str, bytes] = {}
    for number in range(0, last + 1) if whole else sorted({0, max(0, last - 1), last}):
        # Page n starts after the seq of the (500·n)-th signed update, which is where page n-1's "next" points.
        if number == 0:
            path = reverse("status:chain")
        else:
            start = (everything or signed)[CHAIN_PAGE * number - 1]
            path = reverse("status:chain-page", args=[start])
        body = render(path)
        if body is not None:
            files[path] = body
    return files


def _write_site_wide(
    store: Store, months: set[str], *, complete: bool = True, whole_chain: bool = False
) -> int:
    """The front page first, then the rest. ``complete``: every incident is rendered as this release renders;
    ``whole_chain``: every page of the chain, not just the ones a publish changes."""
    front = front_page()
    written = store.write(front)  # first: the page most readers have open
    files = {**front, **site_wide()}
    pages = {**history_months(months), **chain_pages(whole=whole_chain)}
    before = store.get_meta("site")
    before = before if isinstance(before, dict) else {}
    written += store.write({**files, **pages}, removed=set(before.get("paths", [])) - set(files))
    # Month and chain pages stay once written (they never stop being valid pages); only the rest can go.
    kept = sorted({*before.get("kept", []), *(p for p in pages if p != reverse("status:history"))})
    store.set_meta(
        "site",
        {
            "paths": sorted(files),
            "kept": kept,
            "built_at": timezone.now().isoformat(),
            "fingerprint": fingerprint() if complete else before.get("fingerprint"),
        },
    )
    return written


def refresh(store: Store | None = None, *, heartbeat: Callable[[], object] | None = None) -> int:
    """Catch the snapshot up with every recorded change; returns how many files were written or removed.

    Runs in one Celery worker at a time (see ``tasks.refresh_snapshot``), calling ``heartbeat`` as it goes so
    the lock outlives a long run. With no snapshot yet, or one rendered with other settings or templates, builds
    it whole (the old files keep being served meanwhile).
    """
    store = store or snapshot_store()
    site = store.get_meta("site")
    if not isinstance(site, dict) or site.get("fingerprint") != fingerprint():
        return build(store, heartbeat=heartbeat)
    # What open pages poll, first: the front page now, each changed incident's page as soon as it is rendered,
    # the API, feeds, statements and history after (bench/live_update.py measures the wait).
    written = store.write(front_page())
    incidents = 0
    months: set[str] = set()
    more = True
    while more:
        done, count, more = _catch_up(store, months)
        written += done
        incidents += count
        if heartbeat:
            heartbeat()
    written += _write_site_wide(store, months)
    if written:
        log.info(
            "Snapshot refreshed: %d files written or removed, %d incidents re-rendered", written, incidents
        )
    return written


def _catch_up(store: Store, months: set[str], after: int = 0) -> tuple[int, int, bool]:
    """Render the incidents of one batch of recorded changes, then forget exactly those changes.

    No transaction is held while rendering (SQLite would hold its write lock): a change committed meanwhile
    has a row of its own, left for the next round. Returns (files written, incidents, whether more wait).
    """
    recorded = PublicChange.objects.filter(pk__gt=after).order_by("pk")
    changes = list(recorded.values_list("pk", "incident_id")[:BATCH])
    pks = {incident for _, incident in changes if incident}
    failed: set[int] = set()
    written = _refresh_incidents(store, pks, months, None, failed)
    # A failed incident keeps its change: it is tried again at the next refresh.
    PublicChange.objects.filter(pk__in=[pk for pk, incident in changes if incident not in failed]).delete()
    return written, len(pks), len(changes) == BATCH


def all_incident_pks() -> list[int]:
    return list(public_incidents().order_by("pk").values_list("pk", flat=True))


def build(
    store: Store,
    *,
    progress: Progress | None = None,
    pks: list[int] | None = None,
    consume_changes: bool = True,
    jobs: int = 1,
    heartbeat: Callable[[], object] | None = None,
) -> int:
    """Render every public file into ``store`` and remove any it holds that are no longer public.

    ``consume_changes``: the recorded changes are now in ``store`` (true of the deployment's own store only).
    ``jobs``: processes rendering incidents side by side (a long history renders at about 30 incidents a
    second per process).
    """
    recorded = list(PublicChange.objects.values_list("pk", flat=True)) if consume_changes else []
    pks = all_incident_pks() if pks is None else pks
    months = {
        _month_key(when) for when in public_incidents().datetimes("acknowledged_at", "month", tzinfo=UTC)
    }
    # Site-wide first: the front page, API and feeds are current at once, even if the history takes an hour.
    written = _write_site_wide(store, months, complete=False)
    if jobs > 1 and len(pks) > CHUNK:
        written += _render_in_processes(store, pks, set(), progress, jobs)
    else:
        for chunk in _chunks(pks, CHUNK):
            written += _refresh_incidents(store, chunk, set(), progress)
            if consume_changes:  # what is published meanwhile is not held back until the end
                touched: set[str] = set()
                caught_up, count, _ = _catch_up(store, touched, after=max(recorded, default=0))
                if count:
                    written += caught_up + _write_site_wide(store, touched, complete=False)
            if heartbeat:
                heartbeat()
    written += _write_site_wide(store, months, whole_chain=True)
    kept = _kept_paths(store, pks)
    stale = [path for path in store.paths() if path not in kept]
    written += store.write({}, removed=stale)
    # The changes recorded before the build began are all in it; later ones wait for the next refresh.
    PublicChange.objects.filter(pk__in=recorded).delete()
    return written


_forked_store: Store | None = None


def _render_chunk(pks: list[int]) -> tuple[int, set[str]]:
    assert _forked_store is not None  # set by the parent before it forked
    months: set[str] = set()
    return _refresh_incidents(_forked_store, pks, months, None), months


def _render_in_processes(
    store: Store, pks: list[int], months: set[str], progress: Progress | None, jobs: int
) -> int:
    """Forked processes share the store object; each opens its own database connection."""
    global _forked_store
    _forked_store = store
    connections.close_all()  # a forked child must not share the parent's connection
    written = 0
    context = multiprocessing.get_context("fork")
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = {pool.submit(_render_chunk, chunk): len(chunk) for chunk in _chunks(pks, CHUNK)}
            for future in as_completed(futures):
                count, touched = future.result()
                written += count
                months.update(touched)
                if progress:
                    progress(futures[future])
    finally:
        _forked_store = None
    return written


def _kept_paths(store: Store, pks: list[int]) -> set[str]:
    kept: set[str] = set()
    for key in ["site", *(_incident_meta_key(pk) for pk in pks)]:
        meta = store.get_meta(key)
        if isinstance(meta, dict):
            kept.update(meta.get("paths", []))
            kept.update(meta.get("kept", []))
    kept.add(reverse("status:history"))
    return kept


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
