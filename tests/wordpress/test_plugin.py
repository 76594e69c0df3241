"""The plugin's PHP on its own: syntax, signing, escaping, settings, capability and nonce checks."""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest

from service.hooks import sign
from tests.support.app_server import bound_socket
from tests.wordpress.conftest import HARNESS, HOOK_SECRET, PLUGIN_DIR, run_harness, wp_settings

PHP_FILES = sorted(PLUGIN_DIR.rglob("*.php"))
TICKED = {"your-name": "Ada", "your-email": "ada@example.org", "optin-consent": ["1"]}


def test_the_plugin_has_its_files() -> None:
    names = {str(p.relative_to(PLUGIN_DIR)) for p in PLUGIN_DIR.rglob("*") if p.is_file()}
    assert {
        "optin.php",
        "uninstall.php",
        "readme.txt",
        "includes/class-optin-forwarder.php",
        "includes/class-optin-plugin.php",
        "includes/class-optin-admin.php",
    } <= names
    assert "Plugin Name: " in (PLUGIN_DIR / "optin.php").read_text()
    readme = (PLUGIN_DIR / "readme.txt").read_text()
    for heading in ("=== Optin ===", "== Description ==", "== Installation ==", "== Changelog =="):
        assert heading in readme
    assert "Requires PHP: 7.4" in readme and "Stable tag: 0.1.0" in readme


