"""The engineers' API (``/api/v1/``): Bearer tokens, JSON errors, no cookies, nothing cached."""

from collections.abc import Callable, Iterable
from typing import Annotated, Any, TypeVar

from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, NinjaAPI, Path, Query, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.operation import Operation

from api import documents, selectors, services
from api.auth import ApiError, TokenAuth, authorize
from api.schemas import (
    MAX_ID,
    CommsOut,
    ComponentChange,
    ComponentOut,
    ComponentPatch,
    DeliveryOut,
    Error,
    IncidentFilter,
    IncidentIn,
    IncidentOut,
    NonBlank,
    NoteIn,
    NoteOut,
    TokenOut,
    ToneIn,
    ToneOut,
    ValidationFailed,
)
from api.scopes import COMPONENTS_WRITE, DELIVERIES_READ, INCIDENTS_READ, INCIDENTS_WRITE, NOTES_WRITE
from incidents.models import Component, Incident, IncidentUpdate
from warroom import guard
from warroom import selectors as warroom_selectors

DESCRIPTION = """\
Open draft incidents, post progress notes, change component statuses and follow deliveries from scripts and
the `statushub` CLI. Authenticate with a personal token from **/manage/tokens/**:
`Authorization: Bearer sh_…`. A token's scopes narrow what it may do; its owner's role still applies on every call.
Nothing here publishes: an incident opened through the API stays internal until a publisher publishes an update.
"""


class StatusHubAPI(NinjaAPI):
    def create_response(
        self,
        request: HttpRequest,
        data: Any,
        *,
        status: int | None = None,
        temporal_response: HttpResponse | None = None,
    ) -> HttpResponse:
        response = super().create_response(request, data, status=status, temporal_response=temporal_response)
        # Answers are per-token and often internal: no shared cache may keep them.
        response["Cache-Control"] = "no-store"
        return response

    def get_openapi_operation_id(self, operation: Operation) -> str:
        return operation.view_func.__name__


api = StatusHubAPI(
    title="StatusHub engineers' API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    auth=TokenAuth(),
)

READ_ERRORS: dict[int, Any] = {401: Error, 403: Error, 404: Error, 422: ValidationFailed}
WRITE_ERRORS: dict[int, Any] = {**READ_ERRORS, 400: Error}


