"""Real ``optin serve`` processes: JSON logs a collector can read, and /metrics adding up the
counters of every process (prometheus-client's multi-process mode)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.admin.support import KEYS, key_settings
from tests.store.test_replicas import _config
from tests.support.app_server import free_port, link_in, wait_for
from tests.support.instances import Instance
from tests.support.postgres import Cluster
from tests.support.relay import PASSWORD, Relay

SUBSCRIBE = "/v1/forms/newsletter/subscribe"
ENV = {"RELAY_PASSWORD": PASSWORD, "HOOK_SECRET": "x" * 20}


def with_lines(config: Path, server: str = "", more: str = "") -> Path:
    text = config.read_text().replace("[server]\n", f"[server]\n{server}\n", 1)
    keys = "".join(
        f'\n[admin.keys.{name}]\nsha256 = "{entry["sha256"]}"\nscopes = {json.dumps(entry["scopes"])}\n'
        for name, entry in key_settings("prom").items()
    )
    config.write_text(text + keys + more)
    return config


async def test_json_logs_one_object_per_line_with_request_ids_and_nothing_secret(
    starttls_relay: Relay, ca_file: str, nameserver: str, tmp_path: Path
) -> None:
    port = free_port()
    database = f"sqlite:///{tmp_path / 'optin.db'}"
    config = with_lines(
        _config(
            tmp_path,
            database,
            f"http://127.0.0.1:{port}",
            starttls_relay,
            ca_file,
            nameserver,
            "http://127.0.0.1:9/",
        ),
        server='log_format = "json"',
    )
    service = await Instance(config, "all", port, tmp_path / "service.log", ENV).start()
    try:
        async with httpx.AsyncClient(base_url=service.url) as http:
            answer = await http.post(
                SUBSCRIBE,
                json={"email": "ann.lee@example.org", "consent": True},
                headers={"x-request-id": "req-test-0001"},
            )
            assert answer.status_code == 202 and answer.headers["x-request-id"] == "req-test-0001"
            mail = await wait_for(lambda: starttls_relay.to("ann.lee@example.org"), what="the email")
            link = link_in(mail[-1], "confirm")
            page = await http.get(link, headers={"x-request-id": "bad id with spaces"})
            fresh_id = page.headers["x-request-id"]
            assert fresh_id != "bad id with spaces" and len(fresh_id) == 16  # not taken as given
            starttls_relay.rcpt_reply = "550 5.1.1 <bob.ray@example.org>: no such user"
            await http.post(SUBSCRIBE, json={"email": "bob.ray@example.org", "consent": True})
            await wait_for(lambda: "is dead" in service.log.read_text(), what="the dead job's log line")
    finally:
        await service.stop()
    text = service.log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is JSON
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    (subscribe,) = [a for a in access if a["request_id"] == "req-test-0001"]
    assert subscribe["http"]["method"] == "POST" and subscribe["http"]["status"] == 202
    assert subscribe["http"]["path"] == SUBSCRIBE and subscribe["http"]["duration_ms"] >= 0
    (visit,) = [a for a in access if a["request_id"] == fresh_id]
    assert visit["http"]["path"] == "/confirm/…"
    token = link.rsplit("/", 1)[1]
    assert token not in text  # the link's token is nowhere
    assert "bob.ray@example.org" not in text and "ann.lee@example.org" not in text
    (dead,) = [line for line in lines if "is dead" in line["message"]]
    assert "<b***@example.org>" in dead["message"] and dead["level"] == "warning"


async def test_metrics_add_up_every_process_in_multiprocess_mode(
    postgres: Cluster, starttls_relay: Relay, ca_file: str, nameserver: str, tmp_path: Path
) -> None:
    database = postgres.new_database()
    ports = [free_port(), free_port()]
    config = with_lines(
        _config(
            tmp_path,
            database,
            f"http://127.0.0.1:{ports[0]}",
            starttls_relay,
            ca_file,
            nameserver,
            "http://127.0.0.1:9/",
        )
    )
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**ENV, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    web = await Instance(config, "web", ports[0], tmp_path / "web.log", env).start()
    worker = await Instance(config, "worker", ports[1], tmp_path / "worker.log", env).start()
    try:
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                f"{web.url}{SUBSCRIBE}", json={"email": "ann@example.org", "consent": True}
            )
            assert answer.status_code == 202
            await wait_for(
                lambda: starttls_relay.to("ann@example.org"), timeout=20, what="the worker's email"
            )

            async def scraped(url: str) -> dict[tuple[str, str], float]:
                page = await http.get(
                    f"{url}/metrics", headers={"authorization": f"Bearer {KEYS['prom'][0]}"}
                )
                assert page.status_code == 200, page.text
                return {
                    (s.name, json.dumps(s.labels, sort_keys=True)): s.value
                    for family in text_string_to_metric_families(page.text)
                    for s in family.samples
                }

            sent = ("optin_emails_total", json.dumps({"kind": "confirmation_email", "outcome": "sent"}))
            signup = (
                "optin_signups_total",
                json.dumps({"form": "newsletter", "outcome": "accepted"}, sort_keys=True),
            )
            for url in (web.url, worker.url):  # each process reports the other's counts too

                async def both_counted(where: str = url) -> bool:
                    found = await scraped(where)
                    return found.get(sent) == 1 and found.get(signup) == 1

                await wait_for(both_counted, what=f"both counts in {url}/metrics")
    finally:
        for instance in (web, worker):
            await instance.stop()
    assert list(folder.glob("*.db"))  # the values lived in the shared folder
