"""Personal API tokens: hashed at rest, shown once, scoped, expiring, revocable, never more than their owner."""

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from people import roles, tokens
from people.models import ApiToken, AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

WHO_AM_I = "/api/v1/token"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _create(user, *scopes: str, **kwargs) -> tuple[ApiToken, str]:
    return tokens.token_create(owner=user, name="laptop", scopes=list(scopes) or ["notes:write"], **kwargs)


def test_only_a_hash_of_the_token_is_stored(engineer):
    row, token = _create(engineer)

    assert token.startswith("sh_") and len(token) == 56
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM api_apitoken")
        stored = " ".join(str(value) for value in cursor.fetchone())
    assert token not in stored
    assert token[len("sh_") + 12 :] not in stored  # not even the secret part
    assert row.key_id in token  # the short id that finds the row is not secret


def test_a_token_identifies_its_owner(client, engineer):
    _row, token = _create(engineer, "notes:write", "components:write")

    response = client.get(WHO_AM_I, headers=_bearer(token))

    assert response.status_code == 200
    assert response.json() == {
        "name": "laptop",
        "prefix": f"sh_{_row.key_id}_…",
        "owner": "marco",
        "scopes": ["components:write", "notes:write"],
        "expires_at": response.json()["expires_at"],
    }
    assert "Set-Cookie" not in response.headers
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_token"),
        ("Token abc", "missing_token"),
        ("Bearer not-a-token", "invalid_token"),
        ("Bearer sh_aaaaaaaaaaaa_" + "A" * 40, "invalid_token"),
    ],
)
def test_a_missing_or_unknown_token_gets_401_with_a_clear_json_error(client, engineer, header, code):
    response = client.get(WHO_AM_I, headers={"Authorization": header} if header else {})

    assert response.status_code == 401
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer ")


def test_a_token_with_a_wrong_secret_is_refused(client, engineer):
    _row, token = _create(engineer)
    tampered = token[:-1] + ("a" if token[-1] != "a" else "b")

    response = client.get(WHO_AM_I, headers=_bearer(tampered))

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_an_expired_token_is_refused(client, engineer):
    row, token = _create(engineer)
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get(WHO_AM_I, headers=_bearer(token))

    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"
    assert "expired on" in response.json()["detail"]


def test_a_revoked_token_stops_working_at_once(client, engineer):
    row, token = _create(engineer)
    assert client.get(WHO_AM_I, headers=_bearer(token)).status_code == 200

    assert tokens.token_revoke(token=row, by=engineer) is True
    response = client.get(WHO_AM_I, headers=_bearer(token))

    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert tokens.token_revoke(token=row, by=engineer) is False
    assert AuditEvent.objects.filter(action="token_revoked", actor=engineer).count() == 1


def test_a_disabled_account_s_tokens_stop_working(client, engineer):
    _row, token = _create(engineer)
    engineer.is_active = False
    engineer.save()

    response = client.get(WHO_AM_I, headers=_bearer(token))

    assert response.status_code == 401
    assert response.json()["code"] == "account_disabled"


def test_last_use_is_recorded_at_most_once_a_minute(client, engineer):
    row, token = _create(engineer)
    client.get(WHO_AM_I, headers=_bearer(token))
    row.refresh_from_db()
    first = row.last_used_at
    assert first is not None
    assert row.last_used_ip == "127.0.0.1"

    client.get(WHO_AM_I, headers=_bearer(token))
    row.refresh_from_db()
    assert row.last_used_at == first


def test_a_token_cannot_have_a_scope_its_owner_s_role_lacks(engineer):
    with pytest.raises(tokens.TokenError, match="Your role cannot open draft incidents"):
        _create(engineer, "incidents:write")
    with pytest.raises(tokens.TokenError, match="Unknown scope"):
        _create(engineer, "everything")


def test_expiry_is_required_to_be_in_the_future_and_at_most_a_year(engineer, settings):
    row, _ = _create(engineer)
    assert timedelta(days=89) < row.expires_at - timezone.now() <= timedelta(days=90)
    with pytest.raises(tokens.TokenError, match="at most 365 days"):
        _create(engineer, expires_at=timezone.now() + timedelta(days=366))
    with pytest.raises(tokens.TokenError, match="future"):
        _create(engineer, expires_at=timezone.now() - timedelta(minutes=1))


