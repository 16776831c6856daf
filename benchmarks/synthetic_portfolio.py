"""SYNTHETIC credit portfolios of any size, with a known TRUE probability of default per row.

Every row is SYNTHETIC: made up by this module, no real customer behind it. The point is a book
with the structure of a real one -- financial ratios, behavioural payment history (recency,
frequency and amount of payments, as in RFM), categoricals with many levels, missing values
(some informative), a date -- where the truth is known, so that scaling and calibration can be
measured against it (``benchmarks/scaling.py``).

Run on demand (not a test):
    python benchmarks/synthetic_portfolio.py --rows 5000000 --seed 1 --output book.parquet
    python benchmarks/synthetic_portfolio.py --rows 5000000 --output book/ --partitions 8
    python benchmarks/synthetic_portfolio.py --params-section book.parquet   # params.yaml text

The file is written chunk by chunk (``CHUNK_ROWS`` rows, one Parquet row group each), so 20M
rows need the memory of one chunk. Row ``i`` depends only on ``(seed, i)``: a smaller book is
the first rows of a larger one with the same seed, and the file does not depend on
``--partitions``.

How a row is made
-----------------
1. A LATENT risk ``z ~ N(0, 1)`` per customer (not in the file) drives many observed columns
   at once, so they are correlated as in a real book: a risky customer has a higher debt to
   income, a fuller credit line, more late payments, longer since the last payment, fewer
   payments, more credit inquiries, more often a past delinquency, and declares no income
   more often.
2. Some values are then missing, at realistic rates:
   - ``annual_income_eur`` (and so ``debt_to_income``): not declared, about 6 %, more often
     for risky customers (probability ``sigmoid(-3.0 + 0.8 z)``): INFORMATIVE;
   - ``credit_utilisation``: no revolving line (15 % of non-revolving products): structural;
   - ``months_since_last_delinquency``: never delinquent (about 70 %): structural and
     informative (never delinquent is good);
   - ``days_since_last_payment`` and ``mean_payment_eur``: no payment in 12 months (mostly
     new accounts);
   - ``employer_sector``: 4 %, completely at random.
3. The TRUE PD is a stated logistic model of the OBSERVED row (so it is exactly
   ``P(default | file's columns)``, what a perfect model would learn), and the label
   ``default_12m`` is drawn from it: ``default_12m ~ Bernoulli(true_pd)``. Log-odds
   (``true_log_odds``; ``ln`` natural log, ``[x]+ = max(x, 0)``, a missing value's term is 0
   unless said otherwise)::

       INTERCEPT (-4.4)
       + 1.2 * (debt_to_income - 0.3)                          higher DTI, higher risk
       + 0.8 * debt_to_income * unsecured                      INTERACTION: DTI weighs more
                                                               on unsecured products (card,
                                                               personal loan, overdraft)
       + 0.9 * utilisation + 2.5 * [utilisation - 0.7]+        NON-LINEAR: convex above 70 %
       - 0.45 * (ln(annual_income_eur) - 10.5)                 more income, lower risk
       + 0.5  if income not declared                           INFORMATIVE missing value
       + 0.55 * ln(1 + late_payments_12m)                      concave in the count
       + 0.5 * min(utilisation, 1) * ln(1 + late_payments_12m) INTERACTION: late on a full line
       + 0.35 * ln(1 + [days_since_last_payment - 30]+)        a payment overdue past a month
       - 0.10 * (payments_12m - 10)                            fewer payments, higher risk
       - 0.12 * ln(1 + months_on_book)                         longer relationship, lower risk
       + 0.15 * credit_inquiries_6m                            credit hunger
       - 0.02 * (min(age_years, 65) - 40)                      younger riskier, flat after 65
       + 0.3 + 0.9 * exp(-months_since_last_delinquency / 12)  if ever delinquent (recent
                                                               delinquency weighs more); 0 if
                                                               never
       + PRODUCT_EFFECT[product]                               mortgage -0.6 ... overdraft +0.45
       + REGION_EFFECT[region]                                 100 regions, N(0, 0.35^2)
       + SECTOR_EFFECT[employer_sector]                        30 sectors, N(0, 0.25^2)

   ``loan_amount_eur``, ``loan_term_months``, ``mean_payment_eur`` and ``snapshot_date`` do
   not enter the PD (they carry information only through their correlation with ``z``, which
   the PD does not use: given the columns above they are noise, as such columns often are).
   The region and sector effects are fixed (drawn once from ``numpy`` seed 2015), the same for
   every ``--seed``: the seed draws customers, not a new world. Mean true PD: about 6 %.

Columns: ``customer_id`` (id), ``snapshot_date`` (month end, 2022-01 .. 2025-12), the
features above, ``true_pd`` (the truth: declare it ``excluded`` -- it would leak) and
``default_12m`` (1 = default within 12 months). ``data_section`` gives ``params.yaml``'s
``data:`` section for such a file, and ``project_config`` a whole configuration.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SYNTHETIC_NOTE = (
    "SYNTHETIC credit portfolio made by benchmarks/synthetic_portfolio.py: no real customer; "
    "true_pd is the known probability of default the label default_12m was drawn from"
)
CHUNK_ROWS = 50_000  # rows drawn from one random stream (seed, chunk number); one row group
INTERCEPT = -4.4
WORLD_SEED = 2015  # the fixed region / sector effects: the same for every --seed

PRODUCTS = ("credit_card", "personal_loan", "auto_loan", "mortgage", "overdraft")
PRODUCT_SHARE = (0.35, 0.25, 0.15, 0.15, 0.10)
PRODUCT_EFFECT = {
    "credit_card": 0.0,
    "personal_loan": 0.25,
    "auto_loan": -0.15,
    "mortgage": -0.6,
    "overdraft": 0.45,
}
UNSECURED = ("credit_card", "personal_loan", "overdraft")
REVOLVING = ("credit_card", "overdraft")
LOAN_MEDIAN_EUR = (3_000.0, 12_000.0, 20_000.0, 180_000.0, 2_000.0)
LOAN_TERMS_MONTHS = (
    (12,),
    (12, 24, 36, 48, 60),
    (24, 36, 48, 60, 72),
    (120, 180, 240, 300, 360),
    (12,),
)
N_REGIONS, N_SECTORS = 100, 30
FIRST_MONTH = np.datetime64("2022-01", "M")
N_MONTHS = 48

NUMERIC = (
    "age_years",
    "annual_income_eur",
    "debt_to_income",
    "credit_utilisation",
    "loan_amount_eur",
    "loan_term_months",
    "months_on_book",
    "days_since_last_payment",
    "payments_12m",
    "mean_payment_eur",
    "late_payments_12m",
    "months_since_last_delinquency",
    "credit_inquiries_6m",
)
CATEGORICAL = ("region", "employer_sector", "product")
ID, DATE, TARGET, TRUTH = "customer_id", "snapshot_date", "default_12m", "true_pd"
COLUMNS = (ID, DATE, *NUMERIC, *CATEGORICAL, TRUTH, TARGET)
RANGES: dict[str, dict[str, float]] = {
    "age_years": {"min": 18, "max": 120},
    "annual_income_eur": {"min": 0},
    "debt_to_income": {"min": 0},
    "credit_utilisation": {"min": 0},
    "loan_amount_eur": {"min": 1},
    "loan_term_months": {"min": 1, "max": 480},
    "months_on_book": {"min": 0},
    "days_since_last_payment": {"min": 0},
    "payments_12m": {"min": 0, "max": 12},
    "mean_payment_eur": {"min": 0},
    "late_payments_12m": {"min": 0, "max": 12},
    "months_since_last_delinquency": {"min": 0},
    "credit_inquiries_6m": {"min": 0},
}
REASON_LABELS = {
    "debt_to_income": "Debt to income",
    "credit_utilisation": "Credit line used (share)",
    "annual_income_eur": "Annual income (EUR)",
    "late_payments_12m": "Late payments in 12 months",
    "days_since_last_payment": "Days since the last payment",
    "payments_12m": "Payments in 12 months",
    "months_since_last_delinquency": "Months since the last delinquency",
    "credit_inquiries_6m": "Credit inquiries in 6 months",
    "months_on_book": "Months as a customer",
}


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def world_effects() -> tuple[dict[str, float], dict[str, float], np.ndarray, np.ndarray]:
    """The fixed SYNTHETIC world: region and sector log-odds effects and their shares
    (regions Zipf-like: a few large ones, a long tail of small ones)."""
    rng = np.random.default_rng(WORLD_SEED)
    regions = [f"R{k:03d}" for k in range(1, N_REGIONS + 1)]
    sectors = [f"S{k:02d}" for k in range(1, N_SECTORS + 1)]
    region_effect = dict(zip(regions, rng.normal(0, 0.35, N_REGIONS).round(3), strict=True))
    sector_effect = dict(zip(sectors, rng.normal(0, 0.25, N_SECTORS).round(3), strict=True))
    region_share = 1.0 / np.arange(1, N_REGIONS + 1) ** 0.8
    sector_share = rng.dirichlet(np.full(N_SECTORS, 2.0))
    return region_effect, sector_effect, region_share / region_share.sum(), sector_share


REGION_EFFECT, SECTOR_EFFECT, REGION_SHARE, SECTOR_SHARE = world_effects()


def draw_features(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """The observed columns of ``n`` SYNTHETIC customers, missing values included (module
    docstring, steps 1 and 2). Amounts in EUR, durations in months or days."""
    z = rng.standard_normal(n)  # the latent risk: never written
    noise = rng.standard_normal((8, n))
    age = np.clip(np.round(44 - 4 * z + 11 * noise[0]), 18, 85)
    income = np.round(np.exp(10.55 + 0.45 * noise[1] - 0.12 * z + 0.008 * (age - 44)), -2)
    dti = np.clip(np.exp(-1.35 + 0.25 * z + 0.45 * noise[2]), 0, 2.5).round(3)
    product = rng.choice(len(PRODUCTS), size=n, p=PRODUCT_SHARE)
    loan = np.round(np.asarray(LOAN_MEDIAN_EUR)[product] * np.exp(0.5 * noise[3]), -1)
    term_pick = np.stack([rng.choice(t, size=n) for t in LOAN_TERMS_MONTHS])
    term = term_pick[product, np.arange(n)].astype(float)
    revolving = np.isin(product, [PRODUCTS.index(p) for p in REVOLVING])
    has_line = revolving | (rng.random(n) < 0.85)
    utilisation = np.clip(1.15 * sigmoid(-0.9 + 1.1 * z + 0.9 * noise[4]), 0, 1.5).round(3)
    months_on_book = np.minimum(np.floor(rng.exponential(48, n)), 300)
    paid_months = np.minimum(months_on_book, 12)
    payments = rng.binomial(paid_months.astype(int), sigmoid(3.0 - 1.2 * z)).astype(float)
    recency = 1 + rng.integers(0, 30, n) + rng.exponential(np.exp(1.0 + 1.2 * z))
    late = np.minimum(rng.poisson(np.exp(-1.6 + 0.9 * z)), 12).astype(float)
    instalment = loan / term
    mean_payment = np.round(instalment * np.exp(0.2 * noise[5] - 0.1 * z), 2)
    delinquent = rng.random(n) < sigmoid(-1.0 + 1.0 * z)
    since_delinquency = np.floor(rng.exponential(36 * np.exp(-0.4 * z)))
    inquiries = rng.poisson(np.exp(-0.2 + 0.45 * z)).astype(float)
    no_income = rng.random(n) < sigmoid(-3.0 + 0.8 * z)
    region = rng.choice(N_REGIONS, size=n, p=REGION_SHARE)
    sector = rng.choice(N_SECTORS, size=n, p=SECTOR_SHARE)
    no_sector = rng.random(n) < 0.04
    month = rng.integers(0, N_MONTHS, n)
    nan = np.nan
    return {
        DATE: ((FIRST_MONTH + month + 1).astype("datetime64[D]") - 1),
        "age_years": age,
        "annual_income_eur": np.where(no_income, nan, income),
        "debt_to_income": np.where(no_income, nan, dti),
        "credit_utilisation": np.where(has_line, utilisation, nan),
        "loan_amount_eur": loan,
        "loan_term_months": term,
        "months_on_book": months_on_book,
        "days_since_last_payment": np.where(payments > 0, np.minimum(np.floor(recency), 720), nan),
        "payments_12m": payments,
        "mean_payment_eur": np.where(payments > 0, mean_payment, nan),
        "late_payments_12m": late,
        "months_since_last_delinquency": np.where(delinquent, since_delinquency, nan),
        "credit_inquiries_6m": inquiries,
        "region": np.asarray(list(REGION_EFFECT), dtype=object)[region],
        "employer_sector": np.asarray([*SECTOR_EFFECT, None], dtype=object)[
            np.where(no_sector, N_SECTORS, sector)
        ],
        "product": np.asarray(PRODUCTS, dtype=object)[product],
    }


def true_log_odds(frame: pd.DataFrame | dict[str, Any]) -> np.ndarray:
    """The stated TRUE log-odds of default of each row, from its observed columns only
    (module docstring, step 3); a missing value's term is 0 unless stated otherwise."""

    def column(name: str) -> np.ndarray:
        return np.asarray(frame[name], dtype="float64")

    def term(values: np.ndarray) -> np.ndarray:
        return np.nan_to_num(values, nan=0.0)

    dti, utilisation = column("debt_to_income"), column("credit_utilisation")
    income, late = column("annual_income_eur"), column("late_payments_12m")
    product = pd.Series(np.asarray(frame["product"], dtype=object))
    unsecured = product.isin(UNSECURED).to_numpy()
    log_late = np.log1p(late)
    since = column("months_since_last_delinquency")
    days = column("days_since_last_payment")
    sector = pd.Series(np.asarray(frame["employer_sector"], dtype=object))
    return (
        INTERCEPT
        + term(1.2 * (dti - 0.3) + 0.8 * dti * unsecured)
        + term(0.9 * utilisation + 2.5 * np.maximum(utilisation - 0.7, 0))
        + term(-0.45 * (np.log(income) - 10.5))
        + 0.5 * np.isnan(income)
        + 0.55 * log_late
        + term(0.5 * np.minimum(utilisation, 1) * log_late)
        + term(0.35 * np.log1p(np.maximum(days - 30, 0)))
        - 0.10 * (column("payments_12m") - 10)
        - 0.12 * np.log1p(column("months_on_book"))
        + 0.15 * column("credit_inquiries_6m")
        - 0.02 * (np.minimum(column("age_years"), 65) - 40)
        + term(0.3 + 0.9 * np.exp(-since / 12))
        + product.map(PRODUCT_EFFECT).to_numpy(dtype="float64")
        + pd.Series(np.asarray(frame["region"], dtype=object)).map(REGION_EFFECT).to_numpy()
        + sector.map(SECTOR_EFFECT).fillna(0.0).to_numpy(dtype="float64")
    )


