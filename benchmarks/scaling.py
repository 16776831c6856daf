"""Scaling on one machine, on SYNTHETIC books with a known true PD (issue 15, items 4 and 5).

Run on demand (not a test; a full run takes hours on 2 cores):
    python benchmarks/scaling.py                                   # everything, default sizes
    python benchmarks/scaling.py --steps calibration train --train-sizes 100k 500k 1M
    python benchmarks/scaling.py --steps score --sizes 1M 5M --workers 1 2
    python benchmarks/scaling.py --report                          # table + PNGs from the JSON

Every book is SYNTHETIC (``benchmarks/synthetic_portfolio.py``). Steps (``--steps``):

- ``calibration``: each family's calibrated model (``models.factory.fit_credit_model``, the
  configured settings of ``params.yaml``, tuning off) trained on ``--calibration-rows``
  (default 100k) rows and read on a 200k-row holdout of other customers against the TRUE PD:
  mean PD vs mean true PD, the calibration slope (least squares of logit(true PD) on
  logit(PD): 1 when the PDs spread as the truth does), ROC AUC vs the true PD's own AUC.
- ``train``: training time and peak memory of each family vs rows (``--train-sizes``), each
  fit in a fresh process (the book drawn in it: memory counts the data, as a user's run would).
- ``score``: ``riskgrade score`` (the CLI, as users run it, with reason codes, outside a
  project: ``RISKGRADE_MODEL_NAME`` / ``RISKGRADE_TRACKING_URI``) with the LightGBM model of
  ``calibration``, registered in a temporary MLflow store, on each size (``--sizes``): one
  Parquet file in one process (``single``); once ``riskgrade score`` has ``--scheduler``
  (partitioned scoring), the same rows as a folder of 500k-row partitions in one process
  (``folder``) and on a Dask ``LocalCluster`` (``--scheduler local --dask-workers W``) for
  each ``--workers`` count (``dask``).

Peak memory is the resident memory of the whole process tree (the command, its children, the
Dask scheduler and workers), sampled every 0.1 s with psutil (``/proc`` if psutil is missing).
The machine is shared: the load average (``os.getloadavg()``) before and after is recorded
with every figure. Results accumulate in ``benchmarks/results/scaling.json`` (a re-run
replaces the figures it measures), with ``scaling.md`` (the tables and where one machine stops
being enough) and ``scaling_*.png``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic_portfolio as book

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
FAMILIES = ("lightgbm", "logistic", "scorecard")
MODEL_NAME = "scaling-synthetic"
SEEDS = {"score": 1, "train": 3, "calibration": 11, "holdout": 12}
ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "OMP_WAIT_POLICY": "PASSIVE", "DO_NOT_TRACK": "true"}


def parse_rows(text: str) -> int:
    """``100k``, ``5M``, ``2500000`` -> rows."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a row count: {text!r} (e.g. 100k, 5M, 250000)")
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def rows_label(rows: int) -> str:
    return f"{rows / 1e6:g}M" if rows >= 1_000_000 else f"{rows / 1e3:g}k"


# --- measuring ---------------------------------------------------------------------------


def tree_rss(pids: list[int]) -> int:
    """Resident bytes of the processes ``pids`` and all their descendants."""
    try:
        import psutil
    except ImportError:
        return sum(proc_tree_rss(pid) for pid in pids)
    total = 0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for proc in procs:
            with contextlib.suppress(psutil.Error):  # it ended meanwhile
                total += proc.memory_info().rss
    return total


def proc_tree_rss(pid: int) -> int:
    """Without psutil: VmRSS of ``pid`` and its descendants from ``/proc``."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        children = " ".join(p.read_text() for p in Path(f"/proc/{pid}/task").glob("*/children"))
    except OSError:
        return 0
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    own = int(found.group(1)) * 1024 if found else 0
    return own + sum(proc_tree_rss(int(c)) for c in children.split())


class PeakMemory:
    """Samples the resident memory of process trees in a thread; ``peak`` in bytes."""

    def __init__(self, pids: list[int], every: float = 0.1) -> None:
        self.pids, self.every, self.peak = list(pids), every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pids))
            self._stop.wait(self.every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(
    command: list[str], env: dict[str, str], cwd: Path, timeout: float
) -> dict[str, Any]:
    """Run ``command``; its wall time, peak memory (its process tree), output and the load
    average before and after."""
    load_before = os.getloadavg()
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    with PeakMemory([proc.pid]) as memory:
        try:
            out, err = proc.communicate(timeout=timeout)
            status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            status = f"timeout after {timeout:.0f} s"
    return {
        "status": status,
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(memory.peak / 2**20, 1),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "stdout": out,
        "stderr_tail": "\n".join(err.strip().splitlines()[-8:]),
    }


# --- the model ---------------------------------------------------------------------------


def base_params() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    return raw


def config_for(workdir: Path) -> Any:
    """params.yaml with the SYNTHETIC book's columns and a temporary MLflow store."""
    raw = base_params()
    raw["mlflow"] = {
        "experiment": "scaling",
        "tracking_uri": f"sqlite:///{workdir / 'mlflow.db'}",
        "artifact_root": str(workdir / "mlartifacts"),
    }
    return book.project_config("synthetic.parquet", raw, seed=raw["seed"])


