"""``statushub export``: the public site as static files, written by the server's own ``export`` command."""

from __future__ import annotations

import argparse
import os
import sys

from statushub.cli.common import EXIT_FAILED, EXIT_OK


def configure_export(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dir", metavar="DIR", help="where the site goes, e.g. /srv/status (becomes a symbolic link)"
    )
    parser.add_argument("--keep", type=int, default=2, help="earlier exports kept beside it (default 2)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (e.g. in cron)")
    parser.add_argument("--jobs", type=int, help="processes rendering side by side (default: cores)")


def cmd_export(args: argparse.Namespace) -> int:
    """Runs where StatusHub itself runs, with the server's settings: Django's own command does the work, in a
    process of its own, so this module stays free of Django for engineers' laptops."""
    import subprocess

    command = [sys.executable, "-m", "django", "export", args.dir, "--keep", str(args.keep)]
    if args.no_progress:
        command.append("--no-progress")
    if args.jobs:
        command += ["--jobs", str(args.jobs)]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "statushub.settings"),
    }
    return EXIT_OK if subprocess.run(command, env=env, check=False).returncode == 0 else EXIT_FAILED
