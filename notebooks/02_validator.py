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
# # Validator: review the challenger, then record a gate decision
#
# A model validator receives a registered version, `models:/<name>@challenger`, and decides
# whether it may replace the `@champion`. This walkthrough:
#
# 1. loads the challenger from the registry and checks what it is (lineage, file digest);
# 2. builds its validation report (`riskgrade report`) and walks through its numbers:
#    data, discrimination, tiers, stability, calibration, the champion comparison, the gate;
# 3. reruns the calibration tests independently, from the scored test split;
# 4. reviews fairness across the protected groups;
# 5. compares the challenger with the champion;
# 6. records the decision with `riskgrade promote` (the promotion gate) and reads the history.
#
# So that it runs on its own, the notebook first builds what the data science team would
# have handed over: a throw-away workspace with its own MLflow store, where LightGBM is
# version 1 and `@champion`, and the logistic model is version 2, the `@challenger`.

# %%
import os

# Before MLflow and LightGBM load, as `riskgrade` sets them: no usage reports to outside
# hosts, no download progress bars, OpenMP threads that sleep when idle.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
import yaml
from IPython.display import display

from experiments.config import load_config
from experiments.registry import promotion
from experiments.registry.versions import artifacts_digest_tag, read_history
from experiments.reports.fairness import plot_fairness
from experiments.stages import evaluate, ingest, register, split, train, validate
from models.evaluation.calibration_tests import calibration_summary
from models.evaluation.fairness import review_fairness
from models.evaluation.metrics import roc_points
from models.evaluation.plots import new_chart, plot_calibration, plot_diagonal
from models.scoring.scorecard import TIERS

# %matplotlib inline

# %% [markdown]
# ## Set-up: a workspace with a champion and a challenger
#
# A copy of the bundled data and of `params.yaml` (small budgets: fewer boosting rounds and
# calibration folds, one thread), an MLflow store in the workspace
# (`MLFLOW_TRACKING_URI`), and the pipeline's stages run as `dvc repro` runs them. The
# first champion is promoted through the same gate as every later one.

# %%
START = Path.cwd()
REPO = next(p for p in (START, *START.parents) if (p / "dvc.yaml").is_file())
workspace = Path(tempfile.mkdtemp(prefix="riskgrade-validator-"))
shutil.copytree(REPO / "data" / "external", workspace / "data" / "external")

params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
params["models"]["lightgbm"]["n_estimators"] = 100
params["calibration"]["folds"] = 3
params["runtime"]["n_jobs"] = 1
params["train"]["models"] = ["lightgbm", "logistic"]
(workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")

os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workspace / 'mlflow.db'}"
os.chdir(workspace)  # data.source and the stages' paths are relative to the project
config = load_config(Path("params.yaml"))
schema, NAME = config.data, config.registry.model_name

RAW = Path(f"data/raw/{schema.name}.{schema.format}")
DATASET = Path("data/processed/dataset.parquet")
SPLIT = Path("data/processed/split")
ARTIFACTS, REPORTS = Path("data/artifacts"), Path("data/reports")
RECORD = ARTIFACTS / "registered.json"

ingest.run(schema, RAW)
validate.run(schema, RAW, DATASET, REPORTS / "validation.json", [])
split.run(schema, config.split, config.seed, DATASET, SPLIT)
for family in config.train.models:
    run_file = ARTIFACTS / family / "run.json"
    train.run(config, family, SPLIT / "train.parquet", RAW, run_file, workspace)
    evaluate.run(config, run_file, SPLIT, REPORTS / family, workspace)
for family in config.train.models:  # lightgbm -> version 1, logistic -> version 2
    chosen = config.model_copy(
        update={"registry": config.registry.model_copy(update={"candidate": family})}
    )
    registered = register.run(chosen, ARTIFACTS, REPORTS, RECORD, workspace)
    if registered["version"] == "1":
        first = promotion.run(config, None, False, None, (SPLIT, RECORD), workspace)
        assert first.action == "promoted", f"the first champion was {first.action}"
print(f"workspace: {workspace}")

# %% [markdown]
# Commands a validator would type in a shell run through `subprocess`, with this notebook's
# environment (the workspace's MLflow store); their output is printed as the terminal would
# show it.

# %%
RISKGRADE = shutil.which("riskgrade", path=str(Path(sys.executable).parent)) or "riskgrade"


