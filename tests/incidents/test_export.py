"""``statushub export``: the public site as static files, byte for byte what the app serves, switched atomically."""

import os
import shutil
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from incidents import services, snapshot, snapshot_export, tasks
from statushub.lib import security_headers
from statushub.lib.snapshot_store import snapshot_store
from statushub.serving import SnapshotApp
from tests.conftest import free_port, running_server
from tests.incidents.test_snapshot import Inner, wsgi_get

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SECURITY_HEADERS = [name for name, _ in security_headers.HEADERS]


def _exported_files(root: Path) -> dict[str, bytes]:
    files = {}
    for path in root.rglob("*"):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not relative.startswith((".statushub/", "static/", "media/")):
            files[relative] = path.read_bytes()
    return files


def test_the_export_holds_exactly_the_bytes_the_app_serves(site, tmp_path, capsys):
    snapshot.build(snapshot_store())
    app = SnapshotApp(Inner())
    target = tmp_path / "site"

    call_command("export", str(target), "--no-progress")

    assert "Exported" in capsys.readouterr().out
    assert target.is_symlink()
    exported = _exported_files(target)
    served_paths = sorted(snapshot_store().paths())
    assert len(exported) == len(served_paths) > 20
    for path in served_paths:
        status, _, body = wsgi_get(app, path)
        name = path.lstrip("/") + ("index.html" if path.endswith("/") else "")
        assert status == 200 and exported[name] == body, path


def test_a_new_export_replaces_the_old_at_once_and_keeps_the_previous_ones(site, publisher, tmp_path):
    target = tmp_path / "site"
    first = snapshot_export.export(target, keep=1)
    services.update_publish(
        incident=site["open"], author=publisher, status="monitoring", body="Watching closely."
    )

    second = snapshot_export.export(target, keep=1)
    third = snapshot_export.export(target, keep=1)

    assert os.path.realpath(target) == str(third.version_dir)
    assert b"Watching closely." in (target / "incidents" / str(site["open"].pk) / "index.html").read_bytes()
    assert second.version_dir.exists(), "the previous export stays, to roll back by hand"
    assert not first.version_dir.exists(), "older ones are removed"


def test_export_warns_when_it_would_not_match_what_visitors_see(site, tmp_path, settings, capsys):
    snapshot.build(snapshot_store())
    settings.STATUSHUB_SITE_NAME = "Not what the server says"
    call_command("export", str(tmp_path / "site"), "--no-progress")
    assert "with other settings" in capsys.readouterr().err


def test_export_refuses_to_replace_a_directory_that_is_not_an_export(tmp_path, site):
    target = tmp_path / "www"
    target.mkdir()
    (target / "index.html").write_text("someone else's site")
    with pytest.raises(CommandError, match="not a StatusHub export"):
        call_command("export", str(target), "--no-progress")
    assert (target / "index.html").read_text() == "someone else's site"


def test_a_configured_export_is_kept_in_step_after_each_change_and_pushed(site, publisher, tmp_path):
    target = tmp_path / "mirror"
    pushed = tmp_path / "pushed"
    command = f"cp {{dir}}/incidents/{site['open'].pk}/index.html {pushed}"
    with override_settings(STATUSHUB_EXPORT_DIR=str(target), STATUSHUB_EXPORT_COMMAND=command):
        snapshot.build(snapshot_store())
        services.update_publish(
            incident=site["open"], author=publisher, status="monitoring", body="Mirrored."
        )
        tasks.refresh_snapshot()

    page = (target / "incidents" / str(site["open"].pk) / "index.html").read_bytes()
    assert b"Mirrored." in page
    assert pushed.read_bytes() == page, "the push command ran after the export changed"
    served = snapshot_store().read(f"/incidents/{site['open'].pk}/")
    assert served is not None
    assert served.body == page


