"""What every subcommand shares: the settings it runs with, and how problems are told."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from service.errors import ConfigError
from service.numbers import whole_number

if TYPE_CHECKING:
    from service.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]

CONFIG_HELP = "settings file (default: $OPTIN_CONFIG; without one: the environment and development defaults)"


def checked_settings(args: argparse.Namespace) -> Settings:
    """The settings, or ConfigError with every problem: what ``check-config`` reports is exactly
    what ``serve`` refuses to start with, because both come through here."""
    from service.settings import load_settings  # not at import: `optin verify` starts without it

    return load_settings(getattr(args, "config", None))


def report(exc: ConfigError) -> int:
    print("The configuration cannot be used:", file=sys.stderr)
    for problem in exc.problems:
        print(f"  - {problem}", file=sys.stderr)
    return 2


def optin_version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # 25 ms: only when asked

    try:
        return version("optin")
    except PackageNotFoundError:  # run from a checkout that was never installed
        import tomllib

        project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        return str(project["project"]["version"])


def port_number(text: str) -> int:
    """An argparse type: a TCP port, refused in words."""
    port = whole_number(text, 65536)
    if not port:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number from 1 to 65535")
    return port


def quiet_broken_pipe() -> int:
    """The reader of our output went away (``optin verify … | head``): stop without a traceback.

    Python flushes stdout once more at exit; pointing it at /dev/null keeps that flush quiet.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141  # 128 + SIGPIPE, what a shell reports for a command stopped by a closed pipe
