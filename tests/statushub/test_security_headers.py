"""Every answer carries the security headers, whether Django renders it or the snapshot server sends it."""

import base64
import hashlib

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.mail import send_mail

from incidents import snapshot
from statushub.lib.snapshot_store import snapshot_store
from statushub.serving import SnapshotApp
from tests.incidents.test_snapshot import Inner, wsgi_get

pytestmark = pytest.mark.django_db

HSTS = "max-age=31536000; includeSubDomains; preload"


def _directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for directive in policy.split(";"):
        name, *values = directive.split()
        parsed[name] = values
    return parsed


def assert_protected(headers, where: str) -> None:
    """The headers a user's browser relies on: no injected script runs, no page is framed, nothing is sniffed."""
    policy = headers.get("Content-Security-Policy")
    assert policy, f"{where}: no Content-Security-Policy"
    directives = _directives(policy)
    scripts = directives.get("script-src", directives.get("default-src"))
    assert scripts == ["'self'"], f"{where}: scripts may come from {scripts}"
    styles = directives.get("style-src", directives.get("default-src")) or []
    assert "'unsafe-inline'" not in styles, f"{where}: inline styles allowed"
    assert directives["object-src"] == ["'none'"] and directives["base-uri"] == ["'none'"], where
    assert directives["frame-ancestors"] == ["'none'"], f"{where}: may be framed"
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), where


@pytest.fixture
def https_settings(settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    return settings


def test_every_snapshot_answer_carries_the_security_headers(site):
    snapshot.build(snapshot_store())
    app = SnapshotApp(Inner())
    paths = sorted(snapshot_store().paths())
    assert len(paths) > 20

    for path in paths:
        status, headers, _ = wsgi_get(app, path)
        assert status == 200, path
        assert_protected(headers, path)
        assert "Strict-Transport-Security" not in headers, f"{path}: HSTS over plain http"


def test_unchanged_and_not_modified_snapshot_answers_carry_them_too(site):
    snapshot.build(snapshot_store())
    app = SnapshotApp(Inner())
    _, headers, _ = wsgi_get(app, "/")

    status, not_modified, _ = wsgi_get(app, "/", If_None_Match=headers["ETag"])

    assert status == 304
    assert_protected(not_modified, "304 of /")


def test_snapshot_answers_over_https_carry_hsts(site, https_settings):
    snapshot.build(snapshot_store())
    app = SnapshotApp(Inner())

    status, over_https, _ = wsgi_get(app, "/", X_Forwarded_Proto="https")
    _, over_http, _ = wsgi_get(app, "/", X_Forwarded_Proto="http")

    assert status == 200 and over_https["Strict-Transport-Security"] == HSTS
    assert "Strict-Transport-Security" not in over_http


def test_with_ssl_redirect_a_plain_http_request_is_redirected_not_served_from_the_snapshot(
    site, https_settings
):
    https_settings.SECURE_SSL_REDIRECT = True
    https_settings.ALLOWED_HOSTS = ["status.example"]
    snapshot.build(snapshot_store())
    app = SnapshotApp(WSGIHandler())

    status, headers, _ = wsgi_get(app, "/history/", X_Forwarded_Proto="http")

    assert status == 301 and headers["Location"] == "https://status.example/history/"
    status, headers, _ = wsgi_get(app, "/history/", X_Forwarded_Proto="https")
    assert status == 200 and headers["Strict-Transport-Security"] == HSTS


PUBLIC_PAGES = [
    "/",
    "/_live/",
    "/history/",
    "/history.atom",
    "/subscribe/",
    "/api/v2/summary.json",
    "/.well-known/statushub/keys.json",
    "/no-such-page/",
]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_rendered_by_django_carry_the_security_headers(client, site, path):
    response = client.get(path)
    assert response.status_code in (200, 404), path
    assert_protected(response, path)


def test_an_incident_page_rendered_by_django_carries_them(client, site):
    path = f"/incidents/{site['open'].pk}/"
    assert_protected(client.get(path), path)


TEAM_PAGES = [
    "/manage/",
    "/manage/channels/",
    "/manage/keys/",
    "/manage/tokens/",
    "/manage/profile/",
    "/admin/",
    "/admin/login/",
    "/admin/incidents/incident/",
    "/admin/incidents/incident/add/",
    "/admin/incidents/component/",
]


@pytest.mark.parametrize("path", TEAM_PAGES)
def test_team_pages_carry_the_security_headers(client, admin_user, site, path):
    if path != "/admin/login/":
        client.force_login(admin_user)
    response = client.get(path)
    assert response.status_code == 200, path
    assert_protected(response, path)


def test_the_team_pages_answer_to_anonymous_visitors_carries_them(client):
    response = client.get("/manage/")
    assert response.status_code == 302
    assert_protected(response, "redirect to login")


@pytest.mark.parametrize("path", ["/api/v1/token", "/api/v1/openapi.json", "/api/v1/docs"])
def test_the_api_carries_the_security_headers(client, path):
    response = client.get(path)
    assert_protected(response, path)


def test_hsts_is_sent_over_https_only(client, site, https_settings):
    over_https = client.get("/history/", headers={"X-Forwarded-Proto": "https"})
    over_http = client.get("/history/")

    assert over_https["Strict-Transport-Security"] == HSTS
    assert "Strict-Transport-Security" not in over_http


def test_the_outbox_allows_exactly_its_mails_style_attributes_by_hash(client, admin_user, settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "mail"
    send_mail(
        "Confirm", "Hello", None, ["reader@example.com"], html_message='<p style="color:#52606d">Hi</p>'
    )
    client.force_login(admin_user)

    response = client.get("/subscribe/outbox/")

    assert_protected(response, "/subscribe/outbox/")
    expected = base64.b64encode(hashlib.sha256(b"color:#52606d").digest()).decode()
    directives = _directives(response["Content-Security-Policy"])
    assert directives["style-src-attr"] == ["'unsafe-hashes'", f"'sha256-{expected}'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
