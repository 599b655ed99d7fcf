"""Long mode of the chaos run, by hand: ``python -m tests.chaos --updates 320 --kills 11 --broker-restarts 3``.

Runs the short mode's test with a bigger plan (every option is a ``Plan`` field, passed as an environment
variable ``STATUSHUB_CHAOS_<FIELD>``), with the same environment as the tests (DATABASE_URL, REDIS_URL, …).
"""

import argparse
import os
import subprocess
import sys

from tests.chaos.plan import Plan

LONG = Plan(
    updates=320, incidents=40, workers=2, kills=11, broker_restarts=3, db_drops=3, publish_seconds=240.0,
    backoff_seconds=5.0,
)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    for name, default in vars(LONG).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    args = parser.parse_args()
    env = {
        **os.environ,
        **{f"STATUSHUB_CHAOS_{name.upper()}": str(value) for name, value in vars(args).items()},
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        "tests/chaos/test_chaos.py",
        "-q",
        "-p",
        "no:cacheprovider",
        "-rxX",
    ]
    return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main())
