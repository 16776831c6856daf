"""Quality of riskgrade's calibrated PDs, grades and tiers on real credit datasets.

Run on demand (not a test), from the repository root:

    python benchmarks/calibration.py [--datasets NAME ...] [--folds 5]
        [--methods none platt isotonic] [--families lightgbm logistic]
        [--workers 1] [--output benchmarks/results/calibration.json]

For each dataset of ``benchmarks/credit_datasets.py`` and each model family, an outer
stratified K-fold CV (seed from params.yaml) trains on each training part exactly as the
``train`` stage does -- ``build_calibrated_model`` (calibration method none / platt /
isotonic) and ``fit_credit_model`` (grades + ``auto`` tiers on the training part's own
out-of-fold PDs) -- and scores the held-out part with ``predict_proba`` and
``score_customers``. Settings are params.yaml's ``models``, ``features``, ``calibration`` and
``scorecard`` sections for every dataset; only the column roles change, and ratio features
whose columns a dataset lacks are dropped. Each dataset goes through
``features.validation.validate_dataset``, as a user's file does in ``riskgrade validate``.

Measured on the pooled out-of-fold predictions, per dataset x family x method: ROC AUC (pooled
and mean of the folds), log loss, Brier score, ECE over PD deciles, mean PD vs default rate,
calibration-in-the-large, Spiegelhalter and Hosmer-Lemeshow tests, the grades and tiers whose
PD the one-sided Jeffreys test rejects at 5% (grade k pooled over folds, each fold graded by
its own policy), and the tier table. Pooled AUC mixes the folds' maps, so it can move a little
even under a monotone map; the per-fold AUC cannot move under Platt (positive slope).

Also, for Platt on LightGBM, the calibration SOURCE: cross-fitted out-of-fold margins of the
whole training part (``CalibratedPipeline``) vs a holdout (pipeline fitted on 75% of the
training part, the map on the other 25%'s margins).

Prints a markdown table of every run, an acceptance table (Platt) and the source comparison;
writes everything to ``--output`` (JSON).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before lightgbm loads OpenMP

import numpy as np
import pandas as pd
from credit_datasets import (
    CreditDataset,
    DatasetUnavailableError,
    available_datasets,
    load_dataset,
)
from joblib import Parallel, delayed
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from tqdm import tqdm

from experiments.config import ProjectConfig, load_config
from experiments.io import write_json
from features.pipeline import FeatureConfig
from features.schema import DatasetSchema
from features.validation import validate_dataset
from models.calibration import CalibrationMethod, fit_calibration_map, model_margin
from models.evaluation.calibration_tests import (
    calibration_in_the_large,
    grade_tests,
    hosmer_lemeshow,
    spiegelhalter,
)
from models.evaluation.metrics import calibration_table, compute_metrics, expected_calibration_error
from models.factory import build_calibrated_model, build_model_pipeline, fit_credit_model
from models.families.registry import FAMILIES as REGISTERED
from models.scoring.scorecard import TIERS, score_customers, tier_table

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "calibration.json"
METHODS: tuple[str, ...] = ("none", "platt", "isotonic")  # none first: the AUC reference
assert set(METHODS) == set(get_args(CalibrationMethod)), "a calibration method is missing"
FAMILIES: tuple[str, ...] = tuple(REGISTERED)
ALPHA = 0.05
MAX_RELATIVE_GAP = 0.15  # |mean PD / default rate - 1| accepted
HOLDOUT_SHARE = 0.25  # source comparison: share of the training part that fits the map
HOLDOUT = "holdout"  # task "method" of the source comparison's holdout arm


@dataclass(frozen=True)
class PreparedData:
    """One dataset as the pipeline sees it: schema, feature settings, typed rows, outer folds."""

    name: str
    schema: DatasetSchema
    features: FeatureConfig
    X: pd.DataFrame
    y: np.ndarray  # 1 = default
    folds: list[tuple[np.ndarray, np.ndarray]]  # (training rows, held-out rows)


@dataclass(frozen=True)
class Task:
    dataset: str
    family: str
    method: str  # a calibration method, or HOLDOUT
    fold: int


@dataclass(frozen=True)
class FoldResult:
    """Held-out predictions of one outer fold (grade/tier None for the holdout arm)."""

    test_index: np.ndarray
    pd: np.ndarray
    grade: np.ndarray | None
    tier: np.ndarray | None
    details: dict[str, Any]


def negative_label(dataset: CreditDataset) -> Any:
    """The target's one other label; validation reports any third one."""
    others = [v for v in pd.unique(dataset.frame[dataset.target].dropna())]
    others = [v for v in others if str(v) != str(dataset.positive_label)]
    return others[0] if others else f"not {dataset.positive_label}"