def _error(request: HttpRequest, status: int, code: str, detail: str) -> HttpResponse:
    response = api.create_response(request, {"detail": detail, "code": code}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = f'Bearer realm="statushub", error="{code}"'
    return response


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return _error(request, exc.status, exc.code, exc.message)


@api.exception_handler(AuthenticationError)
def _no_token(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(
        request,
        401,
        "missing_token",
        "Send your API token as 'Authorization: Bearer sh_…'. Create one at /manage/tokens/.",
    )


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = {400: "bad_request", 404: "not_found", 429: "throttled"}.get(exc.status_code, "error")
    return _error(request, exc.status_code, code, exc.message)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", str(exc) or "Not found.")


def _field_error(error: dict[str, Any]) -> tuple[list[str | int], str]:
    """Where (as sent) and what, in words: ``(["body", "title"], "must not be blank")``."""
    loc = list(error.get("loc", ()))
    if error.get("type") == "string_pattern_mismatch":
        blank = error.get("ctx", {}).get("pattern") == NonBlank
        return loc, "must not be blank" if blank else "has characters that are not allowed"
    return loc, str(error.get("msg", "is not valid")).removeprefix("Value error, ")


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [_field_error(error) for error in exc.errors]
    described = []
    for loc, message in errors:
        where = ".".join(str(part) for part in loc if part not in ("body", "query", "path", "payload"))
        described.append(f"{where}: {message}" if where else message)
    return api.create_response(
        request,
        {
            "detail": "; ".join(described) or "The request is not valid.",
            "code": "validation_error",
            "errors": [{"loc": loc, "msg": message} for loc, message in errors],
        },
        status=422,
    )


def _invalid_field(loc: list[str | int], message: str) -> ValidationError:
    return ValidationError([{"loc": ["body", *loc], "msg": message, "type": "value_error"}])


M = TypeVar("M", bound=Model)
# A larger id is refused as invalid rather than failing in the database.
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
PublicId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class PageParams(Schema):
    limit: int = Field(50, ge=1, le=100, description="How many items (at most 100).")
    offset: int = Field(0, ge=0, le=1_000_000, description="How many to skip.")


def _page(queryset: QuerySet[M], params: PageParams, render: Callable[[M], dict[str, Any]]) -> dict[str, Any]:
    items: Iterable[M] = queryset[params.offset : params.offset + params.limit]
    return {
        "count": queryset.count(),
        "limit": params.limit,
        "offset": params.offset,
        "items": [render(item) for item in items],
    }


class Page(Schema):
    count: int = Field(description="How many there are in all.")
    limit: int
    offset: int


class IncidentPage(Page):
    items: list[IncidentOut]


class ComponentPage(Page):
    items: list[ComponentOut]


class DeliveryPage(Page):
    items: list[DeliveryOut]


def _incident(pk: int) -> Incident:
    incident = selectors.incidents_for_api(status="all").filter(pk=pk).first()
    if incident is None:
        raise ApiError(404, "not_found", f"There is no incident {pk}.")
    return incident


# --- endpoints ----------------------------------------------------------------------------------------------


@api.get(
    "/token", response={200: TokenOut, 401: Error}, tags=["tokens"], summary="The token you are calling with"
)
def token_detail(request: HttpRequest) -> dict[str, Any]:
    return documents.token_document(request.auth)  # type: ignore[attr-defined]


@api.post(
    "/tone/check",
    response={200: ToneOut, 400: Error, 401: Error, 422: ValidationFailed},
    tags=["tone"],
    summary="Check a draft's tone before it goes out",
)
def tone_check(request: HttpRequest, payload: ToneIn) -> dict[str, Any]:
    """The tone guard the compose screen runs as you type: heat, blame, legal threats, public negotiation,
    vagueness, minimising and internal jargon, each flag with the words found, why, and a calmer suggestion.
    Any valid token may ask; nothing is stored."""
    return guard.check(payload.text, kind=payload.kind).as_dict()


@api.get(
    "/incidents/{incident_id}/comms",
    response={200: CommsOut, **READ_ERRORS},
    tags=["incidents"],
    summary="The war room's clock, roster and promises",
)
def incident_comms(request: HttpRequest, incident_id: Id) -> dict[str, Any]:
    """Time to acknowledge against the severity's target, who holds each role, the next update owed and every
    promise kept or missed (by how long)."""
    authorize(request, INCIDENTS_READ)
    return warroom_selectors.as_api(warroom_selectors.comms(_incident(incident_id)))


@api.get(
    "/incidents", response={200: IncidentPage, **READ_ERRORS}, tags=["incidents"], summary="List incidents"
)
def incident_list(
    request: HttpRequest, page: Query[PageParams], status: IncidentFilter = "open"
) -> dict[str, Any]:
    """Newest first. `status`: `open` (default), `closed`, `all`, or one incident status."""
    authorize(request, INCIDENTS_READ)
    return _page(selectors.incidents_for_api(status=status), page, documents.incident_document)


@api.post(
    "/incidents",
    response={201: IncidentOut, **WRITE_ERRORS},
    tags=["incidents"],
    summary="Open a draft incident",
)
def incident_open(request: HttpRequest, payload: IncidentIn) -> Status[dict[str, Any]]:
    """Opens an internal incident for the team. It is not on the public page, and no component's public status
    changes, until a publisher publishes its first update from `compose_url`."""
    user, token = authorize(request, INCIDENTS_WRITE)
    by_id = Component.objects.in_bulk([ref.id for ref in payload.components if ref.id is not None])
    by_name = {component.name.casefold(): component for component in Component.objects.all()}
    affected: list[services.Affected] = []
    for n, ref in enumerate(payload.components):
        component = (
            by_id.get(ref.id) if ref.id is not None else by_name.get((ref.name or "").strip().casefold())
        )
        if component is None:
            known = ", ".join(sorted(c.name for c in by_name.values())) or "none yet"
            what = f"id {ref.id}" if ref.id is not None else f"named {ref.name!r}"
            raise _invalid_field(["components", n], f"there is no component {what} (components: {known})")
        if (
            ref.id is not None
            and ref.name is not None
            and ref.name.strip().casefold() != component.name.casefold()
        ):
            raise _invalid_field(
                ["components", n], f"component {ref.id} is named {component.name!r}, not {ref.name.strip()!r}"
            )
        if any(entry.component == component for entry in affected):
            raise _invalid_field(["components", n], f"{component.name} is listed twice")
        affected.append(services.Affected(component=component, status=ref.status))
    incident = services.incident_open_draft(
        by=user,
        token=token,
        title=payload.title,
        severity=payload.severity,
        components=affected,
        started_at=payload.started_at,
        note=payload.note,
        request=request,
    )
    return Status(201, documents.incident_document(_incident(incident.pk)))


@api.get(
    "/incidents/{incident_id}",
    response={200: IncidentOut, **READ_ERRORS},
    tags=["incidents"],
    summary="One incident",
)
def incident_detail(request: HttpRequest, incident_id: Id) -> dict[str, Any]:
    authorize(request, INCIDENTS_READ)
    return documents.incident_document(_incident(incident_id))


@api.post(
    "/incidents/{incident_id}/notes",
    response={201: NoteOut, **WRITE_ERRORS},
    tags=["incidents"],
    summary="Post a progress note",
)
def note_create(request: HttpRequest, incident_id: Id, payload: NoteIn) -> Status[dict[str, Any]]:
    """Internal unless `public` is true. Communicators see notes live on the compose screen; public notes join the
    public timeline once the incident is public."""
    user, token = authorize(request, NOTES_WRITE)
    incident = _incident(incident_id)
    note = services.note_post(
        by=user, token=token, incident=incident, text=payload.text, is_public=payload.public, request=request
    )
    return Status(201, documents.note_document(note))


@api.get(
    "/components",
    response={200: ComponentPage, **READ_ERRORS},
    tags=["components"],
    summary="List components",
)
def component_list(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    authorize(request, INCIDENTS_READ)
    return _page(selectors.components_for_api(), page, documents.component_document)


@api.patch(
    "/components/{component_id}",
    response={200: ComponentChange, **WRITE_ERRORS},
    tags=["components"],
    summary="Change a component's status",
)
def component_update(request: HttpRequest, component_id: Id, payload: ComponentPatch) -> dict[str, Any]:
    """Recorded in the component's status history, as a change made in the admin is. If open incidents list the
    component, their entries follow and the change shows on the newest one's timeline."""
    user, token = authorize(request, COMPONENTS_WRITE)
    component = selectors.components_for_api().filter(pk=component_id).first()
    if component is None:
        raise ApiError(404, "not_found", f"There is no component {component_id}.")
    changed = services.component_status_change(
        by=user, token=token, component=component, status=payload.status, request=request
    )
    component.refresh_from_db()
    return {"changed": changed, "component": documents.component_document(component)}


@api.get(
    "/updates/{public_id}/deliveries",
    response={200: DeliveryPage, **READ_ERRORS},
    tags=["deliveries"],
    summary="Where a published update went",
)
def delivery_list(request: HttpRequest, public_id: PublicId, page: Query[PageParams]) -> dict[str, Any]:
    """One entry per channel, with its state: pending, sending, delivered, awaiting (a person must post it),
    failed (will retry), dead (failed permanently) or cancelled."""
    authorize(request, DELIVERIES_READ)
    update = IncidentUpdate.objects.filter(public_id=public_id).first()
    if update is None:
        raise ApiError(404, "not_found", f"There is no published update {public_id}.")
    return _page(selectors.deliveries_for_update(update), page, documents.delivery_document)
