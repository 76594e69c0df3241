"""The containers' command lines, run the way the containers run them (no Docker engine here).

Every `optin …` command line in deploy/ parses with optin's own parser. Then compose.yaml's
stack is replayed as processes: its environment (the `${VAR:-default}` values of the `try`
profile, secrets as files), the image's ENTRYPOINT and each service's `command`, in a working
directory standing for the `/data` volume; PostgreSQL is the tests' cluster and the relay a
loopback aiosmtpd standing for Mailpit. `migrate` exits 0, web and worker pass the image's
HEALTHCHECK, and a signup on the web process is mailed by the worker.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from service.cli import parser
from tests.deploy.files import DEPLOY, yaml_documents
from tests.deploy.installed import install_wheel
from tests.deploy.test_dockerfile import healthcheck, one
from tests.support.app_server import free_port, wait_for
from tests.support.postgres import Cluster
from tests.support.relay import PASSWORD, USER, Relay
from tests.widget.harness import solve

COMPOSE = DEPLOY / "compose.yaml"


def _optin_command_lines() -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    compose = yaml_documents(COMPOSE)[0]
    for name, service in compose["services"].items():
        if service.get("image", "").startswith("optin") and "entrypoint" not in service:
            found.append((f"compose {name}", list(service.get("command") or one("CMD").exec_form())))
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for document in yaml_documents(path):
            spec = document.get("spec", {}).get("template", {}).get("spec", {})
            for container in spec.get("containers", []):
                if "args" in container:
                    found.append((f"{path.name} {container['name']}", list(container["args"])))
    for path in sorted((DEPLOY / "systemd").glob("*.service")):
        for line in path.read_text().splitlines():
            if line.startswith("ExecStart=/"):
                found.append((path.name, shlex.split(line.partition("=")[2])[1:]))
    return found


@pytest.mark.parametrize(("where", "argv"), _optin_command_lines(), ids=lambda v: str(v))
def test_every_command_line_in_deploy_parses(where: str, argv: list[str]) -> None:
    args = parser().parse_args(argv)  # argparse exits (a test failure) on an unknown option
    assert args.command in ("serve", "migrate"), where


def _compose_environment() -> dict[str, str]:
    """The `x-optin` environment with compose's `${VAR:-default}` / `${VAR-default}` resolved as
    they are when deploy/.env is absent: what the `try` profile runs with."""
    compose = yaml_documents(COMPOSE)[0]
    raw: dict[str, str] = compose["x-optin"]["environment"]

    def default(value: str) -> str:
        return re.sub(r"\$\{[A-Z0-9_]+:?-([^}]*)\}", lambda m: m.group(1), str(value))

    return {key: default(value) for key, value in raw.items()}


async def _run(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


def _healthy(python: Path, port: int, env: dict[str, str]) -> bool:
    _, command = healthcheck()
    probe_env = {**env, "OPTIN_SERVER__PORT": str(port)}
    return (
        subprocess.run([python, *command[1:]], env=probe_env, capture_output=True, timeout=30).returncode == 0
    )


async def test_the_compose_stack_runs_as_its_command_lines_say(
    postgres: Cluster, starttls_relay: Relay, ca_file: str, nameserver: str, tmp_path: Path
) -> None:
    secrets, data = tmp_path / "secrets", tmp_path / "data"
    secrets.mkdir()
    data.mkdir()
    # The image's /opt/optin: the wheel, with nothing of this checkout on the path.
    installed = await asyncio.to_thread(install_wheel, tmp_path / "image")
    code, where = await _run(
        [str(installed / "python"), "-c", "import service.settings_types as t; print(t.ASSETS_ROOT)"],
        {k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        data,
    )
    assert code == 0 and where.strip() == str(tmp_path / "image" / "venv" / "share" / "optin"), where
    (secrets / "database_url").write_text(postgres.new_database(migrated=False) + "\n")
    (secrets / "optin_secret_key").write_text("k" * 43 + "\n")
    (secrets / "smtp_password").write_text(PASSWORD + "\n")
    web_port, worker_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OPTIN_") and k != "PYTHONPATH"},
        **_compose_environment(),
        # What differs outside a container: files instead of /run/secrets, the test relay
        # standing for Mailpit, a public URL on the port the web process really has.
        "OPTIN_SERVER__DATABASE_FILE": str(secrets / "database_url"),
        "OPTIN_SERVER__SECRET_KEY_FILE": str(secrets / "optin_secret_key"),
        "OPTIN_SMTP__PASSWORD_FILE": str(secrets / "smtp_password"),
        "OPTIN_SMTP__HOST": "127.0.0.1",
        "OPTIN_SMTP__PORT": str(starttls_relay.port),
        "OPTIN_SMTP__TLS_CA_FILE": ca_file,
        "OPTIN_SMTP__USERNAME": USER,
        "OPTIN_SERVER__PUBLIC_URL": f"http://127.0.0.1:{web_port}",
        "OPTIN_DNS__NAMESERVERS": f'["{nameserver}"]',  # the loopback test zone, never a real resolver
    }
    entrypoint = [str(installed / one("ENTRYPOINT").exec_form()[0])]
    compose = yaml_documents(COMPOSE)[0]["services"]

    code, out = await _run([*entrypoint, *compose["migrate"]["command"]], env, data)
    assert code == 0, out

    def command(service: str, port: int) -> list[str]:
        argv = list(compose[service]["command"])
        argv[argv.index("--port") + 1] = str(port)
        argv[argv.index("--host") + 1] = "127.0.0.1"
        return [*entrypoint, *argv]

    logs = [(tmp_path / f"{name}.log").open("wb") for name in ("web", "worker")]
    processes = [
        await asyncio.create_subprocess_exec(
            *command(name, port), env=env, cwd=data, stdout=log, stderr=subprocess.STDOUT
        )
        for name, port, log in (("web", web_port, logs[0]), ("worker", worker_port, logs[1]))
    ]
    try:
        for port in (web_port, worker_port):

            async def healthy(port: int = port) -> bool:
                return await asyncio.to_thread(_healthy, installed / "python", port, env)

            await wait_for(healthy, timeout=60, what=f"the HEALTHCHECK on {port}")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{web_port}") as http:
            widget = await http.get("/widget.js")
            assert widget.status_code == 200 and widget.content.startswith(b"/* optin widget")
            # A visitor, as the widget does it: a challenge, its proof, a few seconds of typing.
            challenge = (await http.get("/v1/forms/newsletter/challenge")).json()
            proof = await asyncio.to_thread(solve, challenge)
            await asyncio.sleep(challenge["min_fill_ms"] / 1000 + 0.2)
            answer = await http.post(
                "/v1/forms/newsletter/subscribe",
                json={
                    "email": "ann@example.org",
                    "consent": True,
                    "optin_hp": "",
                    "optin_ts": challenge["fill_token"],
                    "altcha": proof,
                },
            )
            assert answer.status_code == 202, answer.text
        await wait_for(lambda: starttls_relay.to("ann@example.org"), timeout=30, what="the worker to mail it")
        async with httpx.AsyncClient() as http:
            ready = await http.get(f"http://127.0.0.1:{worker_port}/readyz")
            assert ready.json()["role"] == "worker"
    finally:
        for proc in processes:
            proc.send_signal(signal.SIGTERM)
        for proc in processes:
            await asyncio.wait_for(proc.wait(), 40)
        for log in logs:
            log.close()
