"""Settings: TOML + env: references, every mistake explained in words, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.errors import ConfigError
from service.mail.dkim import generate
from service.settings import build_settings, load_settings

REPO = Path(__file__).resolve().parent.parent


def problems_of(raw: dict[str, object], env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        build_settings(raw, env or {}, "test")
    return caught.value.problems


def test_env_references_keep_secrets_out_of_files(tmp_path: Path) -> None:
    raw = {
        "server": {"secret_key": "env:KEY", "database": f"sqlite:///{tmp_path}/x.db"},
        "smtp": {
            "host": "smtp.example.com",
            "password": "env:PW",
            "username": "u",
            "sender": "a@example.com",
        },
    }
    settings = build_settings(raw, {"KEY": "k" * 20, "PW": "hunter22"}, "test")
    assert settings.server.secret_key == "k" * 20 and settings.smtp.password == "hunter22"
    assert settings.smtp.port == "auto"


def test_every_problem_is_reported_in_words() -> None:
    problems = problems_of(
        {
            "server": {"secret_key": "env:MISSING", "public_url": "ftp://x", "colour": "blue"},
            "smtp": {"host": "smtp.example.com", "port": 25, "sender": "nobody"},
            "forms": {
                "news": {
                    "language": "it",
                    "connector": "ghost",
                    "allowed_origins": ["www.example.com"],
                    "widget_strings": {"fr": {"sbumit": "x"}},
                }
            },
            "connectors": {},
            "outbox": {"concurrency": "many"},
            "dns": {"nameservers": ["not-an-ip"]},
        }
    )
    text = "\n".join(problems)
    for expected in (
        "server.secret_key refers to the environment variable MISSING, which is not set",
        "server.public_url must be an http(s) URL",
        "server.colour is not a setting optin knows",
        "smtp.port 25 is not 587, 465 or 2525: also set smtp.security",
        "smtp.sender must be an address",
        "forms.news.language must be one of en, fr, es, de",
        "forms.news.connector names 'ghost', but there is no [connectors.ghost]",
        "'www.example.com' is not an origin like https://www.example.com",
        "outbox.concurrency must be a whole number, not 'many'",
        "nameserver 'not-an-ip'",
        "forms.news.widget_strings.fr.sbumit is not a widget text",
    ):
        assert expected in text, f"missing: {expected}\n{text}"


def test_plaintext_only_for_a_loopback_relay() -> None:
    problems = problems_of(
        {"smtp": {"host": "smtp.example.com", "port": 25, "security": "none", "sender": "a@example.com"}}
    )
    assert any("only allowed for a relay on loopback" in p for p in problems)


def test_a_bad_verification_policy_is_reported() -> None:
    problems = problems_of({"forms": {"news": {"verification": {"reject_disposable": "yes"}}}})
    assert any(p.startswith("forms.news.verification:") for p in problems)


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(str(tmp_path / "nope.toml"), {})
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(str(broken), {})


def test_the_documented_example_is_valid(tmp_path: Path) -> None:
    names = ("OPTIN_SECRET_KEY", "SMTP_USER", "SMTP_PASSWORD", "WEBHOOK_SECRET", "CONTACT_HOOK_SECRET")
    env = {name: "x" * 24 for name in names}
    env["OPTIN_DKIM_KEY"] = generate("ed25519")[0]
    settings = load_settings(str(REPO / "deploy" / "example.toml"), env)
    assert settings.server.environment == "production"
    assert settings.smtp.dkim is not None and settings.smtp.dkim.selector == "s1"
    assert settings.forms["newsletter"].connector == "main-list"
    assert settings.forms["newsletter"].consent_text.startswith("J'accepte")  # the form's language
    assert settings.forms["newsletter"].consent_in("en").startswith("I agree")
    assert settings.server.auto_migrate
    hook = settings.forms["contact"].hook
    assert hook is not None and hook.email_field == "your-email"


def test_the_environment_sets_any_key_and_wins_over_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "hook-secret"
    secret.write_text("s" * 20 + "\r\n")
    raw = {
        "server": {"secret_key": "k" * 20, "database": f"sqlite:///{tmp_path}/x.db", "port": 8000},
        "smtp": {"host": "smtp.example.com", "sender": "a@example.com"},
        "connectors": {
            "main-list": {"kind": "webhook", "url": "https://old.example.com/", "secret": "x" * 20}
        },
        "forms": {"news": {"connector": "main-list"}},
    }
    env = {
        "OPTIN_SERVER__PORT": "9000",
        "OPTIN_SERVER__TRUSTED_PROXIES": "['127.0.0.1', '::1']",  # TOML is welcome too
        "OPTIN_SERVER__TRUNCATE_IPS": "true",
        "OPTIN_SMTP__PASSWORD": "12345",  # a text setting: stays text
        "OPTIN_CONNECTORS__MAIN_LIST__URL": "https://new.example.com/",  # the name with a "-"
        "OPTIN_CONNECTORS__MAIN_LIST__MAX_CONCURRENCY": "2",
        "OPTIN_FORMS__NEWS__HOOK__SECRET_FILE": str(secret),
        "OPTIN_CONFIG": "not a setting",
        "OPTIN_SECRET_KEY": "not a setting either (no __)",
    }
    settings = build_settings(raw, env, "optin.toml")
    assert settings.server.port == 9000 and settings.server.truncate_ips is True
    assert settings.server.trusted_proxies == ("127.0.0.1", "::1")
    assert settings.smtp.password == "12345"
    assert settings.connectors["main-list"]["url"] == "https://new.example.com/"
    assert settings.connectors["main-list"]["max_concurrency"] == 2
    hook = settings.forms["news"].hook
    assert hook is not None and hook.secret == "s" * 20
    assert settings.origins["server.port"] == "$OPTIN_SERVER__PORT"
    assert settings.origins["server.database"] == "optin.toml"
    assert (
        settings.origins["forms.news.hook.secret"] == f"file {secret} ($OPTIN_FORMS__NEWS__HOOK__SECRET_FILE)"
    )


def test_mistakes_in_the_environment_name_their_variable(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("pw")
    problems = problems_of(
        {"server": {"database": f"sqlite:///{tmp_path}/x.db"}},
        {
            "OPTIN_SERVER__PUBLC_URL": "https://a.example.com",
            "OPTIN_SERVR__PORT": "1",
            "OPTIN_SERVER__TRUNCATE_IPS": "maybe",
            "OPTIN_SMTP__PASSWORD": "a",
            "OPTIN_SMTP__PASSWORD_FILE": str(secret),
        },
    )
    text = "\n".join(problems)
    for expected in (
        "server.publc_url is not a setting optin knows (did you mean public_url?) (from $OPTIN_SERVER__PUBLC_URL)",
        "[servr] is not a section optin knows (did you mean [server]?) (from $OPTIN_SERVR__PORT)",
        "server.truncate_ips must be true or false, not 'maybe' (from $OPTIN_SERVER__TRUNCATE_IPS)",
        "$OPTIN_SMTP__PASSWORD_FILE and $OPTIN_SMTP__PASSWORD both set the same setting: keep one",
    ):
        assert expected in text, f"missing: {expected}\n{text}"