def draw_chunk(seed: int, chunk: int) -> pd.DataFrame:
    """Chunk number ``chunk`` (``CHUNK_ROWS`` SYNTHETIC rows) of the book drawn with ``seed``:
    features, ``true_pd`` and the label drawn from it."""
    rng = np.random.default_rng([seed, chunk])
    columns = draw_features(rng, CHUNK_ROWS)
    true_pd = sigmoid(true_log_odds(columns))
    first = chunk * CHUNK_ROWS
    ids = np.char.add("C", np.char.zfill(np.arange(first, first + CHUNK_ROWS).astype(str), 9))
    frame = pd.DataFrame({ID: ids.astype(object)} | columns)
    frame[TRUTH] = true_pd
    frame[TARGET] = (rng.random(CHUNK_ROWS) < true_pd).astype("int64")
    return frame[list(COLUMNS)]


def iter_portfolio(rows: int, seed: int) -> Iterator[pd.DataFrame]:
    """The first ``rows`` rows of the SYNTHETIC book of ``seed``, chunk by chunk."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    for chunk in range(math.ceil(rows / CHUNK_ROWS)):
        frame = draw_chunk(seed, chunk)
        yield frame.iloc[: rows - chunk * CHUNK_ROWS] if (chunk + 1) * CHUNK_ROWS > rows else frame


def generate_portfolio(rows: int, seed: int) -> pd.DataFrame:
    """The first ``rows`` rows of the SYNTHETIC book of ``seed`` in memory (small books)."""
    return pd.concat(iter_portfolio(rows, seed), ignore_index=True)


ARROW_SCHEMA = pa.schema(
    [
        (ID, pa.string()),
        (DATE, pa.date32()),
        *[(c, pa.float64()) for c in NUMERIC],
        *[(c, pa.string()) for c in CATEGORICAL],
        (TRUTH, pa.float64()),
        (TARGET, pa.int64()),
    ],
    metadata={"riskgrade.synthetic": SYNTHETIC_NOTE},
)


def part_paths(output: Path, partitions: int) -> list[Path]:
    """One file, or ``partitions`` files ``part-00000.parquet`` ... in the folder ``output``."""
    if partitions == 1 and output.suffix.lower() in (".parquet", ".pq"):
        return [output]
    return [output / f"part-{k:05d}.parquet" for k in range(partitions)]


def write_portfolio(
    output: Path, rows: int, seed: int, partitions: int = 1, progress: bool = True
) -> list[Path]:
    """Write the SYNTHETIC book as Parquet, one chunk at a time (bounded memory), into one
    file or ``partitions`` files of consecutive rows; each file is written beside its place and
    moved there when complete. Returns the files."""
    from tqdm import tqdm

    n_chunks = math.ceil(rows / CHUNK_ROWS)
    if not 1 <= partitions <= n_chunks:
        raise ValueError(
            f"--partitions must be between 1 and the number of {CHUNK_ROWS:,}-row chunks "
            f"({n_chunks}), got {partitions}"
        )
    paths = part_paths(output, partitions)
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    writer: pq.ParquetWriter | None = None
    part = -1
    with tqdm(total=rows, unit="rows", unit_scale=True, disable=not progress) as bar:
        for chunk, frame in enumerate(iter_portfolio(rows, seed)):
            if chunk * partitions // n_chunks != part:
                if writer is not None:
                    writer.close()
                    paths[part].with_suffix(".tmp").replace(paths[part])
                part = chunk * partitions // n_chunks
                writer = pq.ParquetWriter(paths[part].with_suffix(".tmp"), ARROW_SCHEMA)
            assert writer is not None
            writer.write_table(pa.Table.from_pandas(frame, ARROW_SCHEMA, preserve_index=False))
            bar.update(len(frame))
    if writer is not None:
        writer.close()
        paths[part].with_suffix(".tmp").replace(paths[part])
    return paths


def data_section(source: str) -> dict[str, Any]:
    """``params.yaml``'s ``data:`` section for a SYNTHETIC book written to ``source``
    (``true_pd`` is excluded: it is the answer)."""
    return {
        "name": "synthetic_portfolio",
        "source": source,
        "format": "parquet",
        "sha256": None,
        "target": TARGET,
        "positive_label": 1,
        "negative_label": 0,
        "id_column": ID,
        "date_column": DATE,
        "na_values": [""],
        "ranges": RANGES,
        "numeric": list(NUMERIC),
        "categorical": list(CATEGORICAL),
        "excluded": [TRUTH],
    }


def params_sections(source: str) -> dict[str, Any]:
    """Every ``params.yaml`` section that names columns, for the SYNTHETIC book: ``data``, the
    ratio ``features``, reason labels; the customer report's actionable features left empty."""
    ratio = {"name": "instalment_eur", "numerator": "loan_amount_eur"}
    return {
        "data": data_section(source),
        "features": {"ratios": [ratio | {"denominator": "loan_term_months"}]},
        "scorecard": {"reasons": {"labels": REASON_LABELS}},
        "customer_report": {"actionable": {}},
    }


