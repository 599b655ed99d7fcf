"""``statushub``: verify signed StatusHub updates from anywhere, sign with an offline key, and work on
incidents from a terminal with a personal API token.

Needs no StatusHub server code and no Django: only the public endpoints described in
``docs/signing-wire-format.md``, the engineers' API (``/api/v1/``), ``httpx`` and ``statushub.lib.signing``.

    statushub verify https://status.example/updates/42/
    statushub verify-chain https://status.example
    statushub keygen --out priya.pem
    statushub sign --key priya.pem statement.bin --out statement.sig
    statushub incident open "Card payments failing" --severity SEV2 --component Payments
    statushub note 42 "Rolled back to v41; error rate falling." [--public]

One module per command group: ``verify`` and ``verify_chain`` (with ``fetch`` and ``keys``, what they read),
``signing`` (keygen, sign), ``api`` (incident, note), ``export``; this one parses the arguments and runs them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from statushub.cli.api import api_call, cmd_incident, cmd_note, configure_incident, configure_note
from statushub.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    CliError,
    UsageError,
)
from statushub.cli.export import cmd_export, configure_export
from statushub.cli.fetch import Fetcher, FetchError, make_client
from statushub.cli.keys import PublishedKey, load_keys
from statushub.cli.signing import cmd_keygen, cmd_sign, configure_keygen, configure_sign
from statushub.cli.verify import cmd_verify, configure_verify, parse_update_url, verify_update
from statushub.cli.verify_chain import ChainChecker, cmd_verify_chain, configure_verify_chain

__all__ = [
    "COMMANDS",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "ChainChecker",
    "CliError",
    "FetchError",
    "Fetcher",
    "PublishedKey",
    "UsageError",
    "api_call",
    "build_parser",
    "load_keys",
    "main",
    "make_client",
    "parse_update_url",
    "verify_update",
]

Command = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]

COMMANDS: dict[str, Command] = {
    "verify": ("check one signed update against the site's published keys", configure_verify, cmd_verify),
    "verify-chain": (
        "check the site's whole chain of signed updates",
        configure_verify_chain,
        cmd_verify_chain,
    ),
    "sign": ("sign a statement with an offline key", configure_sign, cmd_sign),
    "keygen": ("create an offline Ed25519 signing key", configure_keygen, cmd_keygen),
    "incident": (
        "open a draft incident, or list incidents (needs an API token)",
        configure_incident,
        cmd_incident,
    ),
    "note": ("post a progress note on an incident (needs an API token)", configure_note, cmd_note),
    "export": (
        "write the public site as static files for nginx, a static host or a CDN (run on the server)",
        configure_export,
        cmd_export,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="statushub", description="Verify and sign StatusHub updates; open incidents and post notes."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, configure, handler) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        configure(sub)
        sub.set_defaults(handler=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error (argparse has printed it)
        return exc.code if isinstance(exc.code, int) else EXIT_UNREACHABLE
    try:
        return int(args.handler(args))
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
