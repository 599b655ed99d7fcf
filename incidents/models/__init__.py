from incidents.models.core import (
    AffectedComponent,
    Component,
    ComponentDay,
    ComponentGroup,
    ComponentStatusChange,
    Incident,
    IncidentRole,
    IncidentUpdate,
    ProgressNote,
)
from incidents.models.signing import ChainHead, SigningKey, UpdateDraft
from incidents.models.snapshot import PublicChange

__all__ = [
    "AffectedComponent",
    "ChainHead",
    "Component",
    "ComponentDay",
    "ComponentGroup",
    "ComponentStatusChange",
    "Incident",
    "IncidentRole",
    "IncidentUpdate",
    "ProgressNote",
    "PublicChange",
    "SigningKey",
    "UpdateDraft",
]