def fit_family(config: Any, family: str, frame: Any) -> tuple[Any, Any, float]:
    """(fitted calibrated model, policy, seconds) of one family on a SYNTHETIC frame, with
    the project's own training function and the configured settings (no tuning)."""
    from models.factory import build_calibrated_model, fit_credit_model

    schema = config.data
    model = build_calibrated_model(
        schema,
        config.features,
        config.models.get(family),
        config.calibration,
        config.seed,
        config.runtime.n_jobs,
    )
    X, y = frame[list(schema.features)], frame[schema.target].to_numpy()
    started = time.perf_counter()
    policy = fit_credit_model(model, config.scorecard, X, y, schema)
    return model, policy, time.perf_counter() - started


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def calibration_figures(pd_hat: np.ndarray, truth: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Predicted PD against the TRUE PD of the same rows (and the labels)."""
    from sklearn.metrics import roc_auc_score

    slope, intercept = np.polyfit(logit(pd_hat), logit(truth), 1)
    order = np.argsort(pd_hat)
    bins = np.array_split(order, 20)
    return {
        "mean_pd": round(float(pd_hat.mean()), 5),
        "mean_true_pd": round(float(truth.mean()), 5),
        "default_rate": round(float(y.mean()), 5),
        "calibration_slope": round(float(slope), 3),
        "calibration_intercept": round(float(intercept), 3),
        "mean_abs_pd_error": round(float(np.abs(pd_hat - truth).mean()), 5),
        "auc": round(float(roc_auc_score(y, pd_hat)), 4),
        "true_pd_auc": round(float(roc_auc_score(y, truth)), 4),
        "bins": [[float(pd_hat[b].mean()), float(truth[b].mean())] for b in bins],
    }


def calibration_step(workdir: Path, rows: int) -> dict[str, Any]:
    """Each family trained on ``rows`` SYNTHETIC rows, read against the TRUE PD of a 200k
    holdout; the LightGBM model is registered (@champion) for the scoring step."""
    config = config_for(workdir)
    train = book.generate_portfolio(rows, SEEDS["calibration"])
    holdout = book.generate_portfolio(200_000, SEEDS["holdout"])
    X_hold = holdout[list(config.data.features)]
    results: dict[str, Any] = {"train_rows": rows, "holdout_rows": len(holdout)}
    for family in FAMILIES:
        load = os.getloadavg()
        model, policy, seconds = fit_family(config, family, train)
        pd_hat = model.predict_proba(X_hold)[:, 1]
        truth, y = holdout[book.TRUTH].to_numpy(), holdout[book.TARGET].to_numpy()
        figures = calibration_figures(pd_hat, truth, y)
        results[family] = figures | {"fit_seconds": round(seconds, 1), "load_before": load}
        print(f"calibration {family}: " + ", ".join(
            f"{k} {v}" for k, v in figures.items() if k != "bins"), flush=True)  # fmt: skip
        if family == "lightgbm":
            register(config, workdir, model, policy, train[list(config.data.features)])
    return results


def register(config: Any, workdir: Path, model: Any, policy: Any, X: Any) -> None:
    """Log and register the model as @champion of ``MODEL_NAME`` in the temporary store."""
    os.environ.update(ENV)
    import mlflow
    from mlflow.tracking import MlflowClient

    from experiments.tracking import log_credit_risk_model, setup_mlflow

    setup_mlflow(config.mlflow, workdir)
    with mlflow.start_run(run_name="scaling-lightgbm"):
        info = log_credit_risk_model(model, policy, X)
    version = mlflow.register_model(info.model_uri, MODEL_NAME, tags={"model_family": "lightgbm"})
    MlflowClient(config.mlflow.tracking_uri).set_registered_model_alias(
        MODEL_NAME, "champion", version.version
    )
    print(f"registered {MODEL_NAME} v{version.version} in {config.mlflow.tracking_uri}")


# --- training curve ----------------------------------------------------------------------


def fit_one(family: str, rows: int, workdir: Path) -> None:
    """In a child process: draw ``rows`` SYNTHETIC rows, fit ``family``, print JSON."""
    config = config_for(workdir)
    frame = book.generate_portfolio(rows, SEEDS["train"])
    data_rss = tree_rss([os.getpid()])
    _, _, seconds = fit_family(config, family, frame)
    print(json.dumps({"fit_seconds": round(seconds, 2), "data_rss_mb": round(data_rss / 2**20)}))


def train_step(
    workdir: Path, sizes: list[int], families: list[str], timeout: float
) -> Iterator[dict[str, Any]]:
    """Fit time and peak memory per (family, rows); a family stops at its first failure."""
    for family in families:
        for rows in sorted(sizes):
            command = [sys.executable, __file__, "fit-one", family, str(rows), str(workdir)]
            run = run_measured(command, os.environ | ENV, ROOT, timeout)
            record = {k: v for k, v in run.items() if k != "stdout"} | {
                "family": family,
                "rows": rows,
            }
            if run["status"] == "ok":
                record |= json.loads(run["stdout"].strip().splitlines()[-1])
                record.pop("stderr_tail")
            print(f"train {family} {rows_label(rows)}: {summary_of(record)}", flush=True)
            yield record
            if run["status"] != "ok":
                break


def summary_of(record: dict[str, Any]) -> str:
    keys = ("status", "seconds", "fit_seconds", "peak_rss_mb", "rows_per_s", "load_before")
    return ", ".join(f"{k} {record[k]}" for k in keys if k in record)


# --- scoring -----------------------------------------------------------------------------


def input_book(workdir: Path, rows: int, partitioned: bool) -> Path:
    """The scoring book of ``rows`` rows: one file, or a folder of 500k-row partitions (the
    same rows: a book does not depend on its partitions)."""
    name = f"book-{rows_label(rows)}"
    path = workdir / (name if partitioned else f"{name}.parquet")
    if not path.exists():
        parts = max(2, rows // 500_000) if partitioned else 1
        book.write_portfolio(path, rows, SEEDS["score"], partitions=parts)
    return path


def score_env(workdir: Path) -> dict[str, str]:
    return (
        os.environ
        | ENV
        | {
            "RISKGRADE_MODEL_NAME": MODEL_NAME,
            "RISKGRADE_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
        }
    )


def riskgrade() -> str:
    return str(Path(sys.executable).parent / "riskgrade")


def has_scheduler_option(workdir: Path) -> bool:
    done = subprocess.run(
        [riskgrade(), "score", "--help"], cwd=workdir, env=score_env(workdir),
        capture_output=True, text=True,
    )  # fmt: skip
    return "--scheduler" in done.stdout


def score_once(
    workdir: Path, rows: int, timeout: float, partitioned: bool, options: list[str]
) -> dict[str, Any]:
    """One ``riskgrade score`` run (outside a project: workdir has no params.yaml)."""
    source = input_book(workdir, rows, partitioned)
    output = workdir / ("scored" if partitioned else "scored.parquet")
    command = [riskgrade(), "score", "--input", str(source), "--output", str(output)]
    run = run_measured([*command, "--no-record", *options], score_env(workdir), workdir, timeout)
    if output.is_dir():
        shutil.rmtree(output, ignore_errors=True)
    for path in (output, output.with_suffix(".rejects.csv")):
        path.unlink(missing_ok=True)
    reported = re.search(r"\(([\d,]+) rows/s\)", run.pop("stdout"))
    run["rows"] = rows
    run["rows_per_s"] = round(rows / run["seconds"]) if run["status"] == "ok" else None
    run["reported_rows_per_s"] = int(reported.group(1).replace(",", "")) if reported else None
    if run["status"] == "ok":
        run.pop("stderr_tail")
    return run


def score_step(
    workdir: Path, sizes: list[int], wanted: list[str], worker_counts: list[int], timeout: float
) -> Iterator[dict[str, Any]]:
    """Single process on one file; with partitions support, single process on the partition
    folder and Dask (``--scheduler local``) with each worker count; smallest size first."""
    modes: list[tuple[str, int, list[str]]] = [("single", 1, [])] if "single" in wanted else []
    if {"folder", "dask"} & set(wanted) and not has_scheduler_option(workdir):
        print("score: partitions and Dask skipped, `riskgrade score` has no --scheduler yet")
    elif {"folder", "dask"} & set(wanted):
        modes += [("folder", 1, [])] if "folder" in wanted else []
        modes += [("dask", w, ["--scheduler", "local", "--dask-workers", str(w)])
                  for w in worker_counts if "dask" in wanted]  # fmt: skip
    for mode, workers, options in modes:
        for rows in sorted(sizes):
            run = score_once(workdir, rows, timeout, mode != "single", options)
            run |= {"mode": mode, "workers": workers}
            print(f"score {mode} {workers}w {rows_label(rows)}: {summary_of(run)}", flush=True)
            yield run


# --- results -----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    try:
        import psutil

        ram = psutil.virtual_memory().total
    except ImportError:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cores": os.cpu_count(),
        "ram_gb": round(ram / 2**30, 1),
        "python": platform.python_version(),
        "note": "shared with other engineers' jobs: see load_before / load_after of each figure",
    }


def merge(old: list[dict[str, Any]], new: list[dict[str, Any]], keys: tuple[str, ...]) -> list[Any]:
    """``old`` with the records of ``new`` replacing those with the same ``keys``."""
    fresh = {tuple(r[k] for k in keys) for r in new}
    return [r for r in old if tuple(r[k] for k in keys) not in fresh] + new


# --- report ------------------------------------------------------------------------------


def ok(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("status") == "ok"]


def load_text(record: dict[str, Any]) -> str:
    return f"{record['load_before'][0]:.1f} -> {record['load_after'][0]:.1f}"


def markdown_tables(results: dict[str, Any]) -> list[str]:
    """The calibration, training and scoring tables (Markdown lines)."""
    lines = ["## Calibrated PD vs the TRUE PD (SYNTHETIC holdout)", ""]
    calibration = results.get("calibration", {})
    lines += ["| family | mean PD | mean true PD | default rate | slope | mean abs PD error "
              "| AUC | true PD's AUC | fit s |", "|---" * 9 + "|"]  # fmt: skip
    for family in FAMILIES:
        if (c := calibration.get(family)) is not None:
            lines.append(
                f"| {family} | {c['mean_pd']:.4f} | {c['mean_true_pd']:.4f} | "
                f"{c['default_rate']:.4f} | {c['calibration_slope']:.3f} | "
                f"{c['mean_abs_pd_error']:.4f} | {c['auc']:.4f} | {c['true_pd_auc']:.4f} | "
                f"{c['fit_seconds']} |"
            )
    lines += ["", "## Training (fit_credit_model: 5 cross-fitted fits + the final fit)", ""]
    lines += ["| family | rows | fit s | process s | peak RSS MB | data RSS MB | load 1-min "
              "| status |", "|---" * 8 + "|"]  # fmt: skip
    for r in sorted(results.get("training", []), key=lambda r: (r["family"], r["rows"])):
        lines.append(
            f"| {r['family']} | {rows_label(r['rows'])} | {r.get('fit_seconds', '')} | "
            f"{r['seconds']} | {r['peak_rss_mb']:,.0f} | {r.get('data_rss_mb', '')} | "
            f"{load_text(r)} | {r['status']} |"
        )
    lines += ["", "## Batch scoring (`riskgrade score`, reason codes on)", ""]
    lines += ["| mode | workers | rows | process s | rows/s end to end | rows/s scoring "
              "| peak RSS MB | load 1-min | status |", "|---" * 9 + "|"]  # fmt: skip
    for r in sorted(results.get("scoring", []), key=lambda r: (r["mode"], r["workers"], r["rows"])):
        lines.append(
            f"| {r['mode']} | {r['workers']} | {rows_label(r['rows'])} | {r['seconds']} | "
            f"{r['rows_per_s'] or '':,} | {r['reported_rows_per_s'] or ''} | "
            f"{r['peak_rss_mb']:,.0f} | {load_text(r)} | {r['status']} |"
        )
    return lines


def scoring_limits(results: dict[str, Any], window_hours: float) -> list[str]:
    """Rows one machine scores in the nightly window, per mode (its largest measured size)."""
    lines = []
    by_mode: dict[tuple[str, int], dict[str, Any]] = {}
    for r in sorted(ok(results.get("scoring", [])), key=lambda r: r["rows"]):
        by_mode[(r["mode"], r["workers"])] = r
    for (mode, workers), r in by_mode.items():
        per_window = r["rows_per_s"] * window_hours * 3600
        lines.append(
            f"- scoring, {mode} ({workers} worker(s)): {r['rows_per_s']:,} rows/s at "
            f"{rows_label(r['rows'])} rows (load {r['load_before'][0]:.1f}) -> "
            f"{per_window / 1e6:,.0f}M rows in a {window_hours:g} h window; 20M rows in "
            f"{2e7 / r['rows_per_s'] / 60:,.0f} min; peak memory {r['peak_rss_mb']:,.0f} MB "
            "(chunked: flat in the book's size)"
        )
    return lines


def training_limits(results: dict[str, Any], ram_gb: float) -> list[str]:
    """Per family: the growth of fit time with rows and the rows whose fit fills the RAM
    (a straight line through the measured peak memory)."""
    lines = []
    for family in FAMILIES:
        runs = sorted(
            (r for r in ok(results.get("training", [])) if r["family"] == family),
            key=lambda r: r["rows"],
        )
        if len(runs) < 2:
            continue
        rows = np.array([r["rows"] for r in runs], dtype=float)
        seconds = np.array([r["fit_seconds"] for r in runs], dtype=float)
        memory = np.array([r["peak_rss_mb"] for r in runs], dtype=float)
        exponent = np.polyfit(np.log(rows), np.log(seconds), 1)[0]
        per_row, fixed = np.polyfit(rows, memory, 1)
        fits_ram = (ram_gb * 1024 * 0.8 - fixed) / per_row if per_row > 0 else math.inf
        at = {n: seconds[-1] * (n / rows[-1]) ** exponent / 60 for n in (5e6, 2e7)}
        lines.append(
            f"- training, {family}: {seconds[-1]:,.0f} s at {rows_label(int(rows[-1]))} rows "
            f"(time ~ rows^{exponent:.2f}: about {at[5e6]:,.0f} min at 5M rows, "
            f"{at[2e7]:,.0f} min at 20M, at this load); {per_row * 1e6:,.0f} MB per million "
            f"rows -> 80 % of the {ram_gb:g} GB RAM at about {fits_ram / 1e6:,.0f}M rows"
        )
    return lines


def write_report(results: dict[str, Any], folder: Path, window_hours: float) -> None:
    """``scaling.md`` (tables + where one machine stops being enough) and the PNG curves."""
    ram_gb = results.get("machine", {}).get("ram_gb", 0.0)
    lines = ["# Scaling on one machine (SYNTHETIC books, benchmarks/scaling.py)", ""]
    lines += [f"{results.get('synthetic', '')}.", ""]
    lines += [f"Machine: {json.dumps(results.get('machine', {}))}.", ""]
    lines += [f"Note: {results['concurrency']}.", ""] if "concurrency" in results else []
    lines += ["Commands run:", ""]
    lines += [f"    {command}" for command in results.get("commands", [])] + [""]
    lines += markdown_tables(results)
    lines += ["", "## Where one machine stops being enough", ""]
    lines += ["Rates are for the load shown with each figure (2 shared cores): a run at a load of"
              " 12 was 3-5x slower than at 2, so a time exponent fitted across runs at different"
              " loads is a rough guide only.", ""]  # fmt: skip
    lines += scoring_limits(results, window_hours) + training_limits(results, ram_gb)
    (folder / "scaling.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    plot_curves(results, folder)
    print("\n".join(lines))


def plot_curves(results: dict[str, Any], folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scoring = ok(results.get("scoring", []))
    if scoring:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for key in sorted({(r["mode"], r["workers"]) for r in scoring}):
            runs = sorted((r for r in scoring if (r["mode"], r["workers"]) == key),
                          key=lambda r: r["rows"])  # fmt: skip
            label = "single process" if key[0] == "single" else f"Dask, {key[1]} worker(s)"
            x = [r["rows"] for r in runs]
            axes[0].plot(x, [r["rows_per_s"] for r in runs], "o-", label=label)
            axes[1].plot(x, [r["peak_rss_mb"] for r in runs], "o-", label=label)
        finish(axes, "rows scored", ("rows/s (end to end)", "peak RSS of the process tree (MB)"))
        fig.suptitle("riskgrade score on SYNTHETIC books (reason codes on)")
        fig.savefig(folder / "scaling_scoring.png", dpi=110, bbox_inches="tight")
        plt.close(fig)
    training = ok(results.get("training", []))
    if training:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for family in FAMILIES:
            runs = sorted((r for r in training if r["family"] == family), key=lambda r: r["rows"])
            if runs:
                x = [r["rows"] for r in runs]
                axes[0].plot(x, [r["fit_seconds"] for r in runs], "o-", label=family)
                axes[1].plot(x, [r["peak_rss_mb"] for r in runs], "o-", label=family)
        axes[0].set_yscale("log")
        finish(axes, "training rows", ("fit seconds (fit_credit_model)", "peak RSS (MB)"))
        fig.suptitle("Training time and memory vs rows (SYNTHETIC books)")
        fig.savefig(folder / "scaling_training.png", dpi=110, bbox_inches="tight")
        plt.close(fig)
    plot_calibration(results.get("calibration", {}), folder, plt)


def finish(axes: Any, xlabel: str, ylabels: tuple[str, str]) -> None:
    for ax, ylabel in zip(axes, ylabels, strict=True):
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()


def plot_calibration(calibration: dict[str, Any], folder: Path, plt: Any) -> None:
    families = [f for f in FAMILIES if f in calibration]
    if not families:
        return
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for family in families:
        bins = np.array(calibration[family]["bins"])
        slope = calibration[family]["calibration_slope"]
        ax.plot(bins[:, 0], bins[:, 1], "o-", ms=3, label=f"{family} (slope {slope:.2f})")
    top = max(max(b) for f in families for b in calibration[f]["bins"])
    ax.plot([0, top], [0, top], "k--", lw=1, label="perfect")
    ax.set_xlabel("mean calibrated PD (20 bins of the PD)")
    ax.set_ylabel("mean TRUE PD of the same rows")
    ax.set_title(f"SYNTHETIC holdout, trained on {rows_label(calibration['train_rows'])} rows")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.savefig(folder / "scaling_calibration.png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["fit-one"]:
        fit_one(argv[1], int(argv[2]), Path(argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", nargs="+", default=["calibration", "train", "score"],
                        choices=["calibration", "train", "score"])  # fmt: skip
    parser.add_argument(
        "--sizes", nargs="+", type=parse_rows, default=[10**6, 5 * 10**6, 2 * 10**7]
    )
    parser.add_argument("--train-sizes", nargs="+", type=parse_rows,
                        default=[10**5, 5 * 10**5, 10**6, 2 * 10**6, 5 * 10**6])  # fmt: skip
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--modes", nargs="+", default=["single", "folder", "dask"],
                        choices=["single", "folder", "dask"], help="scoring modes")  # fmt: skip
    parser.add_argument("--workers", nargs="*", type=int, default=[1, 2],
                        help="Dask worker counts (none: single process only)")  # fmt: skip
    parser.add_argument("--calibration-rows", type=parse_rows, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/riskgrade-scaling"))
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per measured run")
    parser.add_argument("--window-hours", type=float, default=6.0, help="the nightly batch window")
    parser.add_argument("--results", type=Path, default=RESULTS, help="JSON, table and PNGs")
    parser.add_argument("--report", action="store_true", help="only redraw table and PNGs")
    args = parser.parse_args(argv)
    path = args.results / "scaling.json"
    results = json.loads(path.read_text()) if path.exists() else {"scoring": [], "training": []}

    def save() -> None:
        args.results.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

    if not args.report:
        args.workdir.mkdir(parents=True, exist_ok=True)
        results["synthetic"] = book.SYNTHETIC_NOTE
        results["machine"] = machine()
        command = "python benchmarks/scaling.py " + " ".join(argv)
        results["commands"] = [*results.get("commands", []), command]
        registered = (args.workdir / "mlflow.db").exists()
        if "calibration" in args.steps or ("score" in args.steps and not registered):
            results["calibration"] = calibration_step(args.workdir, args.calibration_rows)
            save()
        if "train" in args.steps:
            for record in train_step(args.workdir, args.train_sizes, args.families, args.timeout):
                results["training"] = merge(results["training"], [record], ("family", "rows"))
                save()
        if "score" in args.steps:
            for record in score_step(
                args.workdir, args.sizes, args.modes, args.workers, args.timeout
            ):
                keys = ("mode", "workers", "rows")
                results["scoring"] = merge(results["scoring"], [record], keys)
                save()
    write_report(results, args.results, args.window_hours)
    return 0


if __name__ == "__main__":
    sys.exit(main())