def project_config(source: str, base: dict[str, Any], seed: int = 42) -> Any:
    """A ``ProjectConfig``: ``base`` (a ``params.yaml`` read as a dict: its models,
    calibration, scorecard, ...) with the sections of ``params_sections`` (``data`` replaced,
    the others laid over ``base``'s)."""
    from experiments.config import parse_config

    raw = dict(base) | {"seed": seed}
    for key, section in params_sections(source).items():
        raw[key] = section if key == "data" else {**raw.get(key, {}), **section}
        if key == "scorecard":
            raw[key]["reasons"] = {**base.get(key, {}).get("reasons", {}), **section["reasons"]}
    return parse_config(raw, "synthetic params")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write a SYNTHETIC credit portfolio (known true PD per row) as Parquet."
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=1, help="customers drawn (default 1)")
    parser.add_argument(
        "--output", type=Path, help="a .parquet file, or a folder with --partitions > 1"
    )
    parser.add_argument("--partitions", type=int, default=1, help="files in the output folder")
    parser.add_argument(
        "--params-section",
        metavar="SOURCE",
        help="print the params.yaml sections (data, ratios, reason labels) for SOURCE and exit",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.params_section:
        import yaml

        print(f"# {SYNTHETIC_NOTE}")
        print(yaml.safe_dump(params_sections(args.params_section), sort_keys=False), end="")
        return 0
    if args.output is None:
        parser.error("--output is required (or --params-section)")
    if args.rows < 1:
        parser.error(f"--rows must be at least 1, got {args.rows}")
    try:
        paths = write_portfolio(args.output, args.rows, args.seed, args.partitions, not args.quiet)
    except ValueError as error:
        parser.error(str(error))
    print(f"wrote {args.rows:,} SYNTHETIC rows (seed {args.seed}) to {len(paths)} file(s) under "
          f"{args.output}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
