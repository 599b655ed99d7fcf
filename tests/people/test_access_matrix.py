"""Every route and every API operation, for every kind of person and token, against ``tests/access_table.py``.

Routes come from the resolver and operations from the OpenAPI schema, so a new view or endpoint cannot be
forgotten: it fails here until the table says who may use it.
"""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from people.tokens import token_create
from tests import access_table as table
from tests.access_world import PK_OF, build_world, url_kwargs
from tests.conftest import VerifiedClient

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "engineer", "communicator", "publisher", "admin_user")
_ADMIN_MODEL = re.compile(r"^admin:(?P<app>[a-z_]+?)_(?P<model>[a-z]+)_(?P<action>[a-z_]+)$")


def routes() -> Iterator[tuple[str, URLPattern, str]]:
    """(key, pattern, full route) for every URL pattern; the key is the URL name, or the route if unnamed."""

    def walk(resolver: URLResolver, prefix: str, namespace: str) -> Iterator[tuple[str, URLPattern, str]]:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                inner = ":".join(filter(None, [namespace, entry.namespace or ""]))
                yield from walk(entry, prefix + str(entry.pattern), inner)
            elif entry.name:
                yield (
                    f"{namespace}:{entry.name}" if namespace else entry.name,
                    entry,
                    prefix + str(entry.pattern),
                )
            else:
                yield prefix + str(entry.pattern), entry, prefix + str(entry.pattern)

    yield from walk(get_resolver(), "", "")


def _admin_models() -> dict[str, Any]:
    return {f"{m._meta.app_label}_{m._meta.model_name}": m for m in admin.site._registry}


def admin_model_key(key: str) -> tuple[str, str] | None:
    """("incidents_incident", "change") for a route of a registered model's admin; None otherwise."""
    models = _admin_models()
    match = _ADMIN_MODEL.match(key)
    if match:
        for label in models:
            if key.startswith(f"admin:{label}_"):
                return label, key.removeprefix(f"admin:{label}_")
    found = re.match(r"^admin/(?P<app>[a-z_]+)/(?P<model>[a-z]+)/<path:object_id>/$", key)
    if found and f"{found['app']}_{found['model']}" in models:
        return f"{found['app']}_{found['model']}", "redirect"
    return None


def test_every_route_is_in_the_table() -> None:
    missing = []
    for key, _pattern, route in routes():
        model_action = admin_model_key(key)
        if model_action:
            label, action = model_action
            if action not in table.ADMIN_MODELS.get(label, {}):
                missing.append(
                    f'    "{label}": {{"{action}": "L????", ...}},  # ADMIN_MODELS, admin/{label.replace("_", "/", 1)}/'
                )
            continue
        if key not in table.ROUTES:
            missing.append(f'    "{key}": "L????",  # /{route}')
    assert not missing, (
        "Routes the access table does not cover; add a line with one letter each for anonymous, engineer, "
        "communicator, publisher and admin to tests/access_table.py:\n" + "\n".join(sorted(set(missing)))
    )
    known = {key for key, _, _ in routes()}
    stale = set(table.ROUTES) - known
    assert not stale, f"The access table lists routes that no longer exist: {sorted(stale)}"


def _url(key: str, pattern: URLPattern, world: dict[str, Any]) -> str:
    kwargs = url_kwargs(world)
    model_action = admin_model_key(key)
    if model_action:
        label, action = model_action
        model = _admin_models()[label]
        obj = model.objects.order_by("pk").first()
        object_id = str(obj.pk) if obj is not None else "0"
        if action == "redirect":
            return f"/admin/{label.replace('_', '/', 1)}/{object_id}/"
        if action == "simple_history":
            return reverse(key, args=[object_id, "0"])
        names = list(pattern.pattern.regex.groupindex)
        by_name = {"object_id": object_id, "id": object_id, "pk": object_id}
        return reverse(key, kwargs={n: by_name[n] for n in names})
    if not pattern.name:  # unnamed: the admin's catch-all and the photos
        return "/media/people/none.png" if key.startswith("^media/") else "/admin/no-such-page/"
    if key == "admin:autocomplete":  # asks about a field no admin offers for autocompletion
        return reverse(key) + "?app_label=incidents&model_name=component&field_name=group"
    names = list(pattern.pattern.regex.groupindex)
    values = {n: kwargs[n] for n in names}
    if key in PK_OF:
        values["pk"] = world[PK_OF[key]].pk
    return reverse(key, kwargs=values)


