"""The command line as the README shows it: options anywhere, help everywhere, `make run`, pipes."""

from __future__ import annotations

import argparse
import asyncio
import os
import pty
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx

from service.cli import parser
from tests.support.app_server import SECRET, free_port, wait_for
from tests.test_cli import config_file, optin

REPO = Path(__file__).resolve().parent.parent
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
COMMANDS = [
    ["serve"],
    ["check-config"],
    ["smtp-test"],
    ["smtp-test", "--send-to", "a@example.com"],
    ["doctor"],
    ["dkim-keygen", "--selector", "s1"],
    ["preview", "confirm"],
    ["lint-templates"],
    ["outbox"],
    ["export"],
    ["contacts", "export", "a@example.com"],
    ["purge"],
    ["admin-key", "ops"],
    ["verify"],
    ["connectors", "status"],
    ["connectors", "test", "newsletter"],
]


def commands(
    top: argparse.ArgumentParser, path: str = "optin"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, top
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            helped = {choice.dest for choice in action._choices_actions if choice.help}
            for name, sub in action.choices.items():
                assert name in helped, f"{path} {name} has no help line"
                yield from commands(sub, f"{path} {name}")


def test_every_option_of_every_command_has_a_help_line() -> None:
    seen = 0
    for path, command in commands(parser()):
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            name = "/".join(action.option_strings) or action.dest
            assert action.help and action.help != argparse.SUPPRESS, f"`{path}`: {name} has no help"
            assert "\n" not in action.help, f"`{path}`: {name}'s help is more than one line"
            seen += 1
    assert seen > 40  # every command was walked, not just the top


def test_config_is_accepted_before_and_after_every_command() -> None:
    for command in COMMANDS:
        after = parser().parse_args([*command, "--config", "after.toml"])
        before = parser().parse_args(["--config", "before.toml", *command])
        neither = parser().parse_args(command)
        assert (after.config, before.config, neither.config) == ("after.toml", "before.toml", None), command


async def test_check_config_reads_the_file_named_after_the_command(tmp_path: Path) -> None:
    bad = config_file(tmp_path, "[server]\nport = 99999\n")
    after = await optin("check-config", "--config", bad, env={})
    before = await optin("--config", bad, "check-config", env={})
    assert after == before
    assert after[0] == 2 and "server.port must be a port number from 1 to 65535, not 99999" in after[1]


async def test_version() -> None:
    code, out = await optin("--version", env={})
    assert (code, out.strip()) == (0, f"optin {VERSION}")


def test_make_says_what_it_does_before_pip_works(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    plan = subprocess.run(
        # --no-print-directory: under `make test` this make is a sub-make, which would say so.
        ["make", "--no-print-directory", "-n", "run", f"VENV={venv}", "CONFIG=optin.toml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    first_pip = next(i for i, line in enumerate(plan) if "pip install" in line)
    said = " ".join(line for line in plan[:first_pip] if line.startswith("echo"))
    assert "setting up" in said and "a minute or two" in said
    installing = next(i for i, line in enumerate(plan) if "-e '.[dev]'" in line)
    assert plan[installing - 1].startswith("echo") and "installing optin" in plan[installing - 1]
    assert plan[-1] == f"{venv}/bin/optin serve --config optin.toml"


async def test_make_run_with_config(tmp_path: Path) -> None:
    """`make run CONFIG=…` as the README says, with this machine's installed optin."""
    port = free_port()
    config = config_file(
        tmp_path,
        f'[server]\nport = {port}\nsecret_key = "{SECRET}"\ndatabase = "sqlite:///{tmp_path}/optin.db"\n'
        '[dns]\nnameservers = ["127.0.0.1:9"]\ntimeout = 0.2\n',
    )
    stamp = tmp_path / "installed"
    stamp.touch()
    bin_dir = Path(sys.executable).parent
    proc = await asyncio.create_subprocess_exec(
        *["make", "--no-print-directory", "run", f"CONFIG={config}", f"BIN={bin_dir}", f"STAMP={stamp}"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # make and the optin it starts, stopped together below
    )
    try:
        async with httpx.AsyncClient() as http:

            async def up() -> bool:
                if proc.returncode is not None:
                    raise AssertionError("make run stopped")
                try:
                    return (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_for(up, timeout=30, what="`make run CONFIG=…` to serve")
            assert "Demo Newsletter" in (await http.get(f"http://127.0.0.1:{port}/")).text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), 15)
    text = out.decode()
    assert f"make: starting optin: {bin_dir}/optin serve --config {config}" in text
    assert f"settings: {config}" in text
    assert "Traceback" not in text


def addresses(tmp_path: Path, count: int) -> Path:
    source = tmp_path / "addresses.txt"
    source.write_text("".join(f"person{i}@example.org\n" for i in range(count)), encoding="utf-8")
    return source


def test_verify_into_head_ends_quietly(tmp_path: Path, nameserver: str) -> None:
    source = addresses(tmp_path, 3000)  # far more output than a pipe holds once head has left
    errors = tmp_path / "stderr.txt"
    command = f"{sys.executable} -m service verify {source} --nameserver {nameserver} 2>{errors} | head -n 2"
    shown = subprocess.run(["bash", "-c", command], cwd=REPO, capture_output=True, text=True, check=True)
    assert len(shown.stdout.splitlines()) == 2 and '"input": "person0@example.org"' in shown.stdout
    assert errors.read_text() == ""  # no BrokenPipeError, no traceback, no summary of a run cut short


def test_verify_shows_a_progress_bar_on_a_terminal_and_a_summary(tmp_path: Path, nameserver: str) -> None:
    source = addresses(tmp_path, 400)
    # A few slow domains first, so the run lasts long enough for a bar.
    slow = "".join(f"late{i}@x{i}.slow.com\n" for i in range(3))
    source.write_text(slow + source.read_text(), encoding="utf-8")
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "service",
            "verify",
            str(source),
            "--nameserver",
            nameserver,
            "--deadline",
            "1",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
    )
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    assert proc.wait(30) == 0
    time.sleep(1.2)  # the zone answers slow.com after 2 s: let it, before the DNS server may stop
    text = seen.decode().replace("\r\n", "\n")  # the terminal turns newlines into CR LF
    assert "/403" in text and "ETA " in text and "/s" in text  # count/total, rate, ETA
    summary = text.rsplit("\r", 1)[-1].removeprefix("\x1b[K")  # after the bar, erased
    assert "verified 403 address(es) in " in summary
    assert ": 403 accepted, 0 warned, 0 rejected; 3 could not be checked (unknown)" in summary
