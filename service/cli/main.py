"""``optin [--config FILE] COMMAND …``: the parser of every subcommand, and the entry point."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence

from service.cli import admin_key, check_config, data, outbox, serve, smtp_test
from service.cli.common import CONFIG_HELP, optin_version, quiet_broken_pipe, report
from service.connectors.cli import add_parser as add_connectors
from service.errors import ConfigError
from service.verification.cli import add_parser as add_verify


def _subparsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield sub
                yield from _subparsers(sub)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="optin",
        description="Self-hosted double opt-in signups: verify, confirm, deliver to your list.",
        epilog="`optin COMMAND --help` explains each command.",
    )
    top.add_argument("--config", metavar="FILE", help=CONFIG_HELP)
    top.add_argument("--version", action="version", version=f"optin {optin_version()}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (serve, check_config, smtp_test, outbox, data, admin_key):
        module.add_parser(sub)
    add_verify(sub)
    add_connectors(sub)
    # `--config` is accepted after the command too (`optin serve --config FILE`); SUPPRESS keeps
    # a value given before the command when none is given after it.
    for command in _subparsers(top):
        command.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help=CONFIG_HELP)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except ConfigError as exc:
        return report(exc)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return quiet_broken_pipe()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return quiet_broken_pipe()
    return result
