"""``optin import FILE``: every kind of bad row, BOMs, delimiters, encodings, mapping, the ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.errors import InputError
from service.privacy import erase_contact
from service.store import open_store
from tests.imports.support import PERMISSION, report_rows, run_import, settings_for
from tests.support.app_server import SECRET
from tests.support.db import rows

BAD_ROWS = (
    "E-mail;Prénom;Nom;Société;Notes\n"
    "ann.lee@gmail.com;Ann;Lee;Acme;vip\n"  # 2 imported
    ";Nobody;Here;X;\n"  # 3 no email
    "bad@@gmail.com;Bo;B;X;\n"  # 4 syntax
    "k@mailinator.com;K;S;Y;\n"  # 5 disposable
    "j@no-such-domain-xyz.com;J;D;Z;\n"  # 6 domain does not exist
    "j@gmail.con;J;D;Z;\n"  # 7 typo
    "Ann.Lee+shop@gmail.com;;;Acme SA;\n"  # 8 same mailbox as row 2: merged
    "marco@libero.it;Marco;Rossi;Q;;extra\n"  # 9 more cells than columns
    "\n"  # 10 blank
    "noreply@example.org;No;Reply;Z;\n"  # 11 imported with a warning (role)
    "joao@terra.com.br;João;Silva;Z;\n"  # 12 imported
)


def write(path: Path, text: str, encoding: str = "utf-8", bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


async def test_every_kind_of_bad_row_is_reported_in_words_and_the_rest_imported(
    tmp_path: Path, db_url: str, nameserver: str
) -> None:
    settings = settings_for(db_url, nameserver)
    source = write(tmp_path / "customers.csv", BAD_ROWS, bom=True)
    report = tmp_path / "report.csv"
    summary = await run_import(settings, source, report, mapped={"Société": "company"}, ignore=("Notes",))

    assert summary.outcomes["added"] == 3  # ann, noreply (warned), joao
    got = {int(r["row"]): r for r in report_rows(report)}
    assert got[3]["reason"] == "the row has no email address"
    assert "more than one @" in got[4]["reason"]
    assert "disposable" in got[5]["reason"]
    assert "does not exist" in got[6]["reason"]
    assert got[7]["reason"] == "Did you mean j@gmail.com?" and got[7]["suggestion"] == "j@gmail.com"
    assert got[8]["outcome"] == "merged" and "row 2" in got[8]["reason"]
    assert "6 cells but the header names 5" in got[9]["reason"]
    assert got[11]["outcome"] == "imported with a warning"
    assert 2 not in got and 12 not in got and 10 not in got

    contacts = rows(db_url, "SELECT email, first_name, last_name, status FROM contacts ORDER BY id")
    assert contacts[0] == ("ann.lee@gmail.com", "Ann", "Lee", "confirmed")
    assert ("joao@terra.com.br", "João", "Silva", "confirmed") in contacts
    # Counted by domain in the admin's funnel like any signup.
    assert ("gmail.com",) in rows(
        db_url, "SELECT email_domain FROM contacts WHERE email = 'ann.lee@gmail.com'"
    )
    [(event, text, detail)] = rows(
        db_url,
        "SELECT event, consent_text, detail FROM consent_events WHERE contact_id ="
        " (SELECT id FROM contacts WHERE email = 'ann.lee@gmail.com')",
    )
    record = json.loads(detail)
    assert event == "import" and text == PERMISSION
    assert record["row"] == 2 and record["by"] == "tester" and record["policy"] == "add_update"
    assert len(record["file_sha256"]) == 64 and record["file"] == "customers.csv"
    # the duplicate row filled nothing the first row had; its company stayed the first one's
    assert record["fields"] == {"company": "Acme"}
    [run] = rows(db_url, "SELECT state, rows_read, added, not_imported FROM import_runs")
    assert run == ("done", 10, 3, 7)  # the blank line is no row


@pytest.mark.parametrize(
    ("text", "encoding", "bom"),
    [
        ("Email,First name\nann@gmail.com,Zoë\n", "utf-8", False),
        ("Email\tVorname\nann@gmail.com\tZoë\n", "utf-8", True),
        ("Correo electrónico|Nombre\nann@gmail.com|Zoë\n", "utf-8", False),
        ("Courriel;Prénom\nann@gmail.com;Zoë\n", "latin-1", False),
    ],
)
async def test_delimiters_boms_encodings_and_headers_in_four_languages(
    tmp_path: Path, sqlite_url: str, nameserver: str, text: str, encoding: str, bom: bool
) -> None:
    settings = settings_for(sqlite_url, nameserver)
    summary = await run_import(settings, write(tmp_path / "x.csv", text, encoding, bom))
    assert summary.outcomes["added"] == 1
    assert rows(sqlite_url, "SELECT email, first_name FROM contacts") == [("ann@gmail.com", "Zoë")]
    latin = [n for n in summary.notices if "Latin-1" in n]
    assert bool(latin) == (encoding == "latin-1")


async def test_json_lines_import_with_a_mapped_field(
    tmp_path: Path, sqlite_url: str, nameserver: str
) -> None:
    settings = settings_for(sqlite_url, nameserver)
    source = tmp_path / "x.jsonl"
    source.write_text(
        '{"email": "ann@gmail.com", "first_name": "Ann", "plan": "gold"}\nnot json\n'
        '{"email": "bo@gmail.com", "plan": {"nested": 1}}\n'
        + "[" * 5000  # deeper than Python's JSON parser goes: it raised RecursionError, a traceback
        + "\n"
        + '{"email": "cy@gmail.com", "plan": '
        + "9" * 5000
        + "}\n",  # past int()'s 4,300 digits
        encoding="utf-8",
    )
    report = tmp_path / "r.csv"
    summary = await run_import(settings, source, report, mapped={"plan": "plan"})
    assert summary.outcomes["added"] == 1
    reasons = {r["row"]: r["reason"] for r in report_rows(report)}
    assert reasons == {
        "2": "the row is not valid JSON",
        "3": "the row has a nested value under 'plan'; only flat objects import",
        "4": "the row is not valid JSON",
        "5": "the row is not valid JSON",
    }


async def test_unknown_columns_are_refused_before_anything_is_imported(
    tmp_path: Path, sqlite_url: str, nameserver: str
) -> None:
    settings = settings_for(sqlite_url, nameserver)
    source = write(tmp_path / "x.csv", "Email,Company,Order total\nann@gmail.com,Acme,12\n")
    with pytest.raises(InputError) as refused:
        await run_import(settings, source, mapped={"Company": "company"})
    assert "columns not mapped: Order total" in str(refused.value)
    assert '--ignore "Order total"' in str(refused.value)
    assert rows(sqlite_url, "SELECT count(*) FROM contacts") == [(0,)]
    [(state, error)] = rows(sqlite_url, "SELECT state, error FROM import_runs")
    assert state == "failed" and "Order total" in error


async def test_dry_run_decides_everything_and_changes_nothing(
    tmp_path: Path, sqlite_url: str, nameserver: str
) -> None:
    settings = settings_for(sqlite_url, nameserver)
    summary = await run_import(settings, write(tmp_path / "x.csv", "Email\nann@gmail.com\n"), dry_run=True)
    assert summary.outcomes["added"] == 1
    assert rows(sqlite_url, "SELECT count(*) FROM contacts") == [(0,)]
    assert rows(sqlite_url, "SELECT count(*) FROM import_runs") == [(0,)]


async def test_nobody_unsubscribed_or_erased_is_added_back(
    tmp_path: Path, db_url: str, nameserver: str
) -> None:
    settings = settings_for(db_url, nameserver)
    first = write(tmp_path / "a.csv", "Email\nleft@gmail.com\nerased.person@gmail.com\n")
    await run_import(settings, first)
    store = await open_store(db_url)
    try:
        [left] = [c for c in await store.contacts() if c.email == "left@gmail.com"]
        await store.write(lambda tx: tx.set_status(left.id, "unsubscribed", 1.0))
        await erase_contact(store, SECRET, "erased.person@gmail.com")
    finally:
        await store.close()
    # other spellings of the same two inboxes, under the most permissive policy
    again = write(
        tmp_path / "b.csv", "Email\nleft@gmail.com\nL.eft+news@gmail.com\nErasedPerson+x@googlemail.com\n"
    )
    report = tmp_path / "r.csv"
    summary = await run_import(settings, again, report)
    assert summary.outcomes["added"] == 0 and summary.outcomes["updated"] == 0
    reasons = [r["reason"] for r in report_rows(report)]
    assert any("unsubscribed from this list" in r for r in reasons)
    assert any("erased at the person's request" in r for r in reasons)
    assert rows(db_url, "SELECT email, status FROM contacts") == [("left@gmail.com", "unsubscribed")]


async def test_the_command_line_says_what_it_did(tmp_path: Path, sqlite_url: str, nameserver: str) -> None:
    from tests.test_cli import optin

    config = tmp_path / "optin.toml"
    config.write_text(
        f'[server]\ndatabase = "{sqlite_url}"\nsecret_key = "{SECRET}"\n'
        f'[dns]\nnameservers = ["{nameserver}"]\n[forms.newsletter]\ntitle = "News"\n',
        encoding="utf-8",
    )
    source = write(tmp_path / "x.csv", "Email;Vorname\nann@gmail.com;Ann\nbad@@x;B\n")
    code, out = await optin(
        "import", str(source), "--config", str(config), "--form", "newsletter",
        "--policy", "add_only", "--permission", PERMISSION,
    )  # fmt: skip
    assert code == 0, out
    assert "2 row(s), 1 added" in out and "1 not imported" in out and "x.csv.report.csv" in out
    code, out = await optin("imports", "list", "--config", str(config))
    assert code == 0 and "No recurring import is configured" in out