def dataset_schema(dataset: CreditDataset, base: DatasetSchema) -> DatasetSchema:
    """params.yaml's ``data`` section with this dataset's column roles (and nothing else)."""
    roles = {
        "name": dataset.name,
        "source": Path(f"{dataset.name}.csv"),
        "format": "csv",
        "sha256": None,
        "target": dataset.target,
        "positive_label": dataset.positive_label,
        "negative_label": negative_label(dataset),
        "id_column": None,
        "date_column": None,
        "numeric": dataset.numeric,
        "categorical": dataset.categorical,
        "excluded": dataset.excluded,
    }
    return DatasetSchema.model_validate(base.model_dump() | roles)


def dataset_features(schema: DatasetSchema, features: FeatureConfig) -> FeatureConfig:
    """params.yaml's ``features`` without the ratios whose columns the dataset lacks."""
    kept = tuple(r for r in features.ratios if {r.numerator, r.denominator} <= set(schema.numeric))
    return features.model_copy(update={"ratios": kept})


def prepare_dataset(dataset: CreditDataset, config: ProjectConfig, folds: int) -> PreparedData:
    """Validate the raw frame as ``riskgrade validate`` does and cut the outer folds."""
    schema = dataset_schema(dataset, config.data)
    frame = validate_dataset(dataset.frame, schema, f"dataset {dataset.name}")
    X, y = frame[schema.features], frame[schema.target].to_numpy(dtype="int64")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=config.seed)
    return PreparedData(
        name=dataset.name,
        schema=schema,
        features=dataset_features(schema, config.features),
        X=X,
        y=y,
        folds=list(splitter.split(X, y)),
    )


def fold_failures(y: np.ndarray, pd_: np.ndarray, labels: np.ndarray, order: Any) -> int:
    """Groups whose PD the one-sided Jeffreys test rejects at ``ALPHA``."""
    table = grade_tests(y, pd_, labels, ALPHA, order)
    return int(table["jeffreys_rejected"].sum())


def fit_calibrated_fold(
    data: PreparedData, config: ProjectConfig, family: str, method: str, fold: int
) -> FoldResult:
    """Train on the fold's training part with the pipeline's own code; score the rest."""
    train, test = data.folds[fold]
    calibration = config.calibration.model_copy(update={"method": method})
    model_config = config.models.get(family)  # type: ignore[arg-type]
    model = build_calibrated_model(
        data.schema, data.features, model_config, calibration, config.seed, n_jobs=1
    )
    policy = fit_credit_model(model, config.scorecard, data.X.iloc[train], data.y[train])
    pd_test = model.predict_proba(data.X.iloc[test])[:, 1]
    scored = score_customers(pd_test, policy)
    grade, tier = scored["grade"].to_numpy(), scored["tier"].to_numpy(dtype=object)
    y_test = data.y[test]
    details = {
        "roc_auc": float(roc_auc_score(y_test, pd_test)),
        "calibration_map": model.calibration_map.describe(),
        "tier_cutoffs": policy.tiers.model_dump(),
        "grade_count": policy.grades.count if policy.grades else 0,
        "grades_failing_jeffreys": fold_failures(y_test, pd_test, grade, None),
        "tiers_failing_jeffreys": fold_failures(y_test, pd_test, tier, TIERS),
    }
    return FoldResult(test, pd_test, grade, tier, details)


