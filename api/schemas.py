"""Request and response shapes of the engineers' API; they are also its OpenAPI schema."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, get_args

from django.utils import timezone
from ninja import Field, Schema
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    StrictBool,
    field_validator,
    model_validator,
)

from channels.models import Delivery
from incidents.models import Component, Incident

ComponentStatus = Literal[
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"
]
IncidentStatus = Literal[
    "investigating", "identified", "monitoring", "resolved", "postmortem",
    "scheduled", "in_progress", "verifying", "completed",
]  # fmt: skip
IncidentFilter = Literal["open", "closed", "all", IncidentStatus]
DeliveryState = Literal["pending", "sending", "delivered", "awaiting", "failed", "dead", "cancelled"]
assert set(get_args(ComponentStatus)) == set(Component.Status.values)
assert set(get_args(IncidentStatus)) == set(Incident.Status.values)
assert set(get_args(DeliveryState)) == set(Delivery.State.values)


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\0) characters")
    return value


# Text the database stores: PostgreSQL cannot keep a NUL character, so it is refused up front.
Text = Annotated[str, AfterValidator(_storable)]

# "SEV2" and "sev2" both work: people type what they say.
Severity = Annotated[Literal["sev1", "sev2", "sev3", "sev4"], BeforeValidator(_lower)]
NonBlank = r"\S"
MAX_ID = 2**63 - 1  # ids are PostgreSQL bigints
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(minutes=5)  # a script's clock may run a little ahead of ours


class Error(Schema):
    detail: str = Field(description="What went wrong, for a person to read.")
    code: str = Field(description="Stable and machine-readable, e.g. token_expired or insufficient_scope.")


class FieldError(Schema):
    loc: list[str | int] = Field(description='Where in the request, e.g. ["body", "title"].')
    msg: str


class ValidationFailed(Error):
    errors: list[FieldError]


# --- requests ---------------------------------------------------------------------------------------------


class ComponentRef(Schema):
    """A component by id or by exact name (case-insensitive), or both if they agree, with the status this
    incident proposes for it."""

    id: int | None = Field(None, ge=1, le=MAX_ID)
    name: Text | None = Field(None, min_length=1, max_length=100, pattern=NonBlank)
    status: ComponentStatus | None = Field(
        None, description="Proposed status; left out, it follows the severity (SEV1: major_outage, …)."
    )

    @model_validator(mode="after")
    def _one_way_to_name_it(self) -> "ComponentRef":
        if self.id is None and self.name is None:
            raise ValueError("give either the component's id or its name")
        return self


class IncidentIn(Schema):
    title: Text = Field(min_length=1, max_length=200, pattern=NonBlank)
    severity: Severity
    components: list[ComponentRef] = Field(default_factory=list, max_length=100)
    started_at: AwareDatetime | None = Field(
        None, description="When customers were first affected, with its UTC offset; default now."
    )
    note: Text = Field("", max_length=10_000, description="An optional first internal progress note.")

    @field_validator("title")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("started_at")
    @classmethod
    def _plausible(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value < EARLIEST:
            raise ValueError("is too far in the past")
        if value > timezone.now() + CLOCK_SKEW:
            raise ValueError("cannot be in the future")
        # Stored in UTC: PostgreSQL accepts offsets only up to ±15:59, JSON may carry any.
        return value.astimezone(UTC)


class NoteIn(Schema):
    text: Text = Field(min_length=1, max_length=10_000, pattern=NonBlank, description="Markdown.")
    # Strict: JSON true or false only. 0, "false" or "yes" would be a guess about whether to publish.
    public: StrictBool = Field(
        False,
        description="Show on the public timeline as an engineering note (once the incident is public).",
    )


class ComponentPatch(Schema):
    status: ComponentStatus


class ToneIn(Schema):
    text: str = Field(
        max_length=20_000, description="The draft's words: an update, or a reply to a customer."
    )
    kind: Literal["update", "reply"] = Field(
        "update", description="A reply is held to stricter rules on money."
    )


# --- responses --------------------------------------------------------------------------------------------


class TokenOut(Schema):
    name: str
    prefix: str
    owner: str
    scopes: list[str]
    expires_at: datetime


class ComponentOut(Schema):
    id: int
    name: str
    group: str | None
    status: ComponentStatus
    updated_at: datetime


class ComponentChange(Schema):
    changed: bool = Field(description="False if the component already had that status.")
    component: ComponentOut


class AffectedOut(Schema):
    id: int
    name: str
    status: ComponentStatus = Field(description="The status this incident gives the component.")
    proposed: bool = Field(
        False,
        description="Only proposed in the draft: the component's public status moves when a publisher publishes.",
    )


class IncidentOut(Schema):
    id: int
    title: str
    kind: Literal["incident", "maintenance"]
    severity: Literal["sev1", "sev2", "sev3", "sev4"]
    impact: Literal["none", "minor", "major", "critical", "maintenance"]
    status: IncidentStatus
    public: bool = Field(description="On the public page: true from its first published update.")
    detected_at: datetime | None
    started_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    components: list[AffectedOut]
    compose_url: str = Field(description="Where communicators draft and publishers publish its updates.")
    admin_url: str
    public_url: str | None


class NoteOut(Schema):
    id: int
    incident_id: int
    text: str
    public: bool
    on_public_timeline: bool = Field(description="Public now: a public note on an incident that is public.")
    author: str
    created_at: datetime


class DeliveryChannel(Schema):
    id: int
    kind: str
    name: str
    personal: bool


class DeliveryOut(Schema):
    id: int
    channel: DeliveryChannel
    state: DeliveryState
    state_label: str
    attempts: int
    last_error: str
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    dry_run: bool
    remote_url: str
    updated_at: datetime


class ToneFlag(Schema):
    kind: Literal["heat", "blame", "legal", "negotiation", "vague", "minimising", "jargon"]
    start: int = Field(description="Where the words begin in the text (characters from 0).")
    end: int = Field(description="Where they end (exclusive).")
    text: str = Field(description="The words found.")
    why: str = Field(description="Why it matters, in one line, with the doctrine item it serves.")
    suggestion: str = Field(description="Calmer wording to consider.")


class ToneOut(Schema):
    flags: list[ToneFlag]
    heat: float = Field(ge=-1, le=1, description="-1 warm … 1 hot (VADER, outage words made neutral).")


class RosterPerson(Schema):
    username: str
    name: str


class RosterSeat(Schema):
    role: Literal[
        "commander",
        "primary_communicator",
        "secondary_communicator",
        "tech_liaison",
        "executive_spokesperson",
    ]
    label: str
    people: list[RosterPerson]
    vacant: bool


class PromiseOut(Schema):
    promised_at: datetime = Field(description="When the update that made the promise was published.")
    due_at: datetime = Field(description="The time readers were promised the next update by.")
    kept_at: datetime | None = Field(description="When the next update came (late or not); null while owed.")
    kept_by_update: str | None = Field(description="The public id of the update that came next.")
    missed_by_seconds: int | None = Field(
        description="How late the next update came, or is so far while still owed; null when on time."
    )
    state: Literal["open", "kept", "missed", "overdue", "closed"]


class CommsOut(Schema):
    incident_id: int
    severity: Literal["sev1", "sev2", "sev3", "sev4"]
    detected_at: datetime = Field(description="The alert's start, or when the incident was opened.")
    acknowledged_at: datetime | None = Field(description="The first public update; null while none.")
    tta_seconds: int = Field(
        description="Time to acknowledge: so far while running, final once acknowledged."
    )
    tta_target_seconds: int = Field(description="The severity's target (set in the admin).")
    tta_state: Literal["ok", "amber", "red", "met", "missed"] = Field(
        description="Running: ok, amber from half the target, red past it. Stopped: met or missed."
    )
    tta_running: bool
    update_cadence_seconds: int = Field(
        description="How often the severity is updated: proposes each promise."
    )
    roster: list[RosterSeat]
    next_update_due_at: datetime | None = Field(description="The open promise's due time, if one is owed.")
    promises: list[PromiseOut] = Field(description="Newest first (the latest 100).")
