"""Follow-up work that runs once a transaction commits: queue a task, bump the public version, fan out.

Each hook runs on its own: one that fails (Redis down, broker unreachable) is logged and leaves the others to
run, and never turns a committed write into an error for the person who made it. What failed is retried by
the periodic jobs that look at the database (the delivery sweeper, the subscriber sweeper, the periodic
snapshot refresh), so nothing depends on the hook having run. A view that wants to tell its user the truth
("published; some follow-up is delayed") wraps the write in ``watching_follow_up()``.
"""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any

from django.db import connection, transaction

logger = logging.getLogger(__name__)

_delayed: ContextVar[list[str] | None] = ContextVar("follow_up_delayed", default=None)


class _Hook(partial[object]):
    """The function with its arguments, as ``functools.partial`` (so tests and tools can still see which
    function a hook calls), run so that a failure is logged and noted instead of raised."""

    what = "follow-up work"

    def __call__(self, /, *args: Any, **kwargs: Any) -> None:
        try:
            super().__call__(*args, **kwargs)
        except Exception:
            logger.warning(
                "After the commit, %s could not be started; it will be retried.", self.what, exc_info=True
            )
            follow_up_delayed(self.what)


def after_commit(func: Callable[[], object], *, what: str, once: bool = False) -> None:
    """Run ``func`` once the current transaction commits, on its own (see the module docstring).

    ``what`` names the work for the log and the user ("channel deliveries"). ``once``: queue it only if the
    same call is not queued already in this transaction (e.g. one snapshot refresh per publish).
    """
    hook = _Hook(func.func, *func.args, **func.keywords) if isinstance(func, partial) else _Hook(func)
    hook.what = what
    if once and any(
        isinstance(entry[1], _Hook) and (entry[1].func, entry[1].args) == (hook.func, hook.args)
        for entry in connection.run_on_commit
    ):
        return
    transaction.on_commit(hook, robust=True)


def follow_up_delayed(what: str) -> None:
    """Note, for the user who caused it, that some follow-up work did not start and will be retried."""
    noted = _delayed.get()
    if noted is not None and what not in noted:
        noted.append(what)


@contextmanager
def watching_follow_up() -> Iterator[list[str]]:
    """Collect what follow-up work was delayed by the commits made inside the block."""
    noted: list[str] = []
    token = _delayed.set(noted)
    try:
        yield noted
    finally:
        _delayed.reset(token)
