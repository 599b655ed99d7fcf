"""What the commands that render the whole public site (``export``, ``snapshot --rebuild``) share."""

import os
import sys
from typing import Any

from django.core.management.base import CommandParser
from tqdm import tqdm


def add_arguments(parser: CommandParser) -> None:
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (e.g. in cron)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="processes rendering side by side (default: cores)",
    )


def progress_bar(total: int, *, desc: str, options: dict[str, Any]) -> "tqdm[Any]":
    # Straight to the terminal: Django's stderr wrapper would colour it as an error and end every frame a line.
    return tqdm(total=total, unit="incident", desc=desc, disable=options["no_progress"], file=sys.stderr)