def _nginx(
    tmp_path: Path, config_name: str, replacements: dict[str, str], *, before: str = ""
) -> tuple[list[str], int]:
    """nginx running one of the shipped configs (``before``: a file included ahead of it, at http level)."""
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (scripts/test.sh installs it)")
    port = free_port()
    config = (REPO / "deploy" / "nginx" / config_name).read_text()
    config = config.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    if before:
        config = (REPO / "deploy" / "nginx" / before).read_text() + config
    for old, new in replacements.items():
        assert old in config
        config = config.replace(old, new)
    (tmp_path / "nginx.conf").write_text(
        # As root, nginx's workers would drop to "nobody", who cannot read pytest's private temporary folders.
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 1;\nerror_log {tmp_path}/error.log;\npid {tmp_path}/nginx.pid;\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{\n access_log off;\n client_body_temp_path {tmp_path}/body;\n proxy_temp_path {tmp_path}/proxy;\n"
        f" fastcgi_temp_path {tmp_path}/fcgi;\n uwsgi_temp_path {tmp_path}/uwsgi;\n scgi_temp_path {tmp_path}/scgi;\n"
        f"{config}\n}}\n"
    )
    return [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"], port


@pytest.fixture
def nginx(tmp_path):
    root = tmp_path / "site"
    command, port = _nginx(
        tmp_path,
        "statushub-static.conf",
        {"/srv/statushub/site": str(root), "https://status.example.com": "http://localhost:8000"},
    )
    base = f"http://127.0.0.1:{port}"
    with running_server(command, url=base, log=tmp_path / "nginx.out"):
        yield root, base


def test_nginx_with_the_shipped_config_serves_the_export_as_the_app_does(site, nginx):
    root, base = nginx
    snapshot.build(snapshot_store())
    snapshot_export.export(root)
    app = SnapshotApp(Inner())

    for path in sorted(snapshot_store().paths()):
        _, headers, body = wsgi_get(app, path)
        answer = httpx.get(base + path)
        assert answer.status_code == 200, path
        assert answer.content == body, path
        for name in (
            "Content-Type",
            "Cache-Control",
            "Access-Control-Allow-Origin",
            "Content-Disposition",
            "Link",
            *SECURITY_HEADERS,
        ):
            if name == "Link":
                continue  # the app names its configured site URL; nginx the host it was asked for
            assert answer.headers.get(name) == headers.get(name), (path, name)
        assert "set-cookie" not in answer.headers
        assert "strict-transport-security" not in answer.headers, "HSTS over plain http"

    for path in ("/static/statushub/status.css", "/media/"):
        for name, value in security_headers.HEADERS:
            assert httpx.get(base + path).headers.get(name) == value, (path, name)
    page = httpx.get(f"{base}/")
    assert httpx.get(f"{base}/", headers={"If-None-Match": page.headers["etag"]}).status_code == 304
    feed = httpx.get(f"{base}/history.atom")
    assert feed.headers["link"] == '<http://localhost:8000/history.atom>; rel="self"'
    assert httpx.get(f"{base}/.statushub/site.json").status_code == 404, (
        "the export's bookkeeping stays private"
    )
    assert httpx.get(f"{base}/incidents/{site['draft'].pk}/").status_code == 404
    preflight = httpx.options(f"{base}/api/v2/summary.json")
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == "*"
    assert httpx.get(f"{base}/_live/?v=anything").content == (root / "_live" / "index.html").read_bytes()


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_nginx_with_the_shipped_config_sends_hsts_over_https_as_the_app_does(site, tmp_path, settings):
    settings.SECURE_HSTS_SECONDS = 365 * 24 * 3600  # the app's defaults for an https site URL
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = settings.SECURE_HSTS_PRELOAD = True
    root = tmp_path / "site"
    snapshot.build(snapshot_store())
    snapshot_export.export(root)
    cert, key = _self_signed(tmp_path)
    command, port = _nginx(
        tmp_path,
        "statushub-static.conf",
        {
            "/srv/statushub/site": str(root),
            "server_name _;": f"server_name _; ssl_certificate {cert}; ssl_certificate_key {key};",
        },
    )
    config = (tmp_path / "nginx.conf").read_text()
    (tmp_path / "nginx.conf").write_text(config.replace(f"127.0.0.1:{port};", f"127.0.0.1:{port} ssl;"))
    base = f"https://127.0.0.1:{port}"
    # Plain http to the TLS port gets nginx's 400: enough to know it listens.
    with running_server(command, url=f"http://127.0.0.1:{port}", log=tmp_path / "nginx.out"):
        page = httpx.get(f"{base}/", verify=ssl.create_default_context(cafile=str(cert)))

    (hsts,) = security_headers.transport_headers()
    assert page.status_code == 200 and page.headers["strict-transport-security"] == hsts[1]
    for name, value in security_headers.HEADERS:
        assert page.headers.get(name) == value, name


@pytest.mark.django_db(transaction=True)
def test_the_statushub_command_exports_with_a_progress_bar(site, tmp_path):
    from tests.conftest import _database_url, collect_static_for_subprocesses

    collect_static_for_subprocesses()  # the real settings name static files through collectstatic's manifest
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "statushub.settings",
        "DATABASE_URL": _database_url(),
        "STATUSHUB_SITE_URL": "http://localhost:8000",
    }
    done = subprocess.run(
        [shutil.which("statushub") or "statushub", "export", str(tmp_path / "out")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Exporting" in done.stderr and "2/2" in done.stderr  # the progress bar, over both public incidents
    assert "Exported" in done.stdout and (tmp_path / "out" / "index.html").exists()

    again = subprocess.run(
        ["statushub", "export", str(tmp_path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 1 and "is not a StatusHub export" in again.stderr


def test_the_proxy_config_serves_the_export_when_every_web_node_is_down(site, tmp_path):
    root = tmp_path / "site"
    snapshot.build(snapshot_store())
    snapshot_export.export(root)
    dead = free_port()  # nothing listens there: both "web nodes" are down
    command, port = _nginx(
        tmp_path,
        "statushub-proxy.conf",
        {
            "server 10.0.0.11:8000": f"server 127.0.0.1:{dead}",
            "server 10.0.0.12:8000": f"server 127.0.0.1:{dead}",
            "/srv/statushub/site": str(root),
            "https://status.example.com": "http://localhost:8000",
        },
        before="statushub-maps.conf",
    )
    base = f"http://127.0.0.1:{port}"
    with running_server(command, url=base, log=tmp_path / "nginx.out"):
        page = httpx.get(f"{base}/")
        summary = httpx.get(f"{base}/api/v2/summary.json")
        manage = httpx.get(f"{base}/manage/")
        live = httpx.get(f"{base}/_live/")
        feed = httpx.get(f"{base}/history.atom")
        bookkeeping = httpx.get(f"{base}/.statushub/site.json")

    assert page.status_code == 200 and page.headers["x-statushub-served-from"] == "export"
    assert page.content == (root / "index.html").read_bytes()
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert summary.status_code == 200 and summary.headers["content-type"] == "application/json"
    assert manage.status_code == 503, "what only the app can answer says so"
    assert (
        summary.headers["access-control-allow-origin"] == "*"
        and "access-control-allow-origin" not in page.headers
    )
    assert live.headers["cache-control"] == "public, max-age=1, stale-if-error=86400"
    assert (
        feed.headers["link"] == '<http://localhost:8000/history.atom>; rel="self"'
        and "link" not in page.headers
    )
    assert bookkeeping.status_code == 404
    for name, value in security_headers.HEADERS:
        assert page.headers.get(name) == value and summary.headers.get(name) == value, name
    assert "strict-transport-security" not in page.headers, "HSTS over plain http"


@pytest.mark.django_db(transaction=True)
def test_several_processes_export_the_same_files_as_one(site, tmp_path, monkeypatch):
    monkeypatch.setattr(snapshot, "CHUNK", 1)  # one incident per process task, so both processes work
    one = snapshot_export.export(tmp_path / "one", jobs=1)
    two = snapshot_export.export(tmp_path / "two", jobs=2)
    assert one.files == two.files
    assert _exported_files(tmp_path / "one") == _exported_files(tmp_path / "two")


def test_a_copy_that_cannot_be_written_never_holds_the_public_site_back(site, publisher, tmp_path, caplog):
    target = tmp_path / "mirror"
    with override_settings(STATUSHUB_EXPORT_DIR=str(target)):
        snapshot.build(snapshot_store())
        tasks.refresh_snapshot()  # exports the copy
        version = target.resolve()
        version.chmod(0o500)  # e.g. a read-only mount
        (version / "incidents").chmod(0o500)
        try:
            services.update_publish(
                incident=site["open"], author=publisher, status="monitoring", body="Onward."
            )
            tasks.refresh_snapshot()
        finally:
            version.chmod(0o755)
            (version / "incidents").chmod(0o755)
    served = snapshot_store().read(f"/incidents/{site['open'].pk}/")
    assert served is not None and b"Onward." in served.body
    if os.geteuid() != 0:  # root writes through read-only modes
        assert "could not be updated" in caplog.text


def test_a_configured_copy_in_a_directory_that_is_not_an_export_is_refused_but_serving_goes_on(
    site, publisher, tmp_path, caplog
):
    target = tmp_path / "www"
    target.mkdir()
    (target / "index.html").write_text("someone else's site")
    with override_settings(STATUSHUB_EXPORT_DIR=str(target)):
        snapshot.build(snapshot_store())
        services.update_publish(incident=site["open"], author=publisher, status="monitoring", body="Served.")
        tasks.refresh_snapshot()
    assert (target / "index.html").read_text() == "someone else's site"
    assert "Could not export the static copy" in caplog.text
    served = snapshot_store().read(f"/incidents/{site['open'].pk}/")
    assert served is not None and b"Served." in served.body


def test_the_push_command_takes_a_directory_with_spaces(site, publisher, tmp_path):
    target = tmp_path / "status site"
    marker = tmp_path / "pushed"
    with override_settings(
        STATUSHUB_EXPORT_DIR=str(target), STATUSHUB_EXPORT_COMMAND=f"cp -r {{dir}}/_live {marker}"
    ):
        snapshot.build(snapshot_store())
        services.update_publish(incident=site["open"], author=publisher, status="monitoring", body="Pushed.")
        tasks.refresh_snapshot()
    assert (marker / "index.html").exists()
