"""optin verify: bulk verification from a file or stdin, JSONL or CSV, in input order."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import pytest

from service.verification.cli import add_parser

from .dnszone import LoopbackDns


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="optin")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["verify", *argv])


def _run(args: argparse.Namespace) -> int:
    code: int = args.func(args)
    return code


ADDRESSES = ["ann@gmail.com", "bob@gmail.con", "", "carol@mailinator.com", "info@mx-ok.com", "not an address"]


def test_jsonl_one_object_per_input_line_in_order(
    tmp_path: Path, dns_server: LoopbackDns, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "list.txt"
    source.write_text("\n".join(ADDRESSES) + "\n", encoding="utf-8")
    assert _run(_parse(str(source), "--nameserver", dns_server.nameserver, "--concurrency", "2")) == 0
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["input"] for r in rows] == ADDRESSES
    assert [r["decision"] for r in rows] == ["accept", "reject", "reject", "reject", "warn", "reject"]
    assert rows[1]["suggestion"] == "bob@gmail.com"
    assert rows[3]["flags"] == ["disposable"]
    for row in rows:
        assert {"input", "normalized", "status", "decision", "reasons", "flags", "suggestion"} <= set(row)
    # No progress bar when stderr is not a terminal, only the closing summary.
    assert err.startswith("verified 6 address(es) in ") and "\r" not in err
    assert err.rstrip().endswith(": 1 accepted, 1 warned, 4 rejected")


def test_csv_column_from_stdin_to_csv(
    monkeypatch: pytest.MonkeyPatch, dns_server: LoopbackDns, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("name,email\nAnn,ann@gmail.com\nBob,bob@null-mx.com\n"))
    assert _run(_parse("--column", "email", "--format", "csv", "--nameserver", dns_server.nameserver)) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["input"], r["status"]) for r in rows] == [
        ("ann@gmail.com", "deliverable"),
        ("bob@null-mx.com", "undeliverable"),
    ]
    assert rows[1]["reasons"] == "null_mx"
    assert rows[0]["flags"] == "free"


def test_progress_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    dns_server: LoopbackDns,
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    source = tmp_path / "list.txt"
    source.write_text("ann@gmail.com\n", encoding="utf-8")
    assert _run(_parse(str(source), "--nameserver", dns_server.nameserver)) == 0
    assert "verified 1" in terminal.getvalue()
    assert "verified" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["missing-file.txt"], "No such file"),
        (["--nameserver", "dns.example.com"], "not an IP address"),
        (["--concurrency", "0"], "at least 1"),
    ],
)
def test_unusable_input_exits_2_with_a_message(
    argv: list[str],
    words: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _run(_parse(*argv)) == 2
    assert words in capsys.readouterr().err


def test_unknown_csv_column_exits_2(
    monkeypatch: pytest.MonkeyPatch, dns_server: LoopbackDns, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("name,mail\nAnn,ann@gmail.com\n"))
    assert _run(_parse("--column", "email", "--nameserver", dns_server.nameserver)) == 2
    assert "no column 'email'" in capsys.readouterr().err


def test_policy_given_by_the_caller_decides(
    tmp_path: Path, dns_server: LoopbackDns, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.verification import Policy, VerifierConfig

    source = tmp_path / "list.txt"
    source.write_text("ann@mailinator.com\n", encoding="utf-8")
    args = _parse(str(source))
    args.verifier_config = VerifierConfig(nameservers=(dns_server.nameserver,))
    args.policy = Policy(reject_disposable=False)
    assert _run(args) == 0
    assert json.loads(capsys.readouterr().out)["decision"] == "warn"


def test_unknown_form_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # development defaults keep their secret next to the database
    monkeypatch.delenv("OPTIN_CONFIG", raising=False)
    assert _run(_parse("--form", "nope")) == 2
    assert "no form 'nope'" in capsys.readouterr().err
