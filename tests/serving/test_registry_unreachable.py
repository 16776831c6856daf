"""A tracking server that cannot be asked is reported as such, not as a missing alias.

With ``RISKGRADE_TRACKING_URI=http://...`` the registry is a server: when it is down the
service and `riskgrade score` must say so, not advise `riskgrade promote` for an alias that may
well exist. A real closed port, no mock.
"""

from __future__ import annotations

import socket

import pytest

from serving.scoring.model_store import ModelLoadError, resolve_alias
from serving.settings import Settings


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("userinfo", ["", "ops:hunter2-secret@"])
def test_an_unreachable_tracking_server_is_not_reported_as_a_missing_alias(
    userinfo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # fail now, not in minutes
    uri = f"http://{userinfo}127.0.0.1:{closed_port()}"
    settings = Settings(model_name="credit", tracking_uri=uri)
    with pytest.raises(ModelLoadError) as raised:
        resolve_alias(settings)
    message = str(raised.value)
    assert message.startswith("cannot ask the MLflow registry at http://")
    assert "for @champion of 'credit'" in message and "Connection refused" in message
    assert "RISKGRADE_TRACKING_URI" in message
    assert "riskgrade promote" not in message and "hunter2" not in message
    assert "\n" not in message
