# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Data scientist: from the bundled data to a registered challenger
#
# This walkthrough does by hand what `dvc repro` does in the project, one stage at a time,
# so that every number can be looked at on the way:
#
# 1. profile the data (what `riskgrade init` would decide about each column, and the contract
#    `riskgrade validate` checks);
# 2. split it, train the three model families (LightGBM, logistic regression, the optimal-binning
#    scorecard) and compare them **through the MLflow API**;
# 3. tune one family briefly with Optuna and see whether it helped;
# 4. look at the calibration of the chosen model and at its risk tiers;
# 5. register it as `@challenger`, which is where the validator (`02_validator.py`) takes over.
#
# Everything happens in a throw-away workspace (a temporary folder with its own MLflow store),
# with small budgets so that it runs in a minute or two: the project's own data, params and
# MLflow store are never touched. Every function called here is the project's own
# (`experiments.stages.*` are the DVC stages' entry points), so the numbers are the ones the
# pipeline produces.

# %%
import os

# Before MLflow and LightGBM load, as `riskgrade` sets them: no usage reports to outside
# hosts, no download progress bars, OpenMP threads that sleep when idle.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json
import shutil
import tempfile
from pathlib import Path

import mlflow
import optuna
import pandas as pd
import yaml
from IPython.display import display

from experiments.config import load_config
from experiments.onboarding.options import InitOptions
from experiments.onboarding.profile import profile_table
from experiments.onboarding.reading import read_raw_table
from experiments.stages import evaluate, ingest, register, split, train, tune, validate
from models.evaluation.calibration_tests import calibration_in_the_large, grade_tests
from models.evaluation.metrics import calibration_table
from models.evaluation.plots import new_chart, plot_calibration
from models.scoring.scorecard import tier_table

# %matplotlib inline

# %% [markdown]
# ## A throw-away workspace
#
# The workspace gets a copy of the bundled data (`data/external/`) and of `params.yaml` with
# small budgets, set in the cell below: a few Optuna trials on fewer folds, fewer calibration
# folds and boosting rounds, one thread. `MLFLOW_TRACKING_URI` points MLflow at a SQLite store
# inside the workspace; the project reads that variable before `params.yaml`. The paths
# below are the ones `dvc.yaml` uses.

# %%
START = Path.cwd()
REPO = next(p for p in (START, *START.parents) if (p / "dvc.yaml").is_file())
workspace = Path(tempfile.mkdtemp(prefix="riskgrade-data-scientist-"))
shutil.copytree(REPO / "data" / "external", workspace / "data" / "external")

params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
params["models"]["lightgbm"]["n_estimators"] = 100
params["tune"] |= {
    "n_trials": 4,
    "folds": 3,
    "repeats": 1,
    "max_estimators": 300,
    "pruner": {"enabled": True, "n_startup_trials": 2, "n_warmup_steps": 1},
}
params["calibration"]["folds"] = 3
params["runtime"]["n_jobs"] = 1
(workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")

os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workspace / 'mlflow.db'}"
os.chdir(workspace)  # data.source and the stages' paths are relative to the project
config = load_config(Path("params.yaml"))
schema = config.data

RAW = Path(f"data/raw/{schema.name}.{schema.format}")
DATASET = Path("data/processed/dataset.parquet")
SPLIT = Path("data/processed/split")
ARTIFACTS, REPORTS = Path("data/artifacts"), Path("data/reports")
print(f"workspace: {workspace}")
print(f"MLflow store: {os.environ['MLFLOW_TRACKING_URI']}")

# %% [markdown]
# ## 1. Profile the data
#
# `ingest` copies the bundled file and checks its pinned sha256: the published results were
# measured on exactly these bytes. `riskgrade init` is how a new dataset gets its
# `params.yaml`; its profiler, run here on the same file, says what it would decide about each
# column and why. The bundled `params.yaml` made the same calls: the protected attributes
# (sex / marital status, foreign worker) are kept in the data for the fairness review but
# never given to a model.

# %% tags=["profile"]
sha256 = ingest.run(schema, RAW)
profile = profile_table(
    read_raw_table(RAW, config.seed), InitOptions(schema.target, schema.positive_label)
)
roles = pd.DataFrame(
    [(d.column, d.role, d.protected, d.why) for d in profile.decisions],
    columns=["column", "role", "protected", "why"],
)
print(f"{RAW}: sha256 {sha256[:16]}..., {profile.table.n_rows} rows")
display(roles)

# %% [markdown]
# `validate` checks the file against the contract in `params.yaml` (declared columns, types,
# valid ranges, the target's two labels) and writes the typed dataset; a broken contract stops
# here with every problem listed, before anything is trained.

