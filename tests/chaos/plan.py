"""What a chaos run does, importable without Django (``python -m tests.chaos`` reads it before setting up)."""

import os
from dataclasses import dataclass
from typing import Any


@dataclass
class Plan:
    updates: int = 16
    incidents: int = 4
    fault_rate: float = 0.3
    workers: int = 2
    kills: int = 1
    broker_restarts: int = 1
    db_drops: int = 1
    publish_seconds: float = 8.0
    backoff_seconds: float = 1.0
    settle_limit: float = 120.0
    seed: int = 11

    @classmethod
    def from_env(cls, **defaults: Any) -> "Plan":
        plan = cls(**defaults)
        for name, value in vars(plan).items():
            raw = os.environ.get(f"STATUSHUB_CHAOS_{name.upper()}")
            if raw:
                setattr(plan, name, type(value)(raw))
        return plan
