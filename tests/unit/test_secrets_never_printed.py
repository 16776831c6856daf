"""No secret reaches any output (issue 13, item 6): every refusal of the service settings and
every error path of the commands that read them is run with a known customer-id secret and
database URLs holding a known password, and nothing they print, raise or log contains either.

pydantic's errors show the input (``input_value``): the production refusal used to print the
last 22 characters of ``RISKGRADE_CUSTOMER_ID_SECRET``; ``riskgrade audit`` and ``riskgrade
alerts`` printed the audit URL with its password.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner, Result

from experiments.cli import app, register_commands
from serving.settings import (
    Settings,
    SettingsRefusedError,
    hash_api_key,
    hide_secrets,
    read_settings,
    shown_url,
)

SECRET = "kT9vXw2LmQ8rZp4Nf7Hs1Jd6Bg3Yc5Ve0Ua8Wo2R"  # 40 characters: long enough
SHORT_SECRET = "Qm4Rt8Wz2Kp6Lx9Nv3Bj"  # 20 characters: refused in production
PASSWORD = "Hunter2-pw-7Gq9Xz"
KEY = {"name": "app", "sha256": hash_api_key("a-real-random-key-0123456789"), "roles": ["scorer"]}
KEYS = json.dumps([KEY])
PLACEHOLDER_KEYS = json.dumps([KEY | {"sha256": hash_api_key("changeme")}])
TWO_SAME_KEYS = json.dumps([KEY, KEY | {"name": "other"}])
SECRET_URLS = {
    "sqlite, no decisions table": "sqlite:///{tmp}/audit.db",
    "sqlite with a password": f"sqlite://bob:{PASSWORD}@/{{tmp}}/audit.db",  # SQLite has none
    "driver not installed": f"postgresql+psycopg://bob:{PASSWORD}@127.0.0.1:1/riskgrade",
    "unknown database": f"nosuchdb://bob:{PASSWORD}@127.0.0.1/riskgrade",
    "not a URL": f"bob:{PASSWORD}@127.0.0.1/riskgrade",
    "port not a number": f"postgresql://bob:{PASSWORD}@127.0.0.1:port/riskgrade",
}
# Every refusal of the settings, each with the secret and a password in the environment.
REFUSALS = {
    "production without keys": {"MODE": "production", "CUSTOMER_ID_SECRET": SECRET},
    "production with a placeholder key": {
        "MODE": "production", "API_KEYS": PLACEHOLDER_KEYS, "CUSTOMER_ID_SECRET": SECRET,
    },
    "production with a short secret": {
        "MODE": "production", "API_KEYS": KEYS, "CUSTOMER_ID_SECRET": SHORT_SECRET,
    },
    "production with a placeholder secret": {
        "MODE": "production", "API_KEYS": KEYS, "CUSTOMER_ID_SECRET": "changeme",
    },
    "two keys with one digest": {"API_KEYS": TWO_SAME_KEYS, "CUSTOMER_ID_SECRET": SECRET},
    "keys not JSON": {"API_KEYS": f"[{SECRET}", "CUSTOMER_ID_SECRET": SECRET},
    "a key that is not a digest": {
        "API_KEYS": json.dumps([KEY | {"sha256": SECRET}]),
        "CUSTOMER_ID_SECRET": SECRET,
    },
    "a number that is not one": {"BATCH_LIMIT": "many", "CUSTOMER_ID_SECRET": SECRET},
    "an unknown mode": {"MODE": "prod", "CUSTOMER_ID_SECRET": SECRET},
}  # fmt: skip
COMMANDS = {  # every command that reads the service settings, as a user would run it
    "audit": ["audit"],
    "alerts": ["alerts"],
    "score": ["score", "--input", "{tmp}/customers.csv", "--output", "{tmp}/out.parquet",
              "--no-record"],
    "serve": ["serve"],
}  # fmt: skip


def leaks(text: str) -> list[str]:
    """Every 8-character piece of the secrets or the password found in ``text``."""
    found = []
    for secret in (SECRET, SHORT_SECRET, PASSWORD):
        found += [secret[i : i + 8] for i in range(len(secret) - 7) if secret[i : i + 8] in text]
    return found


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Only this test's RISKGRADE_* variables; model name and store given (no params.yaml)."""
    for name in list(os.environ):
        if name.startswith("RISKGRADE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RISKGRADE_MODEL_NAME", "riskgrade-credit")
    monkeypatch.setenv("RISKGRADE_TRACKING_URI", f"postgresql://bob:{PASSWORD}@127.0.0.1:1/ml")
    monkeypatch.setenv("RISKGRADE_AUDIT_URL", f"sqlite://bob:{PASSWORD}@/{tmp_path}/audit.db")
    (tmp_path / "customers.csv").write_text("a,b\n1,2\n")
    return tmp_path