# %%
summary = validate.run(schema, RAW, DATASET, REPORTS / "validation.json", [])
data = pd.read_parquet(DATASET)
print(
    f"{summary['n_rows']} applicants, {summary['n_defaults']} defaults "
    f"({summary['default_rate']:.1%}); columns with missing values: "
    f"{sum(share > 0 for share in summary['missing_share'].values())}"
)
display(data[list(schema.numeric)].describe().T.round(1))

# %% [markdown]
# The strongest single characteristic in credit data is usually the checking account. The
# observed default rate per level, with the number of applicants:

# %% tags=["default-rate-plot"]
by_account = (
    data.groupby("status_of_existing_checking_account")[schema.target]
    .agg(applicants="size", default_rate="mean")
    .sort_values("default_rate")
)
display(by_account.style.format({"default_rate": "{:.1%}"}))
figure, ax = new_chart((7, 3), ("observed default rate", ""), "Default rate by checking account")
ax.barh(by_account.index, by_account["default_rate"])
ax.axvline(summary["default_rate"], color="grey", linestyle="--", label="whole book")
ax.legend(loc="lower right")
display(figure)

# %% [markdown]
# ## 2. Split, train the three families, compare them in MLflow
#
# `split` makes stratified train / validation / test sets (`split` in `params.yaml`). Each family is
# then trained by the `train` stage -- the full pipeline (features, encoder, estimator) plus a
# calibration map fitted on out-of-fold predictions, and the scoring policy (score, grades,
# tiers) -- and logged to MLflow; `evaluate` adds validation and test metrics and the
# calibration tests to the same run.

# %%
sizes = split.run(schema, config.split, config.seed, DATASET, SPLIT)
print("split:", ", ".join(f"{name} {rows} rows" for name, rows in sizes.items()))

runs = {}
for family in config.train.models:
    run_file = ARTIFACTS / family / "run.json"
    runs[family] = train.run(config, family, SPLIT / "train.parquet", RAW, run_file, workspace)
    metrics = evaluate.run(config, run_file, SPLIT, REPORTS / family, workspace)
    print(
        f"{family:>9}: run {runs[family]['run_id'][:8]}, validation AUC "
        f"{metrics['valid']['roc_auc']:.3f}, test AUC {metrics['test']['roc_auc']:.3f}"
    )

# %% [markdown]
# The comparison comes from MLflow itself, as it would on a shared tracking server: every
# evaluated training run has `valid_roc_auc`. The family is chosen on the **validation** AUC;
# the test split is kept for the final, unbiased figures.

# %% tags=["compare"]
COMPARED = {
    "tags.model_family": "family",
    "metrics.valid_roc_auc": "valid AUC",
    "metrics.test_roc_auc": "test AUC",
    "metrics.test_ks": "test KS",
    "metrics.test_brier": "test Brier",
    "metrics.test_calibration_error": "test ECE",
    "metrics.test_citl_p": "CITL p",
    "metrics.test_hosmer_lemeshow_p": "HL p",
}
experiment = mlflow.get_experiment_by_name(config.mlflow.experiment)
found = mlflow.search_runs(
    [experiment.experiment_id],
    filter_string="metrics.valid_roc_auc > 0",
    order_by=["metrics.valid_roc_auc DESC"],
)
comparison = found[["run_id", *COMPARED]].rename(columns=COMPARED).round(4)
display(comparison)

# %% [markdown]
# ## 3. Tune briefly
#
# `riskgrade tune` (the `tune@<family>` stage) runs an Optuna study that maximises the
# cross-validated AUC on the training split; its first trial is the `params.yaml` setting, so
# the best trial is never worse than the start on that objective. Each trial is a nested run
# in MLflow. This budget is only a demonstration (`tune.n_trials` in the workspace's
# `params.yaml`); the project's own is much larger.

# %% tags=["tuning"]
best_file = ARTIFACTS / "lightgbm" / "best_params.json"
optuna.logging.set_verbosity(optuna.logging.WARNING)  # the table below says it all
record = tune.run(config, "lightgbm", SPLIT / "train.parquet", RAW, best_file, workspace)
study_runs = mlflow.search_runs(
    [experiment.experiment_id], filter_string=f"tags.optuna_study = '{record['study_name']}'"
)
trials = study_runs.dropna(subset=["tags.optuna_trial"]).dropna(axis="columns", how="all")
trials = trials.assign(trial=trials["tags.optuna_trial"].astype(int)).sort_values("trial")
shown = ["trial", "tags.optuna_state", "metrics.cv_roc_auc"]
shown += [c for c in trials.columns if c.startswith("params.")]
display(trials[shown].set_index("trial").round(4))
print(f"best trial {record['best_trial']}: CV AUC {record['cv_roc_auc']:.4f}, {record['params']}")