def test_a_token_loses_what_its_owner_loses(client, communicator, make_component):
    component = make_component("Payments")
    _row, token = _create(communicator, "components:write")
    communicator.groups.clear()

    response = client.patch(
        f"/api/v1/components/{component.pk}",
        {"status": "major_outage"},
        content_type="application/json",
        headers=_bearer(token),
    )

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    component.refresh_from_db()
    assert component.status == "operational"


# --- the page where people manage their own tokens ------------------------------------------------------------

PAGE = "/manage/tokens/"


def _create_on_page(client, **fields):
    data = {"name": "deploy pipeline", "scopes": ["notes:write"], "expires_in": "30", **fields}
    return client.post(PAGE, data)


def test_the_page_asks_for_the_password_and_shows_the_token_once(client, engineer):
    client.force_login(engineer)

    wrong = _create_on_page(client, password="guess")
    assert wrong.status_code == 400
    assert "That password is not right." in wrong.content.decode()
    assert not ApiToken.objects.exists()

    created = _create_on_page(client, password=PASSWORD)
    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    row = ApiToken.objects.get()
    page = created.content.decode()
    token = page.split('<pre class="code" id="new-token">')[1].split("</pre>")[0]
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.owner == engineer and row.scopes == ["notes:write"]
    assert timedelta(days=29) < row.expires_at - timezone.now() <= timedelta(days=30)
    assert AuditEvent.objects.filter(action="token_created", actor=engineer).exists()
    assert AuditEvent.objects.filter(action="reauth", actor=engineer).exists()

    listing = client.get(PAGE).content.decode()
    assert token not in listing
    assert row.display_prefix in listing
    assert "deploy pipeline" in listing


def test_a_recent_password_check_is_not_asked_again(client, engineer):
    client.force_login(engineer)
    _create_on_page(client, password=PASSWORD)

    again = _create_on_page(client, name="second")

    assert again.status_code == 200
    assert ApiToken.objects.filter(owner=engineer).count() == 2


def test_the_page_offers_only_scopes_the_role_allows(client, engineer, publisher):
    client.force_login(engineer)
    page = client.get(PAGE).content.decode()
    assert 'value="notes:write"' in page
    assert 'value="components:write"' in page
    assert 'value="incidents:write"' not in page

    refused = _create_on_page(client, scopes=["incidents:write"], password=PASSWORD)
    assert refused.status_code == 400
    assert not ApiToken.objects.exists()

    client.force_login(publisher)
    assert 'value="incidents:write"' in client.get(PAGE).content.decode()


def test_people_revoke_their_own_tokens_only(client, engineer, communicator):
    mine, _ = _create(engineer)
    theirs, _ = _create(communicator)
    client.force_login(engineer)

    assert client.post(reverse("tokens:revoke", args=[theirs.pk])).status_code == 404
    response = client.post(reverse("tokens:revoke", args=[mine.pk]))

    assert response.status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked_at is not None and mine.revoked_by == engineer
    assert theirs.revoked_at is None


def test_the_page_needs_a_login_and_a_role(client, django_user_model):
    assert client.get(PAGE).status_code == 302
    nobody = django_user_model.objects.create_user("guest", password=PASSWORD, is_staff=True)
    client.force_login(nobody)
    assert client.get(PAGE).status_code == 403
    nobody.groups.add(Group.objects.get_or_create(name=roles.ENGINEER)[0])
    roles.sync_role_groups()
    nobody = django_user_model.objects.get(pk=nobody.pk)
    client.force_login(nobody)
    assert client.get(PAGE).status_code == 200


def test_administrators_can_revoke_anyone_s_token_in_the_admin(client, admin_user, engineer):
    row, token = _create(engineer)
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:people_apitoken_changelist"), {"action": "revoke", "_selected_action": [row.pk]}
    )

    assert response.status_code == 302
    row.refresh_from_db()
    assert row.revoked_by == admin_user
    assert token not in client.get(reverse("admin:people_apitoken_change", args=[row.pk])).content.decode()
