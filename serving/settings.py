"""Service settings from the environment (prefix ``RISKGRADE_``), checked at start-up.

In ``production`` mode insecure defaults are refused: the service will not start without API
keys, with a placeholder key hash, or without a real customer-id hashing secret. In
``development`` mode (the default) a missing key list means open access and a fixed,
publicly known hashing secret is used -- both are logged as warnings at start-up.

API keys are given as SHA-256 hex digests, never in clear, e.g.
``RISKGRADE_API_KEYS='[{"name": "loan-app", "sha256": "<hex>", "roles": ["scorer"]}]'``
(``riskgrade api-key`` makes a key and prints its entry).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from typing import Any, Literal

import pydantic_settings
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

Role = Literal["scorer", "admin"]
DEVELOPMENT_SECRET = "riskgrade-development-only-secret"
PLACEHOLDERS = {"", "changeme", "change-me", "secret", "password", "dev", "test", "example"}
PLACEHOLDER_DIGESTS = {hashlib.sha256(p.encode()).hexdigest() for p in PLACEHOLDERS} | {"0" * 64}
MIN_SECRET_LENGTH = 32
ENV_PREFIX = "RISKGRADE_"
# ``user:password@`` in a URL, parsed or not; messages show ``user:***@``
USERINFO = re.compile(r"(?P<user>[^\s:/@'\"]+):(?P<password>[^\s/@'\"]+)@")
MIN_HIDDEN_LENGTH = 6


class ApiKey(BaseModel):
    """One API key: a name for logs and audit, its SHA-256 digest, and its roles."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=64)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of the key")
    roles: tuple[Role, ...] = Field(min_length=1)


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    # hide_input_in_errors: pydantic's messages would show the input (input_value), which for
    # the production refusal is every setting, the customer-id secret in clear included.
    model_config = SettingsConfigDict(
        env_prefix="RISKGRADE_", extra="forbid", frozen=True, hide_input_in_errors=True
    )

    mode: Literal["development", "production"] = "development"
    model_name: str = Field(default="riskgrade-credit", min_length=1)
    model_alias: str = Field(default="champion", min_length=1)
    tracking_uri: str | None = Field(
        default=None, description="MLflow tracking/registry URI; default MLFLOW_TRACKING_URI"
    )
    batch_limit: int = Field(default=1000, ge=1, le=100_000, description="customers per call")
    max_body_bytes: int = Field(default=1_000_000, ge=1024, description="request body limit")
    api_keys: tuple[ApiKey, ...] = ()
    audit_url: str = Field(default="sqlite:///riskgrade-audit.db", min_length=1)
    audit_timeout_seconds: float = Field(
        default=3.0,
        gt=0,
        le=60,
        description="longest a scoring request waits for its audit row to be committed "
        "(then 503, nothing scored); also SQLite's busy timeout for the writer",
    )
    customer_id_secret: SecretStr | None = Field(
        default=None, description="HMAC key for customer ids (at least 32 characters)"
    )
    reload_interval_seconds: float | None = Field(
        default=None, gt=0, description="poll the alias and hot-reload when it moves"
    )
    workers: int | None = Field(
        default=None,
        ge=1,
        le=512,
        description="worker processes serving the alias (`riskgrade serve --workers`); with "
        "several, each polls the alias (every 5 s unless reload_interval_seconds says) since "
        "a reload request reaches only one. Unset: several if a supervisor such as `uvicorn "
        "--workers` spawned this process",
    )
    lightgbm_threads: int = Field(default=1, ge=1, le=64, description="per worker")
    report_history_limit: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="most history entries in one customer report page (larger ?limit is capped)",
    )
    # Connection limits against clients that would exhaust the server (serving/limits.py)
    max_header_bytes: int = Field(
        default=16_384,
        ge=1024,
        le=1_048_576,
        description="request line + header fields, bytes: 431 and the connection closed above",
    )
    max_header_fields: int = Field(
        default=100, ge=10, le=10_000, description="header fields per request: 431 above"
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="from connecting (or a request's first byte) to the end of its header: "
        "408 and the connection closed after (closed without an answer if nothing came)",
    )
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="from the end of the header to the end of the body: 408 (the connection "
        "closed after it) if the service is waiting for the body, else the connection closed",
    )
    keep_alive_seconds: int = Field(
        default=5, ge=1, le=300, description="an idle connection is closed after this"
    )
    shutdown_timeout_seconds: int = Field(
        default=10,
        ge=1,
        le=300,
        description="on SIGTERM, requests in flight get this long to finish, then are cancelled",
    )
    max_connections: int = Field(
        default=512,
        ge=1,
        le=100_000,
        description="open connections per worker; a request on a further one gets 503",
    )

    @field_validator("api_keys")
    @classmethod
    def _unique_digests(cls, keys: tuple[ApiKey, ...]) -> tuple[ApiKey, ...]:
        digests = [k.sha256 for k in keys]
        if len(set(digests)) != len(digests):
            raise ValueError("RISKGRADE_API_KEYS: two keys have the same sha256")
        return keys

    @model_validator(mode="after")
    def _refuse_insecure_defaults(self) -> Settings:
        if self.mode != "production":
            return self
        problems = production_problems(self)
        if problems:
            raise ValueError(
                "refusing to start in production mode: "
                + "; ".join(problems)
                + " (set RISKGRADE_MODE=development only on a developer machine)"
            )
        return self

    @property
    def hash_secret(self) -> bytes:
        """The customer-id HMAC key (the public development secret when none is set)."""
        if self.customer_id_secret is None:
            return DEVELOPMENT_SECRET.encode()
        return self.customer_id_secret.get_secret_value().encode()

    @property
    def open_access(self) -> bool:
        """Development without keys: every caller has every role."""
        return self.mode == "development" and not self.api_keys