# %% [markdown]
# `train` lays the tuned values over `params.yaml` (`--best-params`); the retrained LightGBM
# is a new MLflow run, compared with the untuned one on the validation split. A better CV
# AUC on 600 rows does not always carry over to 200 validation rows: that is why the
# validation split, not the tuning objective, chooses.

# %%
run_file = ARTIFACTS / "lightgbm" / "run.json"
runs["lightgbm"] = train.run(
    config, "lightgbm", SPLIT / "train.parquet", RAW, run_file, workspace, best_params=best_file
)
evaluate.run(config, run_file, SPLIT, REPORTS / "lightgbm", workspace)
lightgbm_runs = mlflow.search_runs(
    [experiment.experiment_id],
    filter_string="metrics.valid_roc_auc > 0 and tags.model_family = 'lightgbm'",
    order_by=["attributes.start_time ASC"],
)
lightgbm_runs.insert(0, "setting", ["params.yaml", "tuned"])
display(lightgbm_runs[["setting", *list(COMPARED)[1:]]].rename(columns=COMPARED).round(4))

# %% [markdown]
# ## 4. Calibration and risk tiers of the best family
#
# The registered object is the logged pyfunc model, so that is what is scored here: raw
# columns in; PD, score, grade, tier and reasons out. A calibrated PD means that among
# customers given 20 %, about 20 % default. The reliability diagram compares the mean PD and
# the observed default rate per PD decile of the test split.

# %% tags=["calibration-plot"]
finals = {
    family: json.loads((REPORTS / family / "metrics.json").read_text(encoding="utf-8"))
    for family in config.train.models
}
best = max(finals, key=lambda family: finals[family]["valid"]["roc_auc"])
model = mlflow.pyfunc.load_model(runs[best]["model_uri"])
test = pd.read_parquet(SPLIT / "test.parquet")
scored = model.predict(test[schema.features])
y, pd_ = test[schema.target].to_numpy(), scored["pd"].to_numpy()
print(f"best on validation: {best}; the first test customers as the model scores them:")
display(scored.head())

citl = calibration_in_the_large(y, pd_)
print(
    f"calibration in the large: mean PD {citl.mean_pd:.3f} vs observed default rate "
    f"{citl.observed_default_rate:.3f} (95% interval {citl.ci_lower:.3f}-{citl.ci_upper:.3f},"
    f" p={citl.p_value:.3f})"
)
display(plot_calibration(calibration_table(y, pd_), f"{best}: calibration on test"))

# %% [markdown]
# The tier cut-offs and the master scale were fitted with the model on the training book's
# out-of-fold PDs (`scorecard.tiers`, `scorecard.grades`) and travel with the version. On the
# test split the observed default rate should rise from `low` to `high`, and each grade's
# default rate should sit near its PD band (the Jeffreys test per grade, as in the ECB's IRB
# validation instructions).

# %% tags=["tiers"]
policy = model.unwrap_python_model().policy
print(f"tier cut-offs (PD): {policy.tiers.model_dump()}")
tiers = tier_table(scored["tier"].to_numpy(), y)
display(tiers.style.format({"share": "{:.1%}", "default_rate": "{:.1%}"}))
display(
    grade_tests(y, pd_, scored["grade"].to_numpy())[
        ["group", "n", "defaults", "mean_pd", "observed_default_rate", "jeffreys_p"]
    ].round(3)
)

# %% [markdown]
# ## 5. Register the challenger
#
# The `register` stage registers the family with the best validation AUC as the next version
# of the model and points the `@challenger` alias at it, with its lineage (data hash, params
# hash, run id) and the sha256 of its files as tags. From here the validator takes over:
# `02_validator.py` starts from a registered challenger.

# %% tags=["register"]
registered = register.run(config, ARTIFACTS, REPORTS, ARTIFACTS / "registered.json", workspace)
version = mlflow.MlflowClient().get_model_version_by_alias(registered["model_name"], "challenger")
print(
    f"{registered['model_name']} version {version.version} ({registered['model_family']}) is "
    f"@challenger; test AUC tag {version.tags['test_roc_auc']}"
)

# %% [markdown]
# ## Clean up
#
# The workspace and its MLflow store are removed. To keep them (for `mlflow ui
# --backend-store-uri` on the store, say), skip this cell.

# %%
os.chdir(START)
shutil.rmtree(workspace)
print(f"removed {workspace}")
