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
# # Engineer and risk officer: serve, score, watch the portfolio
#
# The model is validated and promoted; now it has to work for the business. This walkthrough:
#
# 1. starts the scoring service (`riskgrade serve`) on the `@champion` with an API key and an
#    audit store, and waits until it is ready;
# 2. scores customers over HTTP, one at a time and in a batch;
# 3. batch-scores a file of customers twice, a month apart (`riskgrade score`), which stores
#    each run and raises early-warning alerts;
# 4. reads the alerts (`riskgrade alerts`) and one customer's report (`GET
#    /v1/customers/{id}/report`);
# 5. runs monitoring (`riskgrade monitor`) on a sample whose population has shifted;
# 6. stops the service.
#
# So that it runs on its own, the notebook first builds a throw-away workspace with its own
# MLflow store and a LightGBM version promoted to `@champion` through the gate, as the data
# scientist and the validator would have left it.

# %%
import os

# Before MLflow and LightGBM load, as `riskgrade` sets them: no usage reports to outside
# hosts, no download progress bars, OpenMP threads that sleep when idle.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import atexit
import json
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd
import yaml
from IPython.display import display

from experiments.config import load_config
from experiments.registry import promotion
from experiments.stages import evaluate, ingest, register, split, train, validate
from models.evaluation.plots import new_chart
from serving.settings import hash_api_key

# %matplotlib inline

# %% [markdown]
# ## Set-up: a workspace with a champion
#
# A copy of the bundled data and of `params.yaml` (LightGBM only, fewer boosting rounds and
# calibration folds, one thread), an MLflow store in the workspace (`MLFLOW_TRACKING_URI`),
# the pipeline's stages as `dvc repro` runs them, and the promotion gate.

# %%
START = Path.cwd()
REPO = next(p for p in (START, *START.parents) if (p / "dvc.yaml").is_file())
workspace = Path(tempfile.mkdtemp(prefix="riskgrade-engineer-"))
shutil.copytree(REPO / "data" / "external", workspace / "data" / "external")

params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
params["models"]["lightgbm"]["n_estimators"] = 100
params["calibration"]["folds"] = 3
params["runtime"]["n_jobs"] = 1
params["train"]["models"] = ["lightgbm"]
(workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")

os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workspace / 'mlflow.db'}"
os.chdir(workspace)  # data.source and the stages' paths are relative to the project
config = load_config(Path("params.yaml"))
schema = config.data

RAW = Path(f"data/raw/{schema.name}.{schema.format}")
DATASET = Path("data/processed/dataset.parquet")
SPLIT = Path("data/processed/split")
ARTIFACTS, REPORTS = Path("data/artifacts"), Path("data/reports")
RECORD = ARTIFACTS / "registered.json"

ingest.run(schema, RAW)
validate.run(schema, RAW, DATASET, REPORTS / "validation.json", [])
split.run(schema, config.split, config.seed, DATASET, SPLIT)
train.run(
    config, "lightgbm", SPLIT / "train.parquet", RAW, ARTIFACTS / "lightgbm/run.json", workspace
)
evaluate.run(config, ARTIFACTS / "lightgbm/run.json", SPLIT, REPORTS / "lightgbm", workspace)
register.run(config, ARTIFACTS, REPORTS, RECORD, workspace)
decision = promotion.run(config, None, False, None, (SPLIT, RECORD), workspace)
assert decision.action == "promoted", f"the champion was {decision.action}"
print(f"workspace: {workspace}")

# %% [markdown]
# Commands an engineer would type in a shell run through `subprocess`, with this notebook's
# environment; their output is printed as the terminal would show it.

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
# ## 1. Start the service
#
# The service reads its settings from `RISKGRADE_*` variables. In `production` mode it
# refuses to start without API keys and a real secret for hashing customer ids; keys are
# given as SHA-256 digests (`riskgrade api-key` makes one, as done here in Python). Every
# decision is written to the audit store before the answer is sent; batch runs and alerts go
# to the same database. The model name and MLflow store come from `params.yaml` and
# `MLFLOW_TRACKING_URI`.
#
# The service runs until the last section of this notebook stops it; if the notebook ends
# early (a failing cell ends the kernel), an exit handler stops it.

