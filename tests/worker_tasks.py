"""Tasks that only the tests' worker processes load (``celery worker --include tests.worker_tasks``).

They touch files, not the database, so a test can watch a worker work while it breaks the broker under it.
"""

import os
import time
from pathlib import Path

from celery import shared_task


@shared_task(name="tests.worker_tasks.record")
def record(path: str, seconds: float = 0.0) -> None:
    """Marks ``path.started``, works ``seconds``, then appends a line to ``path`` (one line per run)."""
    Path(f"{path}.started").touch()
    time.sleep(seconds)
    with Path(path).open("a") as out:
        out.write(f"{os.getpid()}\n")