@pytest.mark.parametrize("path", [*PHP_FILES, HARNESS], ids=lambda p: str(Path(p).name))
def test_php_lint(php: str, path: Path) -> None:
    lint = subprocess.run([php, "-l", str(path)], capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "No syntax errors detected" in lint.stdout


def test_the_plugin_talks_http_only_through_wp_remote_post() -> None:
    # So the harness, which records every wp_remote_post, sees everything the plugin sends.
    for path in PHP_FILES:
        code = path.read_text()
        for call in ("curl_", "file_get_contents", "fsockopen", "stream_socket_client", "wp_remote_get"):
            assert call not in code, f"{path.name} calls {call}"


async def test_the_signature_is_the_services_scheme(php: str, tmp_path: Path) -> None:
    with bound_socket() as refused:
        url = f"http://127.0.0.1:{refused.getsockname()[1]}"
        out = await run_harness(
            php,
            tmp_path / "state.json",
            "submit",
            settings=wp_settings(url + "/"),
            posted_data={**TICKED, "your-message": "Grüße <3"},
            posted_data_hash="cf7-hash-1",
            meta={
                "remote_ip": "203.0.113.9",
                "user_agent": "pytest-browser",
                "url": "https://wp.example/contact",
            },
        )
    (request,) = out["requests"]
    assert request["url"] == f"{url}/v1/hooks/contact"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["timeout"] <= 5
    header = request["headers"]["Optin-Signature"]
    timestamp = int(header.removeprefix("t=").split(",")[0])
    assert header == sign(HOOK_SECRET, timestamp, request["body"].encode())
    envelope = json.loads(request["body"])
    assert len(envelope.pop("request_id")) == 16  # unique per attempt, so no resend looks like a replay
    assert envelope == {
        "submission_id": "cf7-hash-1",
        "fields": {**TICKED, "your-message": "Grüße <3"},
        "meta": {
            "ip": "203.0.113.9",
            "user_agent": "pytest-browser",
            "page_url": "https://wp.example/contact",
            "consent_text": "Subscribe me to the newsletter",  # the tag's label (here the default)
        },
    }


async def test_shortcode_prints_the_escaped_widget_tag(php: str, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    settings = wp_settings("https://signup.example.com/", form_id="newsletter")
    out = await run_harness(php, state, "shortcode", settings=settings)
    assert out["output"] == (
        '<script src="https://signup.example.com/widget.js" data-form="newsletter" async></script>'
    )
    out = await run_harness(php, state, "shortcode", atts={"id": 'x" onload="alert(1)'})
    assert out["output"] == (
        '<script src="https://signup.example.com/widget.js" data-form="x&quot; onload=&quot;alert(1)" async></script>'
    )
    out = await run_harness(php, state, "shortcode", settings=wp_settings(""))
    assert out["output"] == ""


async def test_cf7_checkbox_tag(php: str, tmp_path: Path) -> None:
    out = await run_harness(php, tmp_path / "s.json", "render_tag", values=["Send me <b>news</b>"])
    html = out["output"]
    assert 'type="checkbox" name="optin-consent" value="1"' in html
    assert "Send me &lt;b&gt;news&lt;/b&gt;" in html and "checked" not in html
    out = await run_harness(php, tmp_path / "s.json", "render_tag")
    assert "Subscribe me to the newsletter" in out["output"]


async def test_settings_sanitize_and_never_show_the_secret(php: str, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    out = await run_harness(
        php,
        state,
        "sanitize",
        input={
            "service_url": " https://signup.example.com/ ",
            "form_id": "contact<x>",
            "secret": HOOK_SECRET,
        },
    )
    assert out["options"]["optin_settings"] == wp_settings("https://signup.example.com", form_id="contact")
    # An empty secret field keeps the saved one; a short one or a bad URL is refused in words.
    out = await run_harness(
        php,
        state,
        "sanitize",
        input={"service_url": "javascript:alert(1)", "form_id": "contact", "secret": ""},
    )
    assert out["options"]["optin_settings"]["secret"] == HOOK_SECRET
    assert out["options"]["optin_settings"]["service_url"] == "https://signup.example.com"
    assert any("must start with https://" in e for e in out["errors"])
    out = await run_harness(
        php, state, "sanitize", input={"service_url": "", "form_id": "c", "secret": "short"}
    )
    assert out["options"]["optin_settings"]["secret"] == HOOK_SECRET
    assert any("at least 16 characters" in e for e in out["errors"])

    page = (await run_harness(php, state, "settings_page"))["output"]
    assert HOOK_SECRET not in page and HOOK_SECRET[:-4] not in page
    assert "ending in …" + HOOK_SECRET[-4:] in page
    assert 'name="optin_settings[secret]" value=""' in page
    assert 'name="action" value="optin_test_connection"' in page and 'name="_wpnonce"' in page


@pytest.mark.parametrize(("can", "nonce_ok"), [(False, True), (True, False)])
async def test_connection_test_checks_capability_and_nonce(
    php: str, tmp_path: Path, can: bool, nonce_ok: bool
) -> None:
    with bound_socket() as refused:
        url = f"http://127.0.0.1:{refused.getsockname()[1]}"
        out = await run_harness(
            php, tmp_path / "s.json", "test_connection", settings=wp_settings(url), can=can, nonce_ok=nonce_ok
        )
    assert out["died"]["status"] == 403
    assert out["requests"] == [] and out["redirect"] is None


async def test_uninstall_removes_options_and_retries(php: str, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with bound_socket() as refused:
        url = f"http://127.0.0.1:{refused.getsockname()[1]}"
        out = await run_harness(
            php, state, "submit", settings=wp_settings(url), posted_data=TICKED, posted_data_hash="h"
        )
    assert out["options"]["optin_pending"] and out["cron"]
    out = await run_harness(php, state, "deactivate")
    assert out["cron"] == [] and out["options"]["optin_pending"]
    out = await run_harness(php, state, "activate")
    assert [e["hook"] for e in out["cron"]] == ["optin_retry"]
    out = await run_harness(php, state, "uninstall")
    assert out["options"] == {} and out["cron"] == []


async def test_retries_back_off_then_give_up_and_tell_the_owner(php: str, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with bound_socket() as refused:
        url = f"http://127.0.0.1:{refused.getsockname()[1]}"
        out = await run_harness(
            php,
            state,
            "submit",
            settings=wp_settings(url),
            options={"admin_email": "owner@wp.example"},
            posted_data=TICKED,
            posted_data_hash="h",
            meta={"url": "https://wp.example/contact"},
        )
        assert out["mails"] == []
        scheduled = len(out["cron"])
        for _ in range(6):
            nothing_due = await run_harness(php, state, "cron")
            assert nothing_due["requests"] == []
            out = await run_harness(php, state, "cron", advance=86400)
            assert len(out["requests"]) == 1 and out["requests"][0]["code"] == 0
            scheduled += len(out["cron"])
        assert out["cron"] == [] and out["options"]["optin_pending"] == []
        assert "gave up after 7 attempts" in out["options"]["optin_last_problem"]["message"]
        assert scheduled == 6  # the first attempt, then 5 retries rescheduled, the 7th drops it
        (mail,) = out["mails"]
        assert mail["to"] == "owner@wp.example" and "was dropped" in mail["subject"]
        assert "after 7 attempts" in mail["message"] and "Address: a***@example.org" in mail["message"]
        assert (
            "Page: https://wp.example/contact" in mail["message"] and "ada@example.org" not in mail["message"]
        )
        assert "could not be reached" in mail["message"]
        assert out["options"]["optin_dropped"]["count"] == 1

        # Another one dropped within the hour: counted, and no second email.
        out = await run_harness(php, state, "submit", posted_data=TICKED, posted_data_hash="h2")
        for _ in range(6):
            out = await run_harness(php, state, "cron", advance=86400)
        assert out["mails"] == [] and out["options"]["optin_dropped"]["count"] == 2

    dashboard = (await run_harness(php, state, "dashboard"))["output"]
    assert "notice-error" in dashboard
    assert (
        "2 contact-form signups could not be forwarded after their last retry and were dropped" in dashboard
    )
    assert 'name="action" value="optin_dismiss_dropped"' in dashboard and 'name="_wpnonce"' in dashboard
    # Only someone who may change the settings, with the form's nonce, dismisses it.
    for refused_case in ({"can": False}, {"nonce_ok": False}):
        out = await run_harness(php, state, "dismiss", **refused_case)
        assert out["died"]["status"] == 403 and out["options"]["optin_dropped"]["count"] == 2
    assert "optin_dropped" not in (await run_harness(php, state, "dismiss"))["options"]
    assert (await run_harness(php, state, "dashboard"))["output"] == ""
    assert (await run_harness(php, state, "dashboard", can=False))["output"] == ""


async def test_the_submission_carries_the_checkbox_label(php: str, tmp_path: Path) -> None:
    tags = [
        "email*",
        {
            "type": "optin_checkbox",
            "values": ["Send me <b>the</b> news"],
            "labels": ["Send me <b>the</b> news"],
        },
    ]
    with bound_socket() as refused:
        url = f"http://127.0.0.1:{refused.getsockname()[1]}"
        out = await run_harness(
            php,
            tmp_path / "state.json",
            "submit",
            settings=wp_settings(url),
            posted_data=TICKED,
            posted_data_hash="h",
            form_tags=tags,
        )
    (request,) = out["requests"]
    assert json.loads(request["body"])["meta"]["consent_text"] == "Send me the news"


def compose(panel: str) -> str:
    """The tag Contact Form 7's tag generator (version 2) composes from a dialog's fields, as
    admin/includes/js/src/tag-generator-v2.js does: basetype, options, then each value quoted."""
    basetype = re.search(r'data-tag-part="basetype" value="([^"]*)"', panel)
    assert basetype, panel
    values = re.findall(r'data-tag-part="value"[^>]* value="([^"]*)"', panel)
    options = re.findall(r'data-tag-part="option" data-tag-option="([^"]*)"[^>]* value="([^"]*)"', panel)
    parts = (
        [basetype.group(1)]
        + [opt + v for opt, v in options if v]
        + [f'"{html.unescape(v)}"' for v in values if v]
    )
    return "[" + " ".join(parts) + "]"


async def test_contact_form_7_gets_a_button_that_inserts_the_checkbox(php: str, tmp_path: Path) -> None:
    out = await run_harness(php, tmp_path / "state.json", "tag_generator")
    assert out["generators"] == {"optin_checkbox": {"title": "optin checkbox", "version": "2"}}
    panel = out["output"]
    assert 'data-taggen="insert-tag"' in panel and 'data-tag-part="tag"' in panel
    # Every field has a visible name (legend) it is labelled by.
    for legend in re.findall(r'aria-labelledby="([^"]+)"', panel):
        assert f'id="{legend}"' in panel
    tag = compose(panel)
    assert tag == '[optin_checkbox "Subscribe me to the newsletter"]'
    # The tag it inserts renders the checkbox with that label.
    rendered = await run_harness(
        php, tmp_path / "s.json", "render_tag", values=["Subscribe me to the newsletter"]
    )
    assert "Subscribe me to the newsletter" in rendered["output"]
