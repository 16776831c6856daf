"""The one model-reference grammar."""

from __future__ import annotations

import pytest

from experiments.registry.refs import ModelRefError, parse_model_ref, version_uri


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("riskgrade-credit/3", ("riskgrade-credit", "3")),
        ("riskgrade-credit@challenger", ("riskgrade-credit", "challenger")),
        ("riskgrade-credit/champion", ("riskgrade-credit", "champion")),
        (" other.model@v2 ", ("other.model", "v2")),
        ("@champion", ("default-model", "champion")),
        ("7", ("default-model", "7")),
        ("challenger", ("default-model", "challenger")),
    ],
)
def test_every_form_of_the_grammar(text: str, expected: tuple[str, str]) -> None:
    assert parse_model_ref(text, "default-model") == expected


@pytest.mark.parametrize("text", ["", "riskgrade-credit/", "a/b/c d", "name@", "/3"])
def test_malformed_references_name_the_grammar(text: str) -> None:
    with pytest.raises(ModelRefError, match=r"expected <model name>/<version> or <model name>@"):
        parse_model_ref(text)


def test_a_bare_version_needs_a_default_name() -> None:
    with pytest.raises(ModelRefError, match="riskgrade-credit/3 or riskgrade-credit@champion"):
        parse_model_ref("3")
    assert version_uri("m", 3) == "models:/m/3"
