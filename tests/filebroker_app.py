"""A tiny Celery app on the embedded file broker, for tests/statushub/test_filebroker.py: no database, only files.

``FILEBROKER_TEST_DIR`` is the broker's folder; ``FILEBROKER_TEST_TRANSPORT`` may name kombu's stock
``filesystem`` transport, to show what the project's own one fixes. Run as a module to enqueue a burst:
``python -m tests.filebroker_app <first> <count>``.
"""

import os
import sys
import time
from pathlib import Path

from celery import Celery

from statushub.lib import filebroker

filebroker.register()
FOLDER = Path(os.environ["FILEBROKER_TEST_DIR"])
QUEUE = "burst"

app = Celery("filebroker_test", broker=f"{os.environ.get('FILEBROKER_TEST_TRANSPORT', filebroker.ALIAS)}://")
app.conf.update(
    broker_transport_options={
        "data_folder_in": str(FOLDER / "queue"),
        "data_folder_out": str(FOLDER / "queue"),
        "processed_folder": str(FOLDER / "processed"),
        "store_processed": False,
        "control_folder": str(FOLDER / "control"),
        "polling_interval": 0.05,
    },
    task_default_queue=QUEUE,
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
)


@app.task(name="tests.filebroker_app.record")
def record(n: int) -> None:
    """Leaves one line per run, so a test can count how often each task ran."""
    with (FOLDER / "done" / str(n)).open("a") as out:
        out.write(f"{os.getpid()}\n")


@app.task(name="tests.filebroker_app.hold")
def hold(n: int) -> None:
    """Marks that it started, then works until the test creates ``release``."""
    (FOLDER / "started" / f"{n}.{os.getpid()}").touch()
    while not (FOLDER / "release").exists():
        time.sleep(0.05)
    record(n)


# Named explicitly: run as ``-m`` the module is ``__main__``, and the worker must know the tasks by the same names.
if __name__ == "__main__":
    first, count = int(sys.argv[1]), int(sys.argv[2])
    for n in range(first, first + count):
        record.delay(n)
