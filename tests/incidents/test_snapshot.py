"""The public snapshot: rendered once per change, served without Django's database, sessions or CSRF."""

import gzip
import re
from collections.abc import Callable, Iterable
from io import BytesIO
from typing import Any

import pytest
import redis
from django.test import Client, override_settings
from django.urls import reverse

from incidents import services, snapshot
from incidents.models import AffectedComponent, IncidentUpdate, PublicChange
from statushub.lib.snapshot_store import FileStore, RedisStore, SnapshotUnavailable, snapshot_store
from statushub.serving import SnapshotApp

LIVE_V = re.compile(rb"\?v=[0-9a-z-]+")


class Inner:
    """Stands in for Django behind the snapshot server, recording what reached it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.calls.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
        start_response("418 I'm a teapot", [("Content-Type", "text/plain")])
        return [b"django"]


def wsgi_get(app: Any, path: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
    path, _, query = path.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "status.example",
        "SERVER_PORT": "80",
        "wsgi.input": BytesIO(),
        "wsgi.url_scheme": "http",
        **{f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()},
    }
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    body = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], body


@pytest.mark.django_db
def test_every_file_is_what_the_public_view_answers(site):
    store = snapshot_store()
    snapshot.build(store)
    client = Client()
    paths = sorted(store.paths())
    assert {"/", "/_live/", "/api/v2/summary.json", "/history.atom", f"/incidents/{site['open'].pk}/"} <= set(
        paths
    )
    assert not [p for p in paths if p.startswith(f"/incidents/{site['draft'].pk}")], "a draft leaked"
    for path in paths:
        stored = store.read(path)
        assert stored is not None
        if path.startswith("/updates/") and path.endswith("/"):
            target = client.get(path)["Location"]
            assert f'url={target}"'.encode() in stored.body  # the static stand-in for the 302
            # Channels post this address: it carries the link preview.
            assert b'<meta property="og:title" content="' in stored.body
            continue
        dynamic = client.get(path)
        assert dynamic.status_code == 200, path
        if dynamic.streaming:  # the favicon, a file
            assert stored.body == b"".join(dynamic.streaming_content), path  # type: ignore[attr-defined]
            continue
        # The poll tag is the only difference: a digest of the live region instead of the cache's counter.
        assert LIVE_V.sub(b"?v=", stored.body) == LIVE_V.sub(b"?v=", dynamic.content), path


@pytest.mark.django_db
def test_served_with_cache_headers_etag_and_no_cookie(site):
    snapshot.build(snapshot_store())
    inner = Inner()
    app = SnapshotApp(inner)

    status, headers, body = wsgi_get(app, "/", Cookie="sessionid=abc; csrftoken=x" + "y" * 40)
    assert status == 200
    assert b"Card payments failing" in body and b"We are &lt;investigating&gt; &amp; on it." in body
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=5, stale-while-revalidate=30, stale-if-error=86400"
    assert re.fullmatch(r'"[0-9a-f]{32}"', headers["ETag"])
    assert "Set-Cookie" not in headers and headers["Vary"] == "Accept-Encoding"  # never Cookie
    assert inner.calls == []

    status, again, body = wsgi_get(app, "/", If_None_Match=f'"nope", W/{headers["ETag"]}')
    assert (status, body) == (304, b"")
    assert again["ETag"] == headers["ETag"]

    status, head, body = wsgi_get(app, "/api/v2/summary.json", method="HEAD")
    assert status == 200 and body == b"" and int(head["Content-Length"]) > 100
    assert head["Access-Control-Allow-Origin"] == "*" and head["Content-Type"] == "application/json"

    _, live, _ = wsgi_get(app, "/_live/")
    # Polled every few seconds: a browser must not answer a poll with its previous answer while refetching.
    assert live["Cache-Control"] == "public, max-age=1, stale-if-error=86400"
    assert Client().get("/_live/")["Cache-Control"] == live["Cache-Control"], "the same without the snapshot"

    _, feed, _ = wsgi_get(app, "/history.atom")
    assert feed["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert feed["Link"] == '<http://localhost:8000/history.atom>; rel="self"'

    update = IncidentUpdate.objects.filter(incident=site["open"]).first()
    assert update is not None
    _, statement, body = wsgi_get(app, f"/updates/{update.public_id}/statement")
    assert statement["Content-Type"] == "application/octet-stream" and body == bytes(update.statement)


@pytest.mark.django_db
def test_browsers_that_take_gzip_get_a_compressed_copy(site):
    snapshot.build(snapshot_store())
    app = SnapshotApp(Inner())
    _, plain_headers, plain = wsgi_get(app, "/")

    status, headers, body = wsgi_get(app, "/", Accept_Encoding="br, gzip;q=0.8")
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == plain and len(body) < len(plain) / 3
    assert headers["ETag"] != plain_headers["ETag"], "each representation has its own strong ETag"
    assert wsgi_get(app, "/", Accept_Encoding="gzip", If_None_Match=headers["ETag"])[0] == 304
    assert wsgi_get(app, "/", Accept_Encoding="gzip", If_None_Match=plain_headers["ETag"])[0] == 200
    assert "Content-Encoding" not in wsgi_get(app, "/", Accept_Encoding="gzip;q=0, identity")[1]


def test_a_process_remembers_files_within_its_memory_budget(tmp_path):
    store = FileStore(tmp_path / "site", memory_bytes=10_000)
    store.write({f"/{n}.json": b"x" * 3000 for n in range(10)})
    for n in range(10):
        assert store.read(f"/{n}.json") is not None
    assert store.memory.used <= 10_000
    assert store.memory.get("/9.json") is not None and store.memory.get("/0.json") is None


@pytest.mark.django_db
def test_the_open_page_polls_and_hears_nothing_new_until_something_changes(site, publisher):
    store = snapshot_store()
    snapshot.build(store)
    app = SnapshotApp(Inner())
    _, _, page = wsgi_get(app, f"/incidents/{site['open'].pk}/")
    poll = re.search(rb'hx-get="([^"]+)"', page)
    assert poll is not None
    assert wsgi_get(app, poll.group(1).decode())[0] == 204

    services.update_publish(
        incident=site["open"], author=publisher, status="monitoring", body="Fix is rolling out."
    )
    snapshot.refresh(store)
    status, _, fresh = wsgi_get(app, poll.group(1).decode())
    assert status == 200 and b"Fix is rolling out." in fresh
    _, _, front = wsgi_get(app, "/")
    assert b"Fix is rolling out." in front or b"Monitoring" in front


@pytest.mark.django_db
def test_what_the_snapshot_does_not_hold_goes_on_to_django(site):
    snapshot.build(snapshot_store())
    inner = Inner()
    app = SnapshotApp(inner)
    assert wsgi_get(app, "/manage/")[0] == 418
    assert wsgi_get(app, "/subscribe/")[0] == 418
    assert wsgi_get(app, "/api/v1/incidents")[0] == 418
    assert wsgi_get(app, "/", method="POST")[0] == 418
    assert wsgi_get(app, "/.well-known/statushub/chain.json?after=3")[0] == 418
    assert wsgi_get(app, f"/incidents/{site['draft'].pk}/")[0] == 418  # Django answers its 404
    assert wsgi_get(app, "/../etc/passwd")[0] == 418
    assert inner.calls[0] == "GET /manage/"
    # Cache-busting query strings do not matter.
    assert wsgi_get(app, "/api/v2/status.json?_=123")[0] == 200


@pytest.mark.django_db
def test_a_refresh_renders_only_what_changed_and_removes_what_is_no_longer_public(site, publisher):
    store = snapshot_store()
    total = snapshot.build(store)
    assert not PublicChange.objects.exists()

    services.update_publish(
        incident=site["resolved"], author=publisher, status="resolved", body="Postmortem soon."
    )
    assert PublicChange.objects.filter(incident_id=site["resolved"].pk).exists()
    written = snapshot.refresh(store)
    assert 0 < written < total / 2
    incident_page = store.read(f"/incidents/{site['resolved'].pk}/")
    assert incident_page is not None and b"Postmortem soon." in incident_page.body
    assert not PublicChange.objects.exists()
    assert snapshot.refresh(store) == 0, "nothing changed, nothing rewritten"

    gone = site["resolved"]
    gone_paths = [p for p in store.paths() if p.startswith(f"/incidents/{gone.pk}")]
    statements = [f"/updates/{u.public_id}/statement" for u in gone.updates.all()]
    gone.delete()
    snapshot.refresh(store)
    assert all(store.read(path) is None for path in [*gone_paths, *statements])
    summary = store.read("/api/v2/incidents.json")
    assert summary is not None and b"Slow dashboard" not in summary.body


@pytest.mark.django_db
def test_a_component_rename_reaches_the_pages_of_incidents_that_named_it(site):
    store = snapshot_store()
    snapshot.build(store)
    AffectedComponent.objects.create(incident=site["open"], component=site["api"], status="partial_outage")
    snapshot.refresh(store)
    site["api"].name = "Payments Gateway"  # a rename in the admin: a plain save
    site["api"].save()
    snapshot.refresh(store)
    page = store.read(f"/incidents/{site['open'].pk}/")
    assert page is not None and b"Payments Gateway" in page.body


@pytest.mark.parametrize("kind", ["file", "redis"])
def test_both_stores_keep_files_atomically_and_answer_the_same(kind, tmp_path, settings):
    if kind == "redis":
        if not settings.STATUSHUB_SNAPSHOT_REDIS_URL:
            pytest.skip("needs REDIS_URL")
        store: Any = RedisStore(
            settings.STATUSHUB_SNAPSHOT_REDIS_URL, prefix=f"{settings.STATUSHUB_SNAPSHOT_PREFIX}:t"
        )
    else:
        store = FileStore(tmp_path / "site")
    try:
        assert store.write({"/": b"<p>home</p>", "/a/b.json": b"{}", "/updates/x/statement": b"\x00sig"}) == 3
        assert store.write({"/": b"<p>home</p>"}) == 0, "unchanged bytes are not rewritten"
        assert sorted(store.paths()) == ["/", "/a/b.json", "/updates/x/statement"]
        home = store.read("/")
        assert home is not None and home.body == b"<p>home</p>"
        store.write({"/": b"<p>new</p>"}, removed=["/a/b.json"])
        if kind == "redis":
            store._checked_at = 0.0  # another process would notice within its recheck interval
        changed = store.read("/")
        assert changed is not None and changed.body == b"<p>new</p>" and changed.etag != home.etag
        assert store.read("/a/b.json") is None and store.read("/missing/") is None
        store.set_meta("site", {"paths": ["/"]})
        assert store.get_meta("site") == {"paths": ["/"]}
        if kind == "file":
            assert (tmp_path / "site" / "index.html").read_bytes() == b"<p>new</p>"
            assert (tmp_path / "site" / "updates" / "x" / "statement").read_bytes() == b"\x00sig"
    finally:
        store.clear()


def test_the_redis_store_keeps_answering_from_memory_when_redis_is_down(settings):
    if not settings.STATUSHUB_SNAPSHOT_REDIS_URL:
        pytest.skip("needs REDIS_URL")
    store = RedisStore(
        settings.STATUSHUB_SNAPSHOT_REDIS_URL, prefix=f"{settings.STATUSHUB_SNAPSHOT_PREFIX}:down"
    )
    try:
        store.write({"/": b"<p>last known</p>"})
        assert store.read("/") is not None
        live_client = store.client
        store.client = redis.Redis(
            host="127.0.0.1", port=1, socket_connect_timeout=0.2
        )  # nothing listens there
        store._checked_at = 0.0
        remembered = store.read("/")
        assert remembered is not None and remembered.body == b"<p>last known</p>"
        with pytest.raises(SnapshotUnavailable):
            store.read("/never-read/")
        store.client = live_client
    finally:
        store.clear()


def test_paths_cannot_escape_the_store(tmp_path):
    store = FileStore(tmp_path / "site")
    (tmp_path / "secret").write_text("no")
    assert store.read("/../secret") is None
    with pytest.raises(ValueError):
        store.write({"/../secret": b"x"})


@pytest.mark.django_db
@override_settings(STATUSHUB_SNAPSHOT_SERVING=False)
def test_serving_from_the_snapshot_can_be_switched_off(site):
    snapshot.build(snapshot_store())
    inner = Inner()
    assert wsgi_get(SnapshotApp(inner), "/")[0] == 418


@pytest.mark.django_db
def test_the_snapshot_command_rebuilds_and_reports(site, capsys):
    from django.core.management import call_command

    call_command("snapshot", "--rebuild", "--no-progress")
    out = capsys.readouterr().out
    assert "files written or removed" in out and "0 changes still waiting" in out
    assert snapshot_store().read(reverse("status:page")) is not None


@pytest.mark.django_db
def test_history_months_stay_and_their_neighbours_links_follow_a_new_busy_month(make_incident, publisher):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    old = make_incident("Old outage", acknowledged_at=now - timedelta(days=200))
    IncidentUpdate.objects.filter(incident=old).update(published_at=now - timedelta(days=200))
    old.acknowledged_at = now - timedelta(days=200)
    old.save()
    store = snapshot_store()
    snapshot.build(store)
    old_month = reverse("status:history-month", args=[old.acknowledged_at.year, old.acknowledged_at.month])
    assert store.read(old_month) is not None

    middle = make_incident("Middle outage")
    middle.acknowledged_at = now - timedelta(days=100)
    middle.save()
    snapshot.refresh(store)

    old_page = store.read(old_month)
    assert old_page is not None, "a refresh of this month must not drop older months"
    middle_month = reverse(
        "status:history-month", args=[middle.acknowledged_at.year, middle.acknowledged_at.month]
    )
    assert middle_month.encode() in old_page.body, "the old month now links to the newer busy month"
    assert store.read(middle_month) is not None


@pytest.mark.django_db
def test_a_renamed_site_is_rendered_again_whole(site, settings):
    store = snapshot_store()
    snapshot.build(store)
    settings.STATUSHUB_SITE_NAME = "Northwind Cloud"
    snapshot.refresh(store)
    for path in ("/", f"/incidents/{site['open'].pk}/", "/api/v2/status.json"):
        found = store.read(path)
        assert found is not None and b"Northwind Cloud" in found.body, path


def test_both_stores_give_the_same_gzip_for_the_same_file(tmp_path):
    body = b"<p>" + b"status " * 500 + b"</p>"
    store = FileStore(tmp_path / "site")
    store.write({"/": body})
    found = store.read("/")
    assert found is not None and found.gzipped is not None and gzip.decompress(found.gzipped) == body


def test_made_up_addresses_cannot_grow_a_processs_memory(tmp_path):
    store = FileStore(tmp_path / "site", memory_bytes=50_000)
    for n in range(5_000):
        assert store.read(f"/incidents/1/x{n}") is None
    assert store.memory.used <= 50_000


@pytest.mark.django_db
def test_an_incident_that_fails_to_render_does_not_hold_back_the_rest(site, publisher, monkeypatch, caplog):
    store = snapshot_store()
    snapshot.build(store)
    real = snapshot.incident_files

    def broken(incident, **kwargs):
        if incident.pk == site["resolved"].pk:
            raise ValueError("a template bug on odd data")
        return real(incident, **kwargs)

    monkeypatch.setattr(snapshot, "incident_files", broken)
    services.update_publish(incident=site["resolved"], author=publisher, status="resolved", body="Odd.")
    services.update_publish(
        incident=site["open"], author=publisher, status="monitoring", body="Still moving."
    )
    snapshot.refresh(store)

    front = store.read("/")
    assert front is not None and b"Still moving." in front.body
    assert f"Incident {site['resolved'].pk} could not be rendered" in caplog.text
    assert PublicChange.objects.filter(incident_id=site["resolved"].pk).exists(), "tried again next time"
    assert not PublicChange.objects.filter(incident_id=site["open"].pk).exists()


@pytest.mark.django_db
def test_a_change_recorded_during_a_build_is_not_lost(site, publisher, monkeypatch):
    store = snapshot_store()
    real = snapshot._refresh_incidents
    published: list[bool] = []

    def meanwhile(*args, **kwargs):
        if not published:  # another transaction commits while the build renders
            published.append(True)
            services.update_publish(
                incident=site["open"], author=publisher, status="monitoring", body="Late."
            )
        return real(*args, **kwargs)

    monkeypatch.setattr(snapshot, "_refresh_incidents", meanwhile)
    snapshot.build(store)
    monkeypatch.setattr(snapshot, "_refresh_incidents", real)
    snapshot.refresh(store)
    page = store.read(f"/incidents/{site['open'].pk}/")
    assert page is not None and b"Late." in page.body


@pytest.mark.django_db
def test_only_the_chain_page_takes_after_from_the_query(site):
    snapshot.build(snapshot_store())
    inner = Inner()
    app = SnapshotApp(inner)
    assert wsgi_get(app, "/?after=1")[0] == 200
    assert wsgi_get(app, "/api/v2/summary.json?utm_after=x")[0] == 200
    assert wsgi_get(app, "/.well-known/statushub/chain.json?after=1")[0] == 418
    assert inner.calls == ["GET /.well-known/statushub/chain.json"]


@pytest.mark.django_db
def test_every_page_of_the_chain_is_in_the_snapshot_and_a_publish_adds_the_next(site, publisher, monkeypatch):
    import json

    from incidents import verify_views

    monkeypatch.setattr(verify_views, "CHAIN_PAGE", 1)
    monkeypatch.setattr(snapshot, "CHAIN_PAGE", 1)
    store = snapshot_store()
    snapshot.build(store)
    app = SnapshotApp(Inner())

    def walk() -> list[int]:
        seqs, url = [], "/.well-known/statushub/chain.json"
        while url:
            status, _, body = wsgi_get(app, url)
            assert status == 200, url  # from the snapshot: no query string a static host would ignore
            page = json.loads(body)
            seqs += [entry["seq"] for entry in page["entries"]]
            url = page["next"] and page["next"].removeprefix("http://localhost:8000")
        return seqs

    signed = [
        seq
        for seq in IncidentUpdate.objects.exclude(signature="").order_by("seq").values_list("seq", flat=True)
        if seq
    ]
    assert walk() == signed and len(signed) >= 3
    services.update_publish(incident=site["open"], author=publisher, status="monitoring", body="Next page.")
    snapshot.refresh(store)
    assert walk() == [*signed, signed[-1] + 1]


@pytest.mark.django_db
def test_a_refresh_writes_the_pages_readers_have_open_before_the_rest(site, publisher):
    store = snapshot_store()
    snapshot.build(store)
    writes: list[set[str]] = []
    original = store.write

    def recording(files: dict[str, bytes], removed: Iterable[str] = ()) -> int:
        writes.append(set(files))
        return original(files, removed)

    store.write = recording  # type: ignore[method-assign]
    incident = site["open"]
    services.update_publish(incident=incident, author=publisher, status="monitoring", body="Fix is out.")

    assert snapshot.refresh(store) > 0

    assert writes[0] == {"/", "/_live/"}
    assert writes[1] == {f"/incidents/{incident.pk}/", f"/incidents/{incident.pk}/_live/"}
    page = store.read(f"/incidents/{incident.pk}/")
    assert page is not None and b"Fix is out." in page.body


@pytest.mark.django_db
def test_the_snapshot_and_the_export_answer_favicon_ico_without_the_app(site):
    """Browsers ask /favicon.ico of every host: the snapshot server (and a static export) answer it too."""
    snapshot.build(snapshot_store())
    inner = Inner()

    status, headers, body = wsgi_get(SnapshotApp(inner), "/favicon.ico")

    assert status == 200 and body[:4] == b"\x00\x00\x01\x00"
    assert headers["Content-Type"] == "image/x-icon" and not inner.calls