def fit_holdout_fold(data: PreparedData, config: ProjectConfig, fold: int) -> FoldResult:
    """Platt map fitted on a 25% holdout of the training part, model on the other 75%."""
    train, test = data.folds[fold]
    fit_rows, map_rows = train_test_split(
        train, test_size=HOLDOUT_SHARE, stratify=data.y[train], random_state=config.seed
    )
    pipeline = build_model_pipeline(
        data.schema, data.features, config.models.lightgbm, config.seed, n_jobs=1
    )
    pipeline.fit(data.X.iloc[fit_rows], data.y[fit_rows])
    margins = model_margin(pipeline, data.X.iloc[map_rows])
    platt = fit_calibration_map(margins, data.y[map_rows], "platt")
    pd_test = platt.pd(model_margin(pipeline, data.X.iloc[test]))
    details = {
        "roc_auc": float(roc_auc_score(data.y[test], pd_test)),
        "calibration_map": platt.describe(),
    }
    return FoldResult(test, pd_test, None, None, details)


def run_task(data: PreparedData, config: ProjectConfig, task: Task) -> tuple[Task, FoldResult]:
    if task.method == HOLDOUT:
        return task, fit_holdout_fold(data, config, task.fold)
    return task, fit_calibrated_fold(data, config, task.family, task.method, task.fold)


def plan_tasks(data: PreparedData, families: list[str], methods: list[str]) -> list[Task]:
    """Every (family, method, fold) of a dataset, plus the holdout arm for LightGBM."""
    folds = range(len(data.folds))
    tasks = [
        Task(data.name, family, method, fold)
        for family, method, fold in itertools.product(families, methods, folds)
    ]
    if "lightgbm" in families:
        if "platt" not in methods:  # the cross-fitted arm of the source comparison
            tasks += [Task(data.name, "lightgbm", "platt", fold) for fold in folds]
        tasks += [Task(data.name, "lightgbm", HOLDOUT, fold) for fold in folds]
    return tasks


def run_tasks(
    prepared: dict[str, PreparedData], config: ProjectConfig, tasks: list[Task], workers: int
) -> Iterator[tuple[Task, FoldResult]]:
    """Fit every task (in ``workers`` processes), yielding results as they finish."""
    parallel = Parallel(n_jobs=workers, return_as="generator_unordered")
    calls = (delayed(run_task)(prepared[t.dataset], config, t) for t in tasks)
    results: Iterable[tuple[Task, FoldResult]] = parallel(calls)
    yield from tqdm(results, total=len(tasks), desc="outer folds", unit="fit")


def pool_folds(n_rows: int, results: list[FoldResult]) -> dict[str, Any]:
    """Out-of-fold PDs, grades and tiers over all rows, plus the per-fold details."""
    pd_ = np.full(n_rows, np.nan)
    grade = np.zeros(n_rows, dtype="int64")
    tier = np.empty(n_rows, dtype=object)
    for result in results:
        pd_[result.test_index] = result.pd
        if result.grade is not None and result.tier is not None:
            grade[result.test_index], tier[result.test_index] = result.grade, result.tier
    assert np.isfinite(pd_).all(), "every row must be held out exactly once"
    return {"pd": pd_, "grade": grade, "tier": tier, "folds": [r.details for r in results]}


def tier_summary(y: np.ndarray, pd_: np.ndarray, tier: np.ndarray) -> dict[str, dict[str, Any]]:
    """Share, observed default rate and mean PD per tier, low to high."""
    table = tier_table(tier, y).set_index("tier").to_dict(orient="index")
    mean_pd = pd.Series(pd_).groupby(tier).mean()
    return {
        t: {
            "n_rows": int(table[t]["n_rows"]),
            "share": float(table[t]["share"]),
            "default_rate": plain(table[t]["default_rate"]),
            "mean_pd": plain(mean_pd.get(t, math.nan)),
        }
        for t in TIERS
    }


