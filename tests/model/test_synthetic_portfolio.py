"""The SYNTHETIC portfolio generator (benchmarks/synthetic_portfolio.py): deterministic under a
seed, the declared structure, labels drawn from the stored true PD, and a book the pipeline
validates and trains on with a PD close to the truth."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from features.schema import DatasetSchema
from features.validation import validate_dataset

ROOT = Path(__file__).resolve().parents[2]


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "synthetic_portfolio", ROOT / "benchmarks" / "synthetic_portfolio.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


book = load_generator()
ROWS = 2 * book.CHUNK_ROWS  # two random streams: the chunk boundary is exercised


@pytest.fixture(scope="module")
def portfolio() -> pd.DataFrame:
    return book.generate_portfolio(ROWS, seed=5)


def test_same_seed_same_book_and_a_smaller_book_is_its_prefix(portfolio: pd.DataFrame) -> None:
    small = book.generate_portfolio(1_234, seed=5)
    pd.testing.assert_frame_equal(small, portfolio.head(1_234))
    other = book.generate_portfolio(1_234, seed=6)
    assert not np.allclose(other["true_pd"], small["true_pd"])
    assert portfolio["customer_id"].is_unique


def test_declared_columns_levels_and_missing_rates(portfolio: pd.DataFrame) -> None:
    section = book.data_section("book.parquet")
    schema = DatasetSchema.model_validate(section)
    assert list(portfolio.columns) == list(book.COLUMNS)
    assert set(schema.declared_columns) == set(portfolio.columns)
    assert "true_pd" in schema.excluded and "true_pd" not in schema.features
    assert 90 <= portfolio["region"].nunique() <= 100
    assert portfolio["employer_sector"].nunique() == 30
    assert set(portfolio["product"]) == set(book.PRODUCTS)
    missing = portfolio.isna().mean()
    assert 0.03 < missing["annual_income_eur"] < 0.10
    assert missing["debt_to_income"] == missing["annual_income_eur"]
    assert 0.02 < missing["employer_sector"] < 0.06
    assert 0.5 < missing["months_since_last_delinquency"] < 0.9
    assert missing[["customer_id", "snapshot_date", "true_pd", "default_12m"]].eq(0).all()
    dates = pd.to_datetime(portfolio["snapshot_date"])
    assert dates.min() == pd.Timestamp("2022-01-31") and dates.max() == pd.Timestamp("2025-12-31")
    assert dates.dt.is_month_end.all()


def test_informative_missing_income_means_higher_true_pd(portfolio: pd.DataFrame) -> None:
    no_income = portfolio["annual_income_eur"].isna()
    assert portfolio.loc[no_income, "true_pd"].mean() > 1.5 * portfolio["true_pd"].mean()


def test_true_pd_is_the_stated_model_of_the_observed_columns(portfolio: pd.DataFrame) -> None:
    again = 1 / (1 + np.exp(-book.true_log_odds(portfolio)))
    np.testing.assert_allclose(again, portfolio["true_pd"], rtol=1e-12)
    riskier = portfolio.assign(late_payments_12m=portfolio["late_payments_12m"] + 1)
    assert (book.true_log_odds(riskier) > book.true_log_odds(portfolio)).all()


def test_labels_are_drawn_from_the_true_pd(portfolio: pd.DataFrame) -> None:
    truth, label = portfolio["true_pd"], portfolio["default_12m"]
    assert 0.03 < truth.mean() < 0.10
    se = np.sqrt((truth * (1 - truth)).sum()) / len(truth)
    assert abs(label.mean() - truth.mean()) < 4 * se
    deciles = pd.qcut(truth, 10, labels=False)
    rates = label.groupby(deciles).mean()
    assert rates.iloc[-1] > 5 * rates.iloc[0]
    expected = truth.groupby(deciles).mean()
    assert np.allclose(rates, expected, atol=0.02)


def test_written_book_reads_back_validates_and_says_synthetic(
    tmp_path: Path, portfolio: pd.DataFrame
) -> None:
    paths = book.write_portfolio(tmp_path / "book", ROWS, seed=5, partitions=2, progress=False)
    assert [p.name for p in paths] == ["part-00000.parquet", "part-00001.parquet"]
    assert not list(tmp_path.rglob("*.tmp"))
    metadata = pq.read_schema(paths[0]).metadata
    assert b"SYNTHETIC" in metadata[b"riskgrade.synthetic"]
    frame = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
    np.testing.assert_array_equal(frame["true_pd"], portfolio["true_pd"])
    schema = DatasetSchema.model_validate(book.data_section(str(paths[0])))
    valid = validate_dataset(frame.head(5_000), schema, source=str(paths[0]))
    assert valid["default_12m"].isin([0, 1]).all()
    assert "SYNTHETIC" in (book.__doc__ or "")


def test_calibrated_logistic_mean_pd_close_to_mean_true_pd() -> None:
    """A small version of benchmarks/scaling.py's calibration check (the fast family)."""
    from models.factory import build_calibrated_model, fit_credit_model

    base = {"seed": 42, "data": {}, "models": {"logistic": {"encoding": "woe"}}}
    config = book.project_config("book.parquet", base)
    schema = config.data
    train = book.generate_portfolio(10_000, seed=21)
    holdout = book.generate_portfolio(10_000, seed=22)
    model = build_calibrated_model(
        schema, config.features, config.models.logistic, config.calibration, config.seed
    )
    X, y = train[list(schema.features)], train[schema.target].to_numpy()
    fit_credit_model(model, config.scorecard, X, y)
    pd_hat = model.predict_proba(holdout[list(schema.features)])[:, 1]
    truth = holdout["true_pd"].to_numpy()
    assert abs(pd_hat.mean() - truth.mean()) < 0.1 * truth.mean()
    slope = np.polyfit(np.log(pd_hat / (1 - pd_hat)), np.log(truth / (1 - truth)), 1)[0]
    assert 0.8 < slope < 1.2
