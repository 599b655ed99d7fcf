"""Short mode of the chaos run (see ``run.py``), part of the suite: a few dozen updates, one worker SIGKILL, one
broker restart, one dropped set of database connections, 30% faults. Prints the per-channel table.

Long mode, by hand: ``python -m tests.chaos --updates 320 --kills 11 --broker-restarts 3``.
"""

import shutil

import pytest

from tests.chaos.plan import Plan
from tests.chaos.run import LOOKUP, run

pytestmark = [pytest.mark.worker, pytest.mark.chaos, pytest.mark.django_db(transaction=True)]

SETTLE_LIMIT = 120.0  # item 14: the last delivery lands within 2 minutes of the last publish
TASKS_PER_DELIVERY = 3.0


def test_under_chaos_nothing_is_lost_or_doubled_and_the_page_stays_up(
    tmp_path, publisher, make_incident, capsys
):
    if shutil.which("redis-server") is None:
        pytest.fail(
            "redis-server is missing: the chaos run starts a broker Redis of its own (apt install redis-server)"
        )
    plan = Plan.from_env()
    result = run(plan, workdir=tmp_path, author=publisher, make_incident=make_incident)
    with capsys.disabled():
        print("\n" + result.table())

    # The engine's part (items 12 and 14, and the public page): hard assertions.
    assert result.non_200 == 0, (tmp_path / "table.md").read_text()
    assert result.publish_errors == 0
    assert max(row.tasks_mean for row in result.rows) <= TASKS_PER_DELIVERY

    # The transports' part (items 9-11): 0 lost to transient faults, 0 dead-but-posted, 0 duplicates where the
    # service lets a post be looked up; and item 14's settle target. deliveries.tsv in the run's directory has
    # every delivery's attempts, tasks and times.
    problems = [
        f"{row.channel}: {row.lost} lost, {row.dead_but_posted} dead but posted, {row.duplicates} duplicates"
        for row in result.rows
        if row.lost or row.dead_but_posted or (row.channel in LOOKUP and row.duplicates)
    ]
    settles = [row.settle for row in result.rows if row.settle is not None]
    assert result.settled, "some deliveries never settled"
    assert max(settles, default=0.0) <= SETTLE_LIMIT, f"settle {max(settles):.0f} s"
    assert not problems, "; ".join(problems)