def summarise_predictions(y: np.ndarray, pooled: dict[str, Any]) -> dict[str, Any]:
    """Discrimination, calibration tests, Jeffreys failures and tiers of pooled predictions."""
    pd_, grade, tier = pooled["pd"], pooled["grade"], pooled["tier"]
    metrics = compute_metrics(y, pd_)
    sp = spiegelhalter(y, pd_, ALPHA)
    fold_auc = [f["roc_auc"] for f in pooled["folds"]]
    return {
        "roc_auc_pooled": metrics["roc_auc"],
        "roc_auc_fold_mean": float(np.mean(fold_auc)),
        "log_loss": metrics["log_loss"],
        "brier": metrics["brier"],
        "ece": expected_calibration_error(calibration_table(y, pd_)),
        "mean_pd": metrics["mean_pd"],
        "default_rate": metrics["default_rate"],
        "relative_gap": metrics["mean_pd"] / metrics["default_rate"] - 1,
        "citl_p": calibration_in_the_large(y, pd_, ALPHA).p_value,
        "spiegelhalter_z": sp.z,
        "spiegelhalter_p": sp.p_value,
        "spiegelhalter_rejected": sp.rejected,
        "hosmer_lemeshow_p": hosmer_lemeshow(y, pd_, 10, ALPHA).p_value,
        "grades": len(np.unique(grade)),
        "grades_failing_jeffreys": fold_failures(y, pd_, grade, None),
        "tiers_failing_jeffreys": fold_failures(y, pd_, tier, TIERS),
        "tiers": tier_summary(y, pd_, tier),
    }


def check_acceptance(run: dict[str, Any], none_run: dict[str, Any] | None) -> dict[str, Any]:
    """The booleans a calibrated run must satisfy; AUC ones need the ``none`` run."""
    tiers = [run["summary"]["tiers"][t] for t in TIERS]
    populated = all(t["n_rows"] > 0 for t in tiers)
    rates = [t["default_rate"] for t in tiers]
    checks: dict[str, Any] = {
        "tiers_populated": populated,
        "default_rate_rising": populated and all(a < b for a, b in itertools.pairwise(rates)),
        "mean_pd_within_15pct": abs(run["summary"]["relative_gap"]) <= MAX_RELATIVE_GAP,
        "spiegelhalter_not_rejected": not run["summary"]["spiegelhalter_rejected"],
    }
    if none_run is None:
        return checks | {"auc_not_lower_pooled": None, "fold_auc_max_abs_diff": None}
    auc, none_auc = run["summary"]["roc_auc_pooled"], none_run["summary"]["roc_auc_pooled"]
    fold_diff = [
        a["roc_auc"] - b["roc_auc"] for a, b in zip(run["folds"], none_run["folds"], strict=True)
    ]
    return checks | {
        "auc_not_lower_pooled": auc >= none_auc - 1e-9,
        "fold_auc_max_abs_diff": float(np.max(np.abs(fold_diff))),
        "fold_auc_unchanged": bool(np.max(np.abs(fold_diff)) <= 1e-12),
    }


def source_comparison(
    y: np.ndarray, cross_fit: dict[str, Any], holdout: dict[str, Any]
) -> dict[str, Any]:
    """Log loss, ECE, mean PD / default rate and AUC of the two calibration sources."""

    def measures(pooled: dict[str, Any]) -> dict[str, Any]:
        pd_ = pooled["pd"]
        return {
            "log_loss": float(log_loss(y, pd_, labels=[0, 1])),
            "ece": expected_calibration_error(calibration_table(y, pd_)),
            "mean_pd_to_default_rate": float(pd_.mean() / y.mean()),
            "roc_auc_pooled": float(roc_auc_score(y, pd_)),
            "maps": [f["calibration_map"] for f in pooled["folds"]],
        }

    return {"cross_fitted": measures(cross_fit), HOLDOUT: measures(holdout)}


def pool_run(
    data: PreparedData, results: dict[Task, FoldResult], family: str, method: str
) -> dict[str, Any]:
    folds = range(len(data.folds))
    return pool_folds(len(data.y), [results[Task(data.name, family, method, k)] for k in folds])