def riskgrade(*args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    """Run ``riskgrade args`` in the workspace; print its output; fail on another exit code."""
    result = subprocess.run(
        [RISKGRADE, *args],
        capture_output=True,
        text=True,
        env=os.environ | {"COLUMNS": "150", "TQDM_DISABLE": "1"},  # wide tables, no progress bars
    )
    print(f"$ riskgrade {' '.join(args)}   # exit code {result.returncode}")
    print(result.stdout, result.stderr, sep="\n")
    if result.returncode not in ok:
        raise RuntimeError(f"riskgrade {args[0]} exited with {result.returncode}")
    return result


# %% [markdown]
# ## 1. What is the challenger?
#
# The alias resolves to a version; its tags carry the lineage needed to rebuild it (data
# hash, params hash, source run, git commit) and the sha256 of its files, which is recomputed
# here: the files under review are the files that were registered.

# %% tags=["challenger"]
client = mlflow.MlflowClient()
candidate = client.get_model_version_by_alias(NAME, "challenger")
champion = client.get_model_version_by_alias(NAME, "champion")
challenger_model = mlflow.pyfunc.load_model(f"models:/{NAME}@challenger")
print(f"@challenger = version {candidate.version}, @champion = version {champion.version}")
print(candidate.description)
lineage = ["model_family", "data_md5", "params_hash", "run_id", "git_commit", "artifacts_sha256"]
display(pd.Series({key: candidate.tags.get(key) for key in lineage}, name="tag").to_frame())
digest = artifacts_digest_tag(f"models:/{NAME}/{candidate.version}")
unchanged = all(candidate.tags.get(key) == value for key, value in digest.items())
print(f"stored files match the registered digest: {unchanged}")

# %% [markdown]
# ## 2. The validation report
#
# `riskgrade report` scores the train, validation and test splits through the registered
# model, measures the champion on the same test split, applies the promotion gate and writes
# the report as HTML (for people) and JSON (for checks like the ones below); both are also
# logged to the version's MLflow run.

# %% tags=["report"]
html, json_path = REPORTS / "validation_report.html", REPORTS / "validation_report.json"
riskgrade("report", "--registered", str(RECORD), "--html", str(html), "--json", str(json_path))
report = json.loads(json_path.read_text(encoding="utf-8"))
print(f"sections: {', '.join(sorted(report))}")
display(pd.Series(report["summary"], name="summary").to_frame())

# %% [markdown]
# **Data and discrimination.** Rows and defaults per split, then the metrics per split: a
# large drop from train to validation or test would mean overfitting. Gini = 2 AUC - 1; KS is
# the largest gap between the score distributions of defaulters and non-defaulters.

# %%
display(pd.DataFrame(report["data"]["splits"]).T)
metrics = pd.DataFrame(report["metrics"]).T[
    ["n_rows", "default_rate", "mean_pd", "roc_auc", "gini", "ks", "brier", "log_loss"]
]
display(metrics.round(4))
gap = metrics.loc["train", "roc_auc"] - metrics.loc["test", "roc_auc"]
print(
    f"AUC train - test: {gap:+.3f}; KS on test {report['ks']['ks']:.3f} at PD "
    f"{report['ks']['threshold_pd']:.3f}"
)

# %% [markdown]
# **Tiers and stability.** Observed default rates must rise from `low` to `high` on every
# split. The score PSI compares the PD distribution of the training and test splits; the
# feature PSIs say which characteristic moved most.

# %%
tiers = pd.DataFrame(report["tiers"]["tables"]["test"])
display(tiers.style.format({"share": "{:.1%}", "default_rate": "{:.1%}"}))
print(f"default rate rises with the tier: {report['tiers']['default_rate_increases']}")
stability = report["stability"]
print(f"score PSI train vs test: {stability['score_psi']:.4f} ({stability['score_band']})")
display(pd.DataFrame(stability["features"]).sort_values("psi", ascending=False).head(5))

# %% [markdown]
# **Calibration**, as the report measured it: the reliability diagram of the test split.

# %% tags=["calibration-plot"]
calibration = report["calibration"]
print(f"expected calibration error on test: {calibration['expected_calibration_error']:.4f}")
display(plot_calibration(pd.DataFrame(calibration["table"]), "challenger: calibration on test"))

# %% [markdown]
# ## 3. The calibration tests, rerun
#
# A validator reproduces the headline figures rather than trusting them: the test split is
# scored again through the registered model and every test of
# `models.evaluation.calibration_tests` is run on it -- calibration in the large, binomial,
# Jeffreys, Hosmer-Lemeshow and Spiegelhalter on the whole book, and the binomial and Jeffreys
# tests per rating grade and per tier (a rejected grade has a default rate its PD band does
# not explain).

# %% tags=["calibration-tests"]
test = pd.read_parquet(SPLIT / "test.parquet")
scored = challenger_model.predict(test[schema.features])
y, pd_ = test[schema.target].to_numpy(), scored["pd"].to_numpy()
alpha = config.promotion.calibration_alpha
tests = calibration_summary(
    y,
    pd_,
    {"grade": (scored["grade"].to_numpy(), None), "tier": (scored["tier"].to_numpy(), TIERS)},
    alpha,
)
headline = ["calibration_in_the_large", "binomial", "jeffreys", "hosmer_lemeshow", "spiegelhalter"]
display(
    pd.DataFrame(
        {
            name: {"p_value": tests[name]["p_value"], "rejected": tests[name]["rejected"]}
            for name in headline
        }
    ).T
)
ours = tests["calibration_in_the_large"]["p_value"]
theirs = calibration["tests"]["calibration_in_the_large"]["p_value"]
print(
    f"calibration in the large p-value: {ours:.6f} here, {theirs:.6f} in the report "
    f"(same: {math.isclose(ours, theirs)})"
)
grades = pd.DataFrame(tests["groups"]["grade"])
display(grades[["group", "n", "defaults", "mean_pd", "observed_default_rate", "jeffreys_p"]])
print(
    f"grades rejected by the Jeffreys test at {alpha:.0%}: {int(grades['jeffreys_rejected'].sum())}"
)

# %% [markdown]
# ## 4. Fairness review
#
# The protected attributes (`data.protected`: sex / marital status and foreign worker in
# German Credit) are never model inputs, but a model can still treat their groups
# differently through correlated characteristics. `models.evaluation.fairness` disaggregates
# the test split by each protected attribute and by their intersection: share of the book,
# observed default rate and mean PD (calibration in the large per group), AUC within the
# group, share in each tier, and the adverse-impact ratio of the `low` tier against the most
# favoured group of a meaningful size (the four-fifths rule: below 0.8 is evidence of adverse
# impact). Small groups are shown and flagged: their figures are noisy. The thresholds of
# `params.yaml` (`fairness`) are off by default; when set, the promotion gate applies them.

# %% tags=["fairness"]
review = review_fairness(
    test[list(schema.protected)], y, pd_, scored["tier"], config.fairness, alpha
)
shown = [
    "group",
    "n",
    "observed_default_rate",
    "mean_pd",
    "citl_p",
    "roc_auc",
    "tier_share_low",
    "adverse_impact_ratio",
    "small",
]
for grouping in review.groupings:
    print(f"{grouping.name}: reference group {grouping.reference_group!r}")
    display(grouping.table[shown].round(3))
lowest, gap = review.lowest_adverse_impact_ratio(), review.largest_calibration_gap()
print(f"lowest adverse-impact ratio {lowest.value:.3f}: {lowest.detail}")
print(f"largest calibration gap {gap.value:.3f}: {gap.detail}")
reported = report["fairness"]["lowest_adverse_impact_ratio"]["value"]
print(
    f"the report's lowest adverse-impact ratio: {reported:.3f} "
    f"(same: {math.isclose(reported, lowest.value)})"
)
display(plot_fairness(review))

# %% [markdown]
# ## 5. Challenger against champion
#
# The report measured both versions on the same test split. The ROC curves, from the two
# registered models:

# %% tags=["roc-plot"]
display(pd.DataFrame(report["champion"]["metrics"]).set_index("metric").round(4))
figure, ax = new_chart((5, 5), ("false positive rate", "true positive rate"), "ROC on test")
for alias in ("champion", "challenger"):
    model = mlflow.pyfunc.load_model(f"models:/{NAME}@{alias}")
    roc = roc_points(y, model.predict(test[schema.features])["pd"].to_numpy())
    ax.plot(roc["fpr"], roc["tpr"], label=f"@{alias}")
plot_diagonal(ax, "random")
ax.legend(loc="lower right")
display(figure)

# %% [markdown]
# ## 6. The gate decision
#
# The report's verdict, criterion by criterion, then the decision itself: `riskgrade promote`
# measures both versions again, applies the gate of `params.yaml` (`promotion`) and either
# moves `@champion` (exit code 0) or refuses, naming each failing criterion with both numbers
# (exit code 1). Both outcomes are decisions, recorded as version tags and as a run in the
# `<name>-decisions` MLflow experiment.

# %% tags=["gate"]
display(pd.DataFrame(report["gate"]["criteria"])[["name", "value", "rule", "threshold", "passed"]])
decision = riskgrade("promote", ok=(0, 1))
print("decision:", "promoted" if decision.returncode == 0 else "refused")

# %% tags=["history"]
history = pd.DataFrame(read_history(client, NAME))
display(history[["time", "action", "from_version", "to_version", "user", "reason"]])
now = client.get_model_version_by_alias(NAME, "champion")
print(f"@champion is version {now.version} ({now.tags.get('model_family')})")

# %% [markdown]
# ## Clean up
#
# The workspace and its MLflow store are removed; skip this cell to keep them (the HTML
# report is in `data/reports/` of the workspace).

# %%
os.chdir(START)
shutil.rmtree(workspace)
print(f"removed {workspace}")