def production_problems(settings: Settings) -> list[str]:
    """What makes ``settings`` unsafe outside development, one sentence each."""
    problems = []
    if not settings.api_keys:
        problems.append("RISKGRADE_API_KEYS is empty (give SHA-256 digests of random keys)")
    weak = [k.name for k in settings.api_keys if k.sha256 in PLACEHOLDER_DIGESTS]
    if weak:
        problems.append(f"API key(s) {weak} are placeholders such as 'changeme'")
    secret = settings.customer_id_secret
    value = secret.get_secret_value() if secret else ""
    if value.lower() in PLACEHOLDERS or value == DEVELOPMENT_SECRET:
        problems.append("RISKGRADE_CUSTOMER_ID_SECRET is missing or a placeholder")
    elif len(value) < MIN_SECRET_LENGTH:
        problems.append(
            f"RISKGRADE_CUSTOMER_ID_SECRET has {len(value)} characters; use at least "
            f"{MIN_SECRET_LENGTH} random ones"
        )
    return problems


def hash_api_key(key: str) -> str:
    """The digest to put in ``RISKGRADE_API_KEYS`` for a key given to a client."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class SettingsRefusedError(ValueError):
    """The environment's settings cannot be used; the message names each variable and what is
    wrong with it in one line, and never holds a value (the input may be a secret)."""


def read_settings(**overrides: Any) -> Settings:
    """``Settings`` from the environment and ``overrides``, or ``SettingsRefusedError``."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsRefusedError(describe_settings_error(error)) from None
    except pydantic_settings.SettingsError as error:  # a complex value that is not JSON
        field = re.search(r'field "(\w+)"', str(error))
        name = f"{ENV_PREFIX}{field.group(1).upper()}" if field else "a RISKGRADE_* variable"
        raise SettingsRefusedError(
            f'{name} is not valid JSON (e.g. RISKGRADE_API_KEYS=\'[{{"name": "loan-app", '
            f'"sha256": "<hex>", "roles": ["scorer"]}}]\')'
        ) from None


def describe_settings_error(error: ValidationError) -> str:
    """Each problem as ``RISKGRADE_<FIELD>[<item>].<key>: what is wrong``, without its input."""
    problems = []
    for problem in error.errors(include_input=False, include_url=False):
        message = problem["msg"].removeprefix("Value error, ")
        if not problem["loc"]:  # the model's own checks name their variables themselves
            problems.append(message)
            continue
        first, *rest = problem["loc"]
        where = f"{ENV_PREFIX}{str(first).upper()}" + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in rest
        )
        problems.append(f"{where}: {message}")
    return "; ".join(problems)


def shown_url(url: str) -> str:
    """A database URL for messages: its password replaced by ``***``, parsed or not."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # not a URL, or a port that is not a number
        return USERINFO.sub(r"\g<user>:***@", url)


def hide_secrets(text: str, settings: Settings) -> str:
    """``text`` (an error message) with the customer-id secret, the passwords of the configured
    URLs and any ``user:password@`` replaced by ``***``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    secrets = (
        [settings.customer_id_secret.get_secret_value()] if settings.customer_id_secret else []
    )
    for url in (settings.audit_url, settings.tracking_uri):
        with contextlib.suppress(ArgumentError, ValueError):  # not a URL: userinfo below
            secrets.append(make_url(url or "").password or "")
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= MIN_HIDDEN_LENGTH:  # a shorter one would mask ordinary words
            text = text.replace(secret, "***")
    return USERINFO.sub(r"\g<user>:***@", text)