def invoke(args: list[str], tmp: Path, repo_root: Path) -> Result:
    register_commands()
    args = [a.format(tmp=tmp) for a in args]
    if args[0] in ("score", "serve", "audit", "alerts"):
        args += ["--params", str(repo_root / "params.yaml")]
    return CliRunner().invoke(app, args)


def everything_shown(result: Result, caplog: pytest.LogCaptureFixture) -> str:
    """What the user sees: stdout, stderr, an escaped exception and its traceback, logs."""
    shown = [result.output, caplog.text]
    if result.exc_info is not None and not isinstance(result.exception, SystemExit):
        shown += traceback.format_exception(*result.exc_info)
    return "\n".join(shown)


@pytest.mark.parametrize("case", REFUSALS)
def test_settings_refusals_show_no_secret(
    case: str, environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in REFUSALS[case].items():
        monkeypatch.setenv(f"RISKGRADE_{name}", value)
    with pytest.raises(SettingsRefusedError) as refused:
        read_settings()
    message = str(refused.value)
    assert "\n" not in message and not leaks(message), message
    assert "RISKGRADE_" in message  # names the variable to fix
    with pytest.raises((ValidationError, ValueError)) as raw:  # the app factory's way
        Settings()
    shown = "".join(traceback.format_exception(raw.value))
    assert not leaks(shown), shown


@pytest.mark.parametrize("case", REFUSALS)
@pytest.mark.parametrize("command", COMMANDS)
def test_commands_refusing_settings_show_no_secret(
    case: str,
    command: str,
    environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    repo_root: Path,
) -> None:
    for name, value in REFUSALS[case].items():
        monkeypatch.setenv(f"RISKGRADE_{name}", value)
    caplog.set_level(logging.DEBUG)
    result = invoke(COMMANDS[command], environment, repo_root)
    shown = everything_shown(result, caplog)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), shown
    assert "error: service settings:" in result.output
    assert not leaks(shown), shown


@pytest.mark.parametrize("url", SECRET_URLS)
@pytest.mark.parametrize("command", ["audit", "alerts"])
def test_store_errors_show_the_url_without_its_password(
    url: str,
    command: str,
    environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    repo_root: Path,
) -> None:
    monkeypatch.setenv("RISKGRADE_CUSTOMER_ID_SECRET", SECRET)
    monkeypatch.setenv("RISKGRADE_AUDIT_URL", SECRET_URLS[url].format(tmp=environment))
    caplog.set_level(logging.DEBUG)
    result = invoke(COMMANDS[command], environment, repo_root)
    shown = everything_shown(result, caplog)
    if url == "sqlite, no decisions table" and command == "alerts":
        assert result.exit_code == 0, shown  # the alert store creates its tables
    else:
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), shown
        assert result.output.startswith("error: ") and result.output.count("\n") == 1, shown
    assert not leaks(shown), shown


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"postgresql+psycopg://bob:{PASSWORD}@db:5432/audit", "postgresql+psycopg://bob:***@db:5432/audit"),
        ("sqlite:///riskgrade-audit.db", "sqlite:///riskgrade-audit.db"),
        (f"bob:{PASSWORD}@db/audit", "bob:***@db/audit"),
        (f"postgresql://bob:{PASSWORD}@db:port/audit", "postgresql://bob:***@db:port/audit"),
    ],
)  # fmt: skip
def test_urls_are_shown_without_their_password(url: str, expected: str) -> None:
    assert shown_url(url) == expected


def test_hide_secrets_masks_the_configured_values(environment: Path) -> None:
    settings = Settings(customer_id_secret=SecretStr(SECRET))
    text = f"failed: {SECRET} at sqlite://bob:{PASSWORD}@//x and again {PASSWORD}"
    assert not leaks(hide_secrets(text, settings))
