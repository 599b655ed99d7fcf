"""The snapshot as people meet it: a real worker refreshes it after a publish, a real app server answers from it,
and the public site stays up when the database does not."""

import contextlib
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from incidents import services, snapshot
from statushub.lib.snapshot_store import snapshot_store
from statushub.serving import SnapshotApp
from tests.conftest import collect_static_for_subprocesses, free_port, running_server
from tests.incidents.test_snapshot import Inner, wsgi_get

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


class TcpProxy:
    """A loopback TCP relay to PostgreSQL that the test can cut, as a network partition or a dead database would."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.open = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.open:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open = False
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked in the other thread
        self.listener.close()
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


@pytest.fixture
def app_server(tmp_path: Path) -> Iterator[tuple[str, TcpProxy]]:
    """The app server running statushub.wsgi, as in production, reaching the test database through a cuttable proxy."""
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("needs DATABASE_URL (PostgreSQL) and REDIS_URL, as scripts/test.sh sets them")
    collect_static_for_subprocesses()
    db = connection.settings_dict
    proxy = TcpProxy((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "statushub.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{proxy.port}/{db['NAME']}",
        "CACHE_KEY_PREFIX": str(settings.CACHES["default"]["KEY_PREFIX"]),
        "STATUSHUB_SNAPSHOT_PREFIX": settings.STATUSHUB_SNAPSHOT_PREFIX,
        "STATUSHUB_SNAPSHOT_DIR": str(settings.STATUSHUB_SNAPSHOT_DIR),
    }
    base = f"http://127.0.0.1:{port}"
    # granian, as production runs it (chosen by bench/surge.py).
    command = [sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", "2", "--blocking-threads", "2",
               "--host", "127.0.0.1", "--port", str(port), "statushub.wsgi:application"]  # fmt: skip
    try:
        with running_server(command, url=f"{base}/api/v2/status.json", log=tmp_path / "web.log", env=env):
            yield base, proxy
    finally:
        proxy.cut()


def test_with_the_database_unreachable_the_public_site_is_still_served(
    app_server, make_component, make_incident
):
    base, proxy = app_server
    make_component("Payments API")
    incident = make_incident("Card payments failing", body="We are investigating failed card payments.")
    snapshot.build(snapshot_store())
    paths = [
        "/",
        "/_live/",
        f"/incidents/{incident.pk}/",
        "/api/v2/summary.json",
        "/history.atom",
        "/history/",
    ]
    before = {path: httpx.get(base + path) for path in paths}
    assert all(response.status_code == 200 for response in before.values())
    # What the snapshot does not hold goes on to Django, which asks the database (through the proxy).
    assert httpx.get(f"{base}/incidents/999999/").status_code == 404

    proxy.cut()

    for path in paths:
        during = httpx.get(base + path)
        assert during.status_code == 200, path
        assert during.content == before[path].content, path
        assert during.headers["etag"] == before[path].headers["etag"]
        assert "set-cookie" not in during.headers
    assert (
        b"We are investigating failed card payments." in httpx.get(f"{base}/incidents/{incident.pk}/").content
    )
    conditional = httpx.get(f"{base}/", headers={"If-None-Match": before["/"].headers["etag"]})
    assert conditional.status_code == 304
    # What needs the database fails, rather than hanging or serving something wrong.
    assert httpx.get(f"{base}/incidents/999999/", timeout=30).status_code >= 500


def test_a_publish_is_served_from_the_snapshot_within_a_second(
    threaded_worker, make_incident, publisher, capsys
):
    incident = make_incident("Card payments failing")
    snapshot.build(snapshot_store())
    app = SnapshotApp(Inner())
    path = f"/incidents/{incident.pk}/"

    services.update_publish(
        incident=incident, author=publisher, status="identified", body="Certificate renewed."
    )
    committed = time.monotonic()
    seen: dict[str, float] = {}
    while len(seen) < 2:
        for url in (path, "/"):
            if url not in seen and re.search(rb"Certificate renewed\.|Identified", wsgi_get(app, url)[2]):
                seen[url] = time.monotonic() - committed
        assert time.monotonic() - committed < 10, f"not in the snapshot after 10 s; seen {seen}"
        time.sleep(0.02)
    with capsys.disabled():
        print(
            f"\n  publish → served from the snapshot: incident page {seen[path]:.2f} s, front page {seen['/']:.2f} s"
        )
    # A loaded CI machine gets slack; the demo and the benchmarks measure it at about a third of a second.
    assert max(seen.values()) < 3.0
