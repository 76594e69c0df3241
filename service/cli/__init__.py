"""The ``optin`` command: one module per group of subcommands, put together in :mod:`.main`."""

from service.cli.main import main, parser

__all__ = ["main", "parser"]
