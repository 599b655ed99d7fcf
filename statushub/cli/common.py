"""What the ``statushub`` commands share: exit codes, check marks, errors and a statement's fields."""

from __future__ import annotations

from typing import Any

from statushub.lib.signing import parse_statement

USER_AGENT = "statushub-cli/0.1"
TIMEOUT_SECONDS = 10.0
OK = "\u2714"  # ✔
FAIL = "\u2718"  # ✘

EXIT_OK, EXIT_FAILED, EXIT_UNREACHABLE = 0, 1, 2
EXIT_USAGE = 2


class CliError(Exception):
    """A refusal or bad input: printed as ``error: ...`` and exit 1."""


class UsageError(Exception):
    """The command was not given what it needs: printed as ``error: ...`` and exit 2, like argparse's errors."""


def parse_fields(statement: bytes) -> dict[str, Any]:
    """The fields of a canonical statement (``StatementError`` if it is not one)."""
    return parse_statement(statement)
