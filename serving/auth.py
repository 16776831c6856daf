"""API-key authentication with roles: ``scorer`` (score, explain, model) and ``admin`` (reload).

Clients send ``X-API-Key: <key>``. The service knows only SHA-256 digests of keys (keys are
random tokens, so a fast hash is enough) and never logs a key or its digest: failures name
the problem, not the key. 401 = no or unknown key; 403 = a valid key without the role.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status

from serving.settings import Role, Settings

API_KEY_HEADER = "X-API-Key"
SECURITY_SCHEME = {"APIKeyHeader": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}}
SECURED: dict[str, Any] = {"security": [{"APIKeyHeader": []}]}  # a route's openapi_extra


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's name (for audit and logs) and its roles."""

    name: str
    roles: frozenset[str]


OPEN_CALLER = Caller("development (no keys configured)", frozenset({"scorer", "admin"}))


class KeyRing:
    """Digest -> caller lookup built once from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.open_access = settings.open_access
        self.callers = {k.sha256: Caller(k.name, frozenset(k.roles)) for k in settings.api_keys}

    def identify(self, key: str | None) -> Caller:
        """The caller for a presented key; 401 when it is missing or unknown."""
        if self.open_access:
            return OPEN_CALLER
        if not key:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                f"missing API key: send it in the {API_KEY_HEADER} header",
                headers={"WWW-Authenticate": "ApiKey"},
            )
        caller = self.callers.get(hashlib.sha256(key.encode("utf-8")).hexdigest())
        if caller is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "unknown API key",
                headers={"WWW-Authenticate": "ApiKey"},
            )
        return caller


def check_role(caller: Caller, role: Role | None) -> None:
    """403 unless ``caller`` holds ``role`` (``None``: any role will do)."""
    if role is not None and role not in caller.roles:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this API key lacks the {role!r} role (it has {sorted(caller.roles)})",
        )


def require_role(role: Role | None) -> Callable[..., Awaitable[Caller]]:
    """Dependency: the caller, who must hold ``role`` (403 otherwise; ``None``: any role)."""

    async def dependency(request: Request) -> Caller:
        # async: FastAPI runs a plain def in a thread pool. The header is read here rather
        # than through a nested APIKeyHeader dependency (per-request cost); OpenAPI gets the
        # scheme from ``SECURITY_SCHEME`` / ``SECURED``.
        keyring: KeyRing = request.app.state.keyring
        caller = keyring.identify(request.headers.get(API_KEY_HEADER))
        check_role(caller, role)
        return caller

    return dependency


Admin = Annotated[Caller, Depends(require_role("admin"))]
AnyCaller = Annotated[Caller, Depends(require_role(None))]
