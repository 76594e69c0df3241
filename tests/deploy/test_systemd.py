"""deploy/systemd: the units pass `systemd-analyze verify`, score well on its sandbox audit, and
hand every secret over as a credential file that a _FILE setting names.

`verify` refuses a unit whose ExecStart program does not exist, and /opt/optin is not installed
on a test machine; so each unit is verified as a copy whose ExecStart runs this Python instead,
every other line unchanged. `verify` exits 0 on an unknown key or a bad value and only prints
it, so a pass here is an exit code of 0 and no output at all.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.files import DEPLOY, tool, unit_values

UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
SYSTEMD = "Debian's systemd package (systemd-analyze)"


def runnable_copy(unit: Path, directory: Path) -> Path:
    text = unit.read_text()
    program = "/opt/optin/bin/optin"
    assert f"ExecStart={program} " in text, "ExecStart runs the console script of the virtualenv"
    copy = directory / unit.name
    copy.write_text(text.replace(f"ExecStart={program} ", f"ExecStart={sys.executable} "))
    return copy


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    analyze = tool("systemd-analyze", SYSTEMD)
    return subprocess.run(
        [analyze, "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=unit.parent,
    )


def test_there_is_a_web_unit_and_a_worker_unit() -> None:
    assert [u.name for u in UNITS] == ["optin-worker.service", "optin.service"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_unit_verifies_cleanly(unit: Path, tmp_path: Path) -> None:
    result = verify(runnable_copy(unit, tmp_path))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_verify_reports_a_misspelt_key(tmp_path: Path) -> None:
    copy = runnable_copy(DEPLOY / "systemd" / "optin.service", tmp_path)
    copy.write_text(copy.read_text().replace("TimeoutStopSec=", "TimeoutStopSek="))
    assert "Unknown key 'TimeoutStopSek'" in verify(copy).stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_sandbox_exposure_is_low(unit: Path, tmp_path: Path) -> None:
    analyze = tool("systemd-analyze", SYSTEMD)
    result = subprocess.run(
        [analyze, "security", "--offline=yes", str(runnable_copy(unit, tmp_path))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    score = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert score is not None, result.stdout + result.stderr
    # systemd's scale: 0 is locked down, 10 is unprotected; below 2.0 it says "OK".
    assert float(score.group(1)) < 2.0, result.stdout


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_unit_sandbox_restarts_and_drains(unit: Path) -> None:
    for key, value in (
        ("DynamicUser", "yes"),
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        ("Restart", "on-failure"),
        ("KillSignal", "SIGTERM"),
    ):
        assert unit_values(unit, key) == [value], key
    # optin drains within ~30 s of SIGTERM; systemd must not SIGKILL it sooner.
    assert int(unit_values(unit, "TimeoutStopSec")[0]) >= 35
    (start,) = unit_values(unit, "ExecStart")
    assert start.startswith("/opt/optin/bin/optin serve --role ")


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_every_secret_is_a_credential_named_by_a_file_setting(unit: Path) -> None:
    credentials = {c.split(":", 1)[0]: c.split(":", 1)[1] for c in unit_values(unit, "LoadCredential")}
    settings = dict(e.split("=", 1) for e in unit_values(unit, "Environment"))
    named = {k: v for k, v in settings.items() if k.endswith("_FILE")}
    # %d is $CREDENTIALS_DIRECTORY: a file only this service can read, gone when it stops.
    assert sorted(v.removeprefix("%d/") for v in named.values()) == sorted(credentials)
    assert all(v.startswith("%d/") for v in named.values())
    assert all(p.startswith("/etc/optin/credentials/") for p in credentials.values())
    assert "OPTIN_SERVER__SECRET_KEY_FILE" in named and "OPTIN_SMTP__PASSWORD_FILE" in named
    assert not any(k.endswith(("SECRET_KEY", "PASSWORD")) for k in settings)
    assert settings["OPTIN_CONFIG"] == "/etc/optin/optin.toml"
    assert unit_values(unit, "EnvironmentFile") == ["-/etc/optin/optin.env"]


def test_the_main_unit_keeps_sqlite_in_its_state_directory() -> None:
    unit = DEPLOY / "systemd" / "optin.service"
    assert unit_values(unit, "StateDirectory") == ["optin"]
    assert unit_values(unit, "WorkingDirectory") == ["/var/lib/optin"]
    settings = dict(e.split("=", 1) for e in unit_values(unit, "Environment"))
    assert settings["OPTIN_SERVER__DATABASE"] == "sqlite:////var/lib/optin/optin.db"
    assert "--role all" in unit_values(unit, "ExecStart")[0]


def test_the_worker_unit_runs_jobs_on_postgresql_only() -> None:
    unit = DEPLOY / "systemd" / "optin-worker.service"
    assert unit_values(unit, "StateDirectory") == []  # SQLite is optin.service's alone
    settings = dict(e.split("=", 1) for e in unit_values(unit, "Environment"))
    assert settings["OPTIN_SERVER__DATABASE_FILE"] == "%d/database_url"
    start = unit_values(unit, "ExecStart")[0]
    assert "--role worker" in start and "--port 8001" in start  # beside optin.service's 8000
