"""The [admin] settings: problems in words (check-config and serve), and `optin admin-password`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from service.errors import ConfigError
from service.settings_show import render
from tests.support.app_server import make_settings


def problems(raw: dict[str, object], env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        make_settings(raw, env)
    return caught.value.problems


def test_each_admin_setting_is_checked(tmp_path: Path) -> None:
    found = problems(
        {
            "server": {"log_format": "yaml"},
            "admin": {
                "password_hash": "hunter2",
                "metrics_listen": "9464",
                "session_hours": 0,
                "daily_digest": True,
                "digest_hour": 24,
                "keys": {"prom": {"sha256": "0" * 64, "scopes": ["metrics", "root"]}},
            },
        },
        {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "missing")},
    )
    assert 'server.log_format must be "text" or "json", not \'yaml\'' in found
    assert any(p.startswith("admin.password_hash must be an argon2 hash") for p in found)
    assert 'admin.metrics_listen must be "HOST:PORT" (e.g. "127.0.0.1:9464"), not \'9464\'' in found
    assert "admin.session_hours must be more than 0 and at most 720, not 0.0" in found
    assert "admin.digest_hour must be an hour from 0 to 23 (UTC), not 24" in found
    assert "admin.daily_digest needs server.owner_email: the address the digest goes to" in found
    assert "admin.keys.prom.scopes must list some of admin, erase, export, metrics, read" in found
    assert any("$PROMETHEUS_MULTIPROC_DIR names" in p for p in found)


def test_good_admin_settings_and_show_masks_the_password_hash(tmp_path: Path) -> None:
    digest = PasswordHasher().hash("a long enough passphrase")
    settings = make_settings(
        {
            "server": {"owner_email": "owner@example.org", "log_format": "json"},
            "admin": {"password_hash": digest, "metrics_listen": "[::1]:9464", "daily_digest": True},
        },
        {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
    )
    assert settings.admin.metrics_multiproc_dir == str(tmp_path) and settings.server.log_format == "json"
    shown = render(settings)
    assert digest not in shown and 'password_hash = "********"' in shown
    assert 'metrics_listen = "[::1]:9464"' in shown


async def test_admin_password_prints_an_argon2_hash_of_what_it_reads(tmp_path: Path) -> None:
    import asyncio

    async def run(text: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "service", "admin-password",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate(text.encode())
        return proc.returncode or 0, out.decode()

    code, out = await run("short\n")
    assert code == 1 and "at least 12 characters" in out
    code, out = await run("correct horse battery staple\n")
    assert code == 0 and "[admin]" in out
    digest = out.split('password_hash = "', 1)[1].split('"', 1)[0]
    assert PasswordHasher().verify(digest, "correct horse battery staple")
    assert "correct horse" not in out