# %% tags=["serve"]
api_key = secrets.token_urlsafe(32)
os.environ |= {
    "RISKGRADE_MODE": "production",
    "RISKGRADE_API_KEYS": json.dumps(
        [{"name": "notebook", "sha256": hash_api_key(api_key), "roles": ["scorer", "admin"]}]
    ),
    "RISKGRADE_CUSTOMER_ID_SECRET": secrets.token_urlsafe(32),
    "RISKGRADE_AUDIT_URL": f"sqlite:///{workspace / 'audit.db'}",
}
with socket.socket() as probe:  # a free port
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
service_log = workspace / "service.log"
with service_log.open("w") as log:
    service = subprocess.Popen(
        [RISKGRADE, "serve", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
    )


def stop_service() -> None:
    """SIGTERM, then wait: the service finishes requests in flight and closes its stores."""
    if service.poll() is None:
        service.terminate()
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()


atexit.register(stop_service)
base_url = f"http://127.0.0.1:{port}"
http = httpx.Client(base_url=base_url, headers={"X-API-Key": api_key}, timeout=30)
try:
    deadline = time.monotonic() + 180  # the service imports and checks the model first
    while True:
        if service.poll() is not None:
            raise RuntimeError(f"riskgrade serve exited:\n{service_log.read_text()}")
        try:
            if http.get("/readyz").status_code == 200:
                break
        except httpx.TransportError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise TimeoutError(f"riskgrade serve not ready:\n{service_log.read_text()}")
        time.sleep(0.5)
except BaseException:
    stop_service()
    raise
print(service_log.read_text().strip())
info = http.get("/v1/model").json()
print(
    f"GET /v1/model: {info['name']} v{info['version']} (@{info['alias']}, {info['model_family']})"
)

# %% [markdown]
# ## 2. Score customers over HTTP
#
# `POST /v1/score` takes one customer's raw characteristics (as the application form has
# them) and an optional customer id, which is stored only as a keyed hash. The answer has the
# calibrated PD, the credit score, the rating grade, the risk tier, the main reasons and the
# tier's credit strategy. Customers here are the test split's, with their row ids.

# %% tags=["score-http"]
customers = pd.read_parquet(SPLIT / "test.parquet")
ids = customers[schema.id_name].astype(str).tolist()
records = json.loads(customers[schema.features].to_json(orient="records"))
response = http.post("/v1/score", json={"customer_id": ids[0], "customer": records[0]})
print(f"POST /v1/score -> HTTP {response.status_code}")
answer = response.json()
print(
    f"customer {ids[0]}: PD {answer['pd']:.1%}, score {answer['score']}, grade "
    f"{answer['grade']}, tier {answer['tier']}"
)
for reason in answer["reasons"]:
    print(f"  - {reason['sentence']} (+{reason['contribution']:.2f} log-odds)")
print("strategy:", answer["strategy"]["actions"])

# %% [markdown]
# `POST /v1/score/batch` scores up to `RISKGRADE_BATCH_LIMIT` customers in one request; a
# request that breaks the input contract gets a 422 naming the field and what was expected,
# never a 500.

# %% tags=["batch-http"]
items = [{"customer_id": i, "customer": c} for i, c in zip(ids[:20], records[:20], strict=True)]
batch = http.post("/v1/score/batch", json={"reason_codes": False, "items": items})
print(f"POST /v1/score/batch -> HTTP {batch.status_code}")
results = pd.DataFrame(batch.json()["results"])[["pd", "score", "grade", "tier"]]
display(results.assign(customer_id=ids[:20]).head(10))
bad = dict(records[0], duration_in_month="twelve")
refused = http.post("/v1/score", json={"customer": bad})
print(f"a text duration -> HTTP {refused.status_code}: {refused.json()}")

# %% [markdown]
# ## 3. Batch-score a file, twice
#
# Portfolio reviews score whole files with `riskgrade score` (the service's fast path, no
# HTTP). With an id column each run is stored -- hashed ids only -- and compared with each
# customer's last scored state: a worse tier, a score drop, a PD reaching the ceiling or an
# entry into the high tier raises an alert (thresholds: `monitoring.alerts`).
#
# The second file is the same customers a month later, some of whom now borrow more, for
# longer, with an overdrawn checking account.

# %% tags=["batch-file"]
month_1, month_2 = Path("customers_month_1.parquet"), Path("customers_month_2.parquet")
customers.to_parquet(month_1)
worse = customers.copy()
changed = worse.sample(frac=0.25, random_state=config.seed).index
worse.loc[changed, "status_of_existing_checking_account"] = "... < 0 DM"
worse.loc[changed, "credit_amount"] *= 2
worse.loc[changed, "duration_in_month"] += 12
worse.to_parquet(month_2)
id_column = ["--id-column", schema.id_name]
riskgrade("score", "--input", str(month_1), "--output", "scored_month_1.parquet", *id_column)
riskgrade("score", "--input", str(month_2), "--output", "scored_month_2.parquet", *id_column)
display(pd.read_parquet("scored_month_2.parquet").head())

# %% [markdown]
# ## 4. Alerts and a customer report
#
# `riskgrade alerts` lists the alerts; with `--ids-from` it finds each alert's customer id by
# hashing the ids of a file the risk officer holds, in memory (the store never sees them).

# %% tags=["alerts"]
riskgrade("alerts", "--ids-from", str(month_2), *id_column, "--csv", "alerts.csv", "--limit", "10")
alerts = pd.read_csv("alerts.csv", dtype={"customer_id": str})
display(alerts.groupby(["alert", "severity"]).size().rename("alerts").to_frame())

# %% [markdown]
# The customer report is what an account manager opens: the latest score, tier and strategy,
# and every recorded scoring of the customer (over HTTP and in batch runs), oldest first.
# Here: a customer whose score dropped between the two runs.

# %% tags=["customer-report"]
drops = alerts[alerts["alert"] == "score_drop"].sort_values("severity")  # high first
flagged = drops.iloc[0]["customer_id"]
print(f"alert: {drops.iloc[0]['detail']}")
page = http.get(f"/v1/customers/{flagged}/report")
print(f"GET /v1/customers/{flagged}/report -> HTTP {page.status_code}")
customer_report = page.json()
print(
    f"score {customer_report['score']}, tier {customer_report['tier']}: "
    f"{', '.join(customer_report['recommended_actions'])}"
)
display(pd.DataFrame(customer_report["history"]))

# %% [markdown]
# ## 5. Monitoring a shifted population
#
# `riskgrade monitor` compares a current sample with a reference (here the training split):
# PSI of the score and of every characteristic, tier shift, missing and out-of-range rates,
# and -- since this sample has outcomes -- AUC decay and the calibration tests. It exits 2
# when a red (`act`) threshold of `params.yaml` (`monitoring`) is crossed, so a scheduler can
# act on it. The current sample is the test split with larger, longer loans and more
# overdrawn accounts.

# %% tags=["monitor"]
shifted = customers.copy()
moved = shifted.sample(frac=0.4, random_state=config.seed).index
shifted.loc[moved, "credit_amount"] *= 2
shifted.loc[moved, "duration_in_month"] += 18
shifted.loc[moved, "status_of_existing_checking_account"] = "... < 0 DM"
shifted.to_parquet("current.parquet")
monitoring = riskgrade(
    "monitor",
    "--reference",
    str(SPLIT / "train.parquet"),
    "--current",
    "current.parquet",
    "--out-dir",
    "data/reports/monitoring",
    ok=(0, 2),
)
result = json.loads(Path("data/reports/monitoring/monitoring.json").read_text(encoding="utf-8"))
status, psi = result["status"], result["score_psi"]
print(f"status {status} (exit code {monitoring.returncode}); score PSI {psi:.3f}")
display(pd.DataFrame(result["tiers"]).round(3))

# %% [markdown]
# The characteristics that moved, against the PSI bands (`monitoring.psi_watch`,
# `psi_act`):

# %% tags=["psi-plot"]
features = pd.DataFrame(result["features"]).sort_values("psi")
figure, ax = new_chart((7, 5), ("PSI", ""), "Characteristic stability: training vs current")
ax.barh(features["feature"], features["psi"])
ax.axvline(config.monitoring.psi_watch, color="orange", linestyle="--", label="watch")
ax.axvline(config.monitoring.psi_act, color="red", linestyle="--", label="act")
ax.legend(loc="lower right")
figure.set_layout_engine("constrained")
display(figure)

# %% [markdown]
# ## 6. Stop the service
#
# SIGTERM: requests in flight get `RISKGRADE_SHUTDOWN_TIMEOUT_SECONDS` to finish. Then the
# workspace is removed (skip the last lines to keep it: the audit store, the scored files and
# the monitoring report are in it).

# %% tags=["stop"]
http.close()
stop_service()
print(f"service stopped (exit code {service.returncode})")
os.chdir(START)
shutil.rmtree(workspace)
print(f"removed {workspace}")