def summarise_dataset(
    data: PreparedData, results: dict[Task, FoldResult], families: list[str], methods: list[str]
) -> dict[str, Any]:
    """All runs of one dataset: per family and method, then the source comparison."""
    runs: dict[str, dict[str, Any]] = {}
    for family in families:
        pooled = {m: pool_run(data, results, family, m) for m in methods}
        runs[family] = {
            m: {"summary": summarise_predictions(data.y, p), "folds": p["folds"]}
            for m, p in pooled.items()
        }
        for run in runs[family].values():
            run["acceptance"] = check_acceptance(run, runs[family].get("none"))
    out: dict[str, Any] = {"runs": runs}
    if "lightgbm" in families:
        cross_fit = pool_run(data, results, "lightgbm", "platt")
        holdout = pool_run(data, results, "lightgbm", HOLDOUT)
        out["calibration_source"] = source_comparison(data.y, cross_fit, holdout)
    return out


def plain(value: Any) -> Any:
    """numpy -> Python, NaN -> None, recursively (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def fmt(value: Any, spec: str = ".3f") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "**NO**"
    return format(value, spec)


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


SUMMARY_COLUMNS = {  # results table: summary key -> (header, number format)
    "roc_auc_pooled": ("AUC pooled", ".4f"),
    "roc_auc_fold_mean": ("AUC folds", ".4f"),
    "log_loss": ("log loss", ".4f"),
    "brier": ("Brier", ".4f"),
    "ece": ("ECE", ".4f"),
    "mean_pd": ("mean PD", ".4f"),
    "default_rate": ("DR", ".4f"),
    "relative_gap": ("PD/DR-1", "+.3f"),
    "citl_p": ("CITL p", ".3g"),
    "spiegelhalter_z": ("Spieg. z", "+.2f"),
    "spiegelhalter_p": ("Spieg. p", ".3g"),
    "hosmer_lemeshow_p": ("HL p", ".3g"),
}


def summary_cells(s: dict[str, Any]) -> list[str]:
    """The results table's cells of one run's summary."""
    cells = [fmt(s[key], spec) for key, (_, spec) in SUMMARY_COLUMNS.items()]
    cells += [f"{s['grades_failing_jeffreys']}/{s['grades']}", str(s["tiers_failing_jeffreys"])]
    cells.append("/".join(fmt(s["tiers"][t]["share"], ".0%") for t in TIERS))
    cells.append("/".join(fmt(s["tiers"][t]["default_rate"], ".1%") for t in TIERS))
    return cells


def results_table(report: dict[str, Any]) -> str:
    """One row per dataset x family x method."""
    header = ["dataset", "family", "method", *(h for h, _ in SUMMARY_COLUMNS.values())]
    header += ["grades fail/n", "tiers fail", "tier share l/m/h", "tier DR l/m/h"]
    rows = [
        [dataset, family, method, *summary_cells(run["summary"])]
        for dataset, family, method, run in iterate_runs(report)
    ]
    return markdown(header, rows)


def acceptance_table(report: dict[str, Any]) -> str:
    """Platt runs only: each acceptance boolean and the AUC checks against ``none``."""
    header = "dataset|family|tiers populated|DR rising l<m<h|abs(PD/DR-1)<=0.15"
    header += "|Spiegelhalter not rejected|AUC unchanged per fold|max fold abs dAUC"
    header += "|pooled AUC >= none"
    rows = []
    for dataset, family, method, run in iterate_runs(report):
        if method == "platt":
            a = run["acceptance"]
            keys = ("tiers_populated", "default_rate_rising", "mean_pd_within_15pct")
            cells = [fmt(a[k]) for k in (*keys, "spiegelhalter_not_rejected")]
            cells += [fmt(a.get("fold_auc_unchanged")), fmt(a["fold_auc_max_abs_diff"], ".1e")]
            rows.append([dataset, family, *cells, fmt(a["auc_not_lower_pooled"])])
    return markdown(header.split("|"), rows)


def source_table(report: dict[str, Any]) -> str:
    """Cross-fitted vs holdout Platt map on LightGBM, per dataset."""
    header = "dataset|log loss cross-fit|log loss holdout|ECE cross-fit|ECE holdout"
    header += "|PD/DR cross-fit|PD/DR holdout|AUC cross-fit|AUC holdout"
    rows = []
    for dataset, entry in report["datasets"].items():
        if "calibration_source" in entry:
            c, h = entry["calibration_source"]["cross_fitted"], entry["calibration_source"][HOLDOUT]
            keys = ("log_loss", "ece", "mean_pd_to_default_rate", "roc_auc_pooled")
            rows.append([dataset, *(fmt(m[k], ".4f") for k in keys for m in (c, h))])
    return markdown(header.split("|"), rows)


def iterate_runs(report: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for dataset, entry in report["datasets"].items():
        for family, methods in entry["runs"].items():
            for method, run in methods.items():
                yield dataset, family, method, run


def describe_dataset(dataset: CreditDataset, data: PreparedData) -> dict[str, Any]:
    return {
        "source": dataset.source,
        "n_rows": len(data.y),
        "defaults": int(data.y.sum()),
        "default_rate": float(data.y.mean()),
        "numeric": list(data.schema.numeric),
        "categorical": list(data.schema.categorical),
        "excluded": list(data.schema.excluded),
        "ratios": [r.name for r in data.features.ratios],
    }


def prepare_all(
    names: list[str], config: ProjectConfig, folds: int
) -> tuple[dict[str, PreparedData], dict[str, dict[str, Any]], dict[str, str]]:
    """Load and validate each dataset; one that cannot be fetched is skipped and reported."""
    prepared, info, skipped = {}, {}, {}
    for name in names:
        try:
            dataset = load_dataset(name)
        except DatasetUnavailableError as error:
            skipped[name] = str(error)
            continue
        prepared[name] = prepare_dataset(dataset, config, folds)
        info[name] = describe_dataset(dataset, prepared[name])
    return prepared, info, skipped


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    names = available_datasets()
    parser.add_argument("--datasets", nargs="+", choices=names, default=names, metavar="NAME")
    parser.add_argument("--folds", type=int, default=5, help="outer stratified CV folds")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    parser.add_argument("--workers", type=int, default=1, help="processes (1 thread each)")
    parser.add_argument("--params", type=Path, default=REPO_ROOT / "params.yaml")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, metavar="FILE.json")
    args = parser.parse_args()
    if args.folds < 2 or args.workers < 1:
        parser.error(f"--folds must be >= 2 and --workers >= 1, got {args.folds}, {args.workers}")
    return args


def settings(args: argparse.Namespace, config: ProjectConfig) -> dict[str, Any]:
    """What the run used: CLI choices and params.yaml's sections (identical for every dataset)."""
    sections = ("models", "features", "calibration", "scorecard")
    return {
        "folds": args.folds,
        "methods": args.methods,
        "families": args.families,
        "seed": config.seed,
        "alpha": ALPHA,
        "max_relative_gap": MAX_RELATIVE_GAP,
        "holdout_share": HOLDOUT_SHARE,
        "params": {s: getattr(config, s).model_dump(mode="json") for s in sections},
    }


def main() -> None:
    args = parse_args()
    config = load_config(args.params)
    start = time.perf_counter()
    prepared, info, skipped = prepare_all(args.datasets, config, args.folds)
    tasks = [t for d in prepared.values() for t in plan_tasks(d, args.families, args.methods)]
    results = dict(run_tasks(prepared, config, tasks, args.workers))
    datasets = {
        name: info[name] | summarise_dataset(data, results, args.families, args.methods)
        for name, data in prepared.items()
    }
    report: dict[str, Any] = {"settings": settings(args, config), "datasets": datasets}
    report |= {"skipped": skipped, "wall_seconds": time.perf_counter() - start}
    write_json(args.output, plain(report))
    print("\n## Out-of-fold results\n\n" + results_table(report))
    print("\n## Acceptance (platt)\n\n" + acceptance_table(report))
    print("\n## Calibration source (platt, lightgbm)\n\n" + source_table(report))
    for name, error in skipped.items():
        print(f"\nskipped {name}: {error}")
    print(f"\nwall time {report['wall_seconds']:.0f} s; written to {args.output}")


if __name__ == "__main__":
    main()
