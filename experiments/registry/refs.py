"""The one grammar for naming a registered model version, and its parser.

A reference is ``<name>/<version>`` (``riskgrade-credit/3``), ``<name>@<alias>``
(``riskgrade-credit@champion``) or, where a default model name is known (``registry.model_name``
in params.yaml), just ``<version>``, ``<alias>`` or ``@<alias>``. After ``/`` an alias is
accepted too (``riskgrade-credit/champion``), as MLflow's own ``models:/`` URIs do not allow,
because people type it. Every command that takes a version uses ``parse_model_ref``.
"""

from __future__ import annotations

import re

NAME = re.compile(r"^[A-Za-z0-9_\-.]+$")
GRAMMAR = "expected <model name>/<version> or <model name>@<alias>"


class ModelRefError(ValueError):
    """A reference that does not follow the grammar; the message shows the grammar."""


def parse_model_ref(text: str, default_name: str | None = None) -> tuple[str, str]:
    """``(model name, version number or alias)`` of a reference (see the module docstring).

    Raises ``ModelRefError`` naming the grammar for an empty part, or for a bare version or
    alias when there is no ``default_name``.
    """
    ref = text.strip()
    for separator in ("@", "/"):
        if separator in ref:
            name, _, version = ref.rpartition(separator)
            name = name or (default_name or "")
            break
    else:
        name, version = default_name or "", ref
    if not name or not version or not NAME.match(name) or not NAME.match(version):
        example = "e.g. riskgrade-credit/3 or riskgrade-credit@champion"
        raise ModelRefError(f"model reference {text!r}: {GRAMMAR} ({example})")
    return name, version


def version_uri(name: str, version: str | int) -> str:
    """MLflow's URI of one registered version (``models:/<name>/<version>``)."""
    return f"models:/{name}/{version}"