LETTERS = {"login": "L", "ok": "Y", "deny": "N", "post": "P", "404": "4", "none": "-", "2fa": "2", "bad": "B"}


def outcome(response: Any) -> str:
    """What a person got, in the table's words."""
    if response.status_code in (301, 302, 303):
        location = response["Location"]
        if "/admin/login/" in location:
            return "login"
        if "/account/two-factor/" in location:
            return "2fa"
        if location == "/admin/":
            return "none"  # the admin's answer for an object that is not there (or not visible)
        return "ok"  # a redirect onwards (a form's next step, or the admin's object pages)
    return {
        200: "ok",
        204: "ok",
        304: "ok",
        400: "bad",
        401: "login",
        403: "deny",
        404: "404",
        405: "post",
    }.get(response.status_code, str(response.status_code))


def observe(persona: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """The letter each route gives ``persona``, keyed by route (admin model pages as "app_model:action")."""
    publisher = request.getfixturevalue("publisher")
    world = build_world(publisher)
    client: Client = VerifiedClient()
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))
    seen = {}
    for key, pattern, _route in routes():
        got = outcome(client.get(_url(key, pattern, world)))
        model_action = admin_model_key(key)
        if model_action:
            seen[f"{model_action[0]}:{model_action[1]}"] = LETTERS.get(got, got)
        else:
            seen[key] = LETTERS.get("ok" if got == "none" else got, got)
    return seen


def expected(persona: str) -> dict[str, str]:
    column = PERSONAS.index(persona)
    wanted = {key: row[column] for key, row in table.ROUTES.items()}
    for label, actions in table.ADMIN_MODELS.items():
        for action, row in actions.items():
            wanted[f"{label}:{action}"] = row[column]
    return wanted


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_person_reaches_exactly_what_the_table_says(
    persona: str, request: pytest.FixtureRequest
) -> None:
    seen = observe(persona, request)
    wanted = expected(persona)
    wrong = [
        f"{key}: the table says {wanted.get(key)!r}, got {got!r}"
        for key, got in seen.items()
        if wanted.get(key) != got
    ]
    assert not wrong, f"{persona} (letters as in tests/access_table.py):\n" + "\n".join(wrong)


def _operations(client: Client) -> list[str]:
    schema = client.get(reverse("api-v1:openapi-json")).json()
    return [
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]


def test_every_api_operation_is_in_the_table(client: Client) -> None:
    missing = [op for op in _operations(client) if op not in table.API_OPERATIONS]
    assert not missing, "API operations the access table does not cover; add to API_OPERATIONS in " + (
        "tests/access_table.py:\n"
        + "\n".join(f'    "{op}": ("<scope>", <valid body or None>),' for op in missing)
    )
    assert set(table.API_OPERATIONS) <= set(_operations(client)), "the table lists operations that are gone"


def test_every_api_operation_needs_a_token_with_its_scope(
    client: Client, admin_user: Any, request: pytest.FixtureRequest
) -> None:
    world = build_world(request.getfixturevalue("publisher"))
    values = {
        "{incident_id}": str(world["incident"].pk),
        "{component_id}": str(world["component"].pk),
        "{public_id}": world["update"].public_id,
        "{source_id}": str(world["mention_source"].pk),
        "{mention_id}": str(world["mention"].pk),
    }
    scopes = sorted({scope for scope, _ in table.API_OPERATIONS.values() if scope})
    tokens = {scope: token_create(owner=admin_user, name=scope, scopes=[scope])[1] for scope in scopes}
    wrong = []
    for operation, (needed, body) in table.API_OPERATIONS.items():
        method, path = operation.split(" ", 1)
        for placeholder, value in values.items():
            path = path.replace(placeholder, value)

        def call(token: str | None, method: str = method, path: str = path, body: Any = body) -> int:
            headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
            kwargs: dict[str, Any] = (
                {"data": body, "content_type": "application/json"} if body is not None else {}
            )
            return int(getattr(client, method.lower())(path, **kwargs, **headers).status_code)

        if (got := call(None)) != 401:
            wrong.append(f"{operation} without a token: {got}")
        for scope, token in tokens.items():
            got = call(token)
            allowed = needed is None or scope == needed
            if allowed and got in (401, 403):
                wrong.append(f"{operation} with {scope}: {got}, expected it to work")
            if not allowed and got != 403:
                wrong.append(f"{operation} with {scope}: {got}, expected 403")
    assert not wrong, "\n".join(wrong)
