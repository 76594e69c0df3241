"""optin started the way its users start it (``python -m service serve``): who the client is, and
what reaches the log, the server's own access log included."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from service.admin import new_key
from tests.support.app_server import free_port, stored
from tests.support.relay import Relay
from tests.support.subprocess_service import running_service, write_config

SUBSCRIBE = "/v1/forms/newsletter/subscribe"
URL_TOKEN = "Hk7" * 10


def config_file(
    tmp: Path, port: int, relay: Relay, ca_file: str, nameserver: str, *, trusted_proxies: str = "[]"
) -> tuple[Path, str]:
    """The usual test service with the real per-IP limit (20 an hour), a hook with a secret URL
    and an admin key; returns the file and the key."""
    config = write_config(tmp, port, relay, ca_file, nameserver, "builtin", "")
    key, digest = new_key()
    text = config.read_text(encoding="utf-8")
    text = text.replace("signups_per_ip_hour = 1000", "signups_per_ip_hour = 20")
    text = text.replace(
        "confirm_min_dwell_seconds = 0", f"confirm_min_dwell_seconds = 0\ntrusted_proxies = {trusted_proxies}"
    )
    text += f"""
[forms.newsletter.hook]
secret = "process-hook-secret-0123456789"
url_token = "{URL_TOKEN}"

[admin.keys.ops]
sha256 = "{digest}"
scopes = ["admin"]
"""
    config.write_text(text, encoding="utf-8")
    return config, key


async def test_forged_x_forwarded_for_is_not_believed_without_a_trusted_proxy(
    starttls_relay: Relay, ca_file: str, nameserver: str, tmp_path: Path
) -> None:
    """``trusted_proxies = []``: 25 signups from 127.0.0.1, each claiming another address."""
    port = free_port()
    config, _ = config_file(tmp_path, port, starttls_relay, ca_file, nameserver)
    async with running_service(config, port, tmp_path):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            statuses = [
                (
                    await http.post(
                        SUBSCRIBE,
                        json={"email": f"f{i}@example.org", "consent": True},
                        headers={"X-Forwarded-For": f"93.184.216.{i}", "X-Real-IP": f"93.184.216.{i}"},
                    )
                ).status_code
                for i in range(25)
            ]
    assert statuses == [202] * 20 + [429] * 5
    contacts = await stored(f"sqlite:///{tmp_path / 'optin.db'}")
    assert len(contacts) == 20
    assert {e.ip for _, events in contacts for e in events if e.event == "signup"} == {"127.0.0.1"}
    log = (tmp_path / "service.log").read_text(encoding="utf-8")
    assert "93.184.216." not in log
    assert re.search(r'127\.0\.0\.1:\d+ - "POST /v1/forms/newsletter/subscribe HTTP/1\.1" 202', log), log


async def test_a_listed_proxy_is_believed_and_only_it(
    starttls_relay: Relay, ca_file: str, nameserver: str, tmp_path: Path
) -> None:
    port = free_port()
    config, _ = config_file(
        tmp_path, port, starttls_relay, ca_file, nameserver, trusted_proxies='["127.0.0.1"]'
    )
    async with running_service(config, port, tmp_path):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for i in range(3):
                # A client's own X-Forwarded-For, then the address the proxy saw it connect from.
                forwarded = {"X-Forwarded-For": f"10.9.9.9, 93.184.216.{i}"}
                answer = await http.post(
                    SUBSCRIBE, json={"email": f"p{i}@example.org", "consent": True}, headers=forwarded
                )
                assert answer.status_code == 202, answer.text
    contacts = await stored(f"sqlite:///{tmp_path / 'optin.db'}")
    assert {e.ip for _, events in contacts for e in events if e.event == "signup"} == {
        f"93.184.216.{i}" for i in range(3)
    }


async def test_no_log_line_holds_the_hook_url_token_or_an_address(
    starttls_relay: Relay, ca_file: str, nameserver: str, tmp_path: Path
) -> None:
    port = free_port()
    config, key = config_file(tmp_path, port, starttls_relay, ca_file, nameserver)
    admin = {"Authorization": f"Bearer {key}"}
    async with running_service(config, port, tmp_path):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            hook = await http.post(
                f"/v1/hooks/newsletter/{URL_TOKEN}", data={"email": "hannah.hook@example.org", "consent": "1"}
            )
            assert hook.status_code == 202, hook.text
            guessed = await http.post(
                f"/v1/hooks/newsletter/{URL_TOKEN[:-1]}x", data={"email": "x@example.org"}
            )
            assert guessed.status_code == 401
            for path in (
                "/v1/contacts/hannah.hook%40example.org/export",
                "/v1/contacts/hannah.hook%40EXAMPLE.org/export",
                "/v1/contacts/hannah.hook@example.org/export",  # sent as %40 too
                "/v1/contacts/hannah%2Ehook%2540example.org/export",
            ):
                assert (await http.get(path, headers=admin)).status_code in (200, 404)
            erased = await http.delete("/v1/contacts/hannah.hook%40example.org", headers=admin)
            assert erased.json() == {"status": "erased", "contacts": 1}
            await http.get("/thanks", params={"form": "newsletter", "email": "olga.query@example.org"})
    log = (tmp_path / "service.log").read_text(encoding="utf-8")
    assert URL_TOKEN not in log and URL_TOKEN[:-1] not in log
    assert "/v1/hooks/newsletter/… " in log
    for secret in ("hannah", "olga", "%2Ehook", key):
        assert secret not in log, secret
    assert '"DELETE /v1/contacts/h***%40example.org HTTP/1.1" 200' in log, log
    assert '"GET /v1/contacts/h***%2540example.org/export HTTP/1.1" 404' in log
