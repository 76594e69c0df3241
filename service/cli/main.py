"""``optin [--config FILE] COMMAND …``: the parser of every subcommand, and the entry point."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence

from service.cli.common import CONFIG_HELP, optin_version, quiet_broken_pipe, report
from service.errors import ConfigError, StoreError


def _subparsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield sub
                yield from _subparsers(sub)


class _Version(argparse.Action):
    """``--version``, looked up only when asked (reading package metadata costs every command)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help=str(kwargs.get("help", "")))

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        print(f"optin {optin_version()}")
        parser.exit()


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (skipping ``--config FILE``), if it is plainly there."""
    args = iter(argv)
    for arg in args:
        if arg == "--config":
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def _add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], only: str | None) -> None:
    # `optin verify` on a big file is timed as a whole process: it loads only what it uses.
    from service.verification.cli import add_parser as add_verify

    if only == "verify":
        add_verify(sub)
        return
    from service.cli import (
        admin_key,
        check_config,
        data,
        dkim_keygen,
        doctor,
        imports,
        outbox,
        preview,
        serve,
        smtp_test,
    )
    from service.connectors.cli import add_parser as add_connectors
    from service.store.cli import add_parser as add_store

    for module in (serve, check_config, smtp_test, doctor, dkim_keygen, preview, outbox, data, admin_key):
        module.add_parser(sub)
    add_verify(sub)
    imports.add_parser(sub)
    add_connectors(sub)
    add_store(sub)


def parser(only: str | None = None) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="optin",
        description="Self-hosted double opt-in signups: verify, confirm, deliver to your list.",
        epilog="`optin COMMAND --help` explains each command.",
    )
    top.add_argument("--config", metavar="FILE", help=CONFIG_HELP)
    top.add_argument("--version", action=_Version, help="show which optin this is and exit")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_commands(sub, only)
    # `--config` is accepted after the command too (`optin serve --config FILE`); SUPPRESS keeps
    # a value given before the command when none is given after it.
    for command in _subparsers(top):
        command.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help=CONFIG_HELP)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    command = _command(words)
    args = parser("verify" if command == "verify" else None).parse_args(words)
    try:
        result: int = args.func(args)
    except ConfigError as exc:
        return report(exc)
    except StoreError as exc:
        print(f"The database cannot be used: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return quiet_broken_pipe()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return quiet_broken_pipe()
    return result
