"""`riskgrade monitor`'s outcomes: read as the raw file labels them or as the splits encode
them, compared with the version's test AUC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.schema import DatasetSchema
from models.monitoring.drift import (
    MonitoringConfig,
    OutcomeLabelError,
    encode_outcomes,
    monitor,
)


@pytest.mark.parametrize(
    "values",
    [
        ["bad", "good", "good", "bad"],  # the raw file's labels
        [1, 0, 0, 1],  # the processed splits
        [1.0, 0.0, 0.0, 1.0],
        ["1", "0", "0", "1"],
    ],
)
def test_labels_and_encoded_outcomes_read_alike(tiny_schema: DatasetSchema, values: list) -> None:
    encoded = encode_outcomes(pd.Series(values), tiny_schema)
    assert encoded.tolist() == [1, 0, 0, 1]


def test_unknown_outcomes_stay_missing(tiny_schema: DatasetSchema) -> None:
    encoded = encode_outcomes(pd.Series(["bad", None, "good", np.nan]), tiny_schema)
    assert encoded.isna().tolist() == [False, True, False, True]
    assert encoded.dropna().tolist() == [1, 0]


def test_integer_labels_are_the_configured_ones_first(tiny_schema: DatasetSchema) -> None:
    schema = tiny_schema.model_copy(update={"positive_label": 0, "negative_label": 1})
    assert encode_outcomes(pd.Series([0, 1, 1]), schema).tolist() == [1, 0, 0]


def test_other_labels_are_refused_naming_both_label_sets(tiny_schema: DatasetSchema) -> None:
    with pytest.raises(OutcomeLabelError) as error:
        encode_outcomes(pd.Series(["paid", "default", "paid"]), tiny_schema)
    assert str(error.value) == (
        "outcome column 'outcome' holds ['default', 'paid']; expected 'bad' (default) and "
        "'good' (no default), as data.positive_label and data.negative_label say, or 1 and 0"
    )


def scored(pd_: np.ndarray) -> pd.DataFrame:
    tiers = np.where(pd_ < 0.2, "low", np.where(pd_ < 0.5, "medium", "high"))
    return pd.DataFrame({"pd": pd_, "score": (700 - 300 * pd_).astype(int), "tier": tiers})


def test_auc_is_compared_with_the_versions_test_auc(
    tiny_frame: pd.DataFrame, tiny_raw: pd.DataFrame, tiny_schema: DatasetSchema
) -> None:
    current = tiny_raw.copy()
    current.loc[0, "outcome"] = None  # not known yet: left out of the outcomes
    pd_ = np.linspace(0.05, 0.9, len(current))
    result = monitor(
        tiny_frame, current, tiny_schema, (scored(pd_), scored(pd_)), MonitoringConfig(), 0.9
    )

    outcomes = result.outcomes
    assert outcomes is not None and outcomes["n_with_outcome"] == 15
    assert outcomes["version_test_roc_auc"] == 0.9
    auc = outcomes["roc_auc"]
    assert 0.9 - auc > 0.05
    assert ("act", f"AUC {auc:.3f} vs the version's test AUC 0.900 (act)") in result.findings
