"""The registry of model families: one list that config, DVC, dispatch and loading agree on."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from experiments.config import ProjectConfig
from features.schema import DatasetSchema
from models.contract.pyfunc import TRUSTED_TYPES
from models.explain.explanation import explain
from models.factory import build_model_pipeline
from models.families.registry import FAMILIES, family_of, family_of_config, get_family
from models.fastpath.compiled import NotCompiledError, columns_from_records, compile_pipeline
from models.fastpath.uncompiled import PipelineScorer


def test_bundled_params_and_dvc_cover_every_family(
    project_config: ProjectConfig, repo_root: Path
) -> None:
    """Every family trains by default, and the register stage waits for each one's run and
    metrics (DVC cannot expand train.models into deps, so they are listed)."""
    assert set(project_config.train.models) == set(FAMILIES)
    raw = yaml.safe_load((repo_root / "params.yaml").read_text())
    assert set(raw["models"]) == set(FAMILIES)
    deps = yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]["register"]["deps"]
    for name in FAMILIES:
        assert f"data/artifacts/{name}/run.json" in deps, name
        assert f"data/reports/{name}/metrics.json" in deps, name


def test_unknown_family_names_the_known_ones() -> None:
    known = r"known families: \['lightgbm', 'logistic', 'scorecard'\]"
    with pytest.raises(ValueError, match=known):
        get_family("xgboost")


@pytest.fixture(scope="module")
def fitted(
    project_config: ProjectConfig, german_credit: pd.DataFrame
) -> dict[str, tuple[object, pd.DataFrame]]:
    """One small fitted pipeline per family on 300 German Credit rows."""
    schema: DatasetSchema = project_config.data
    rows = german_credit.head(300)
    out = {}
    for name in FAMILIES:
        config = project_config.models.get(name)
        pipeline = build_model_pipeline(schema, project_config.features, config, 0)
        pipeline.fit(rows[schema.features], rows[schema.target])
        out[name] = (pipeline, rows[schema.features])
    return out


def test_each_fitted_pipeline_belongs_to_exactly_its_family(
    fitted: dict[str, tuple[object, pd.DataFrame]], project_config: ProjectConfig
) -> None:
    for name, (pipeline, _) in fitted.items():
        owners = [
            f.name
            for f in FAMILIES.values()
            if f.owns(pipeline.named_steps["features"].named_steps["encode"],  # type: ignore[attr-defined]
                      pipeline.named_steps["model"])  # type: ignore[attr-defined]
        ]  # fmt: skip
        assert owners == [name]
        assert family_of(pipeline).name == name
        assert family_of_config(project_config.models.get(name)).name == name


def test_every_family_type_is_trusted_when_loading() -> None:
    for family in FAMILIES.values():
        assert set(family.trusted_types) <= set(TRUSTED_TYPES), family.name


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_the_pipeline_itself_scores_like_the_fast_path(
    name: str, fitted: dict[str, tuple[object, pd.DataFrame]]
) -> None:
    """A family without a compiler is served through ``PipelineScorer``: same PD and
    contributions as the compiled fast path of a family that has one."""
    pipeline, rows = fitted[name]
    family = get_family(name)
    baseline = family.baseline(pipeline, rows) if family.baseline else None
    compiled = compile_pipeline(pipeline, baseline)  # type: ignore[arg-type]
    categorical = list(compiled.categories)
    slow = PipelineScorer(pipeline, baseline, categorical, "test")
    records = [dict(r) for r in rows.head(40).to_dict("records")]
    columns = columns_from_records(records, compiled.raw_columns, compiled.categories)
    fast, served = compiled.predict(columns, True), slow.predict(columns, True)
    assert np.max(np.abs(fast.pd - served.pd)) < 1e-9
    assert fast.contributions is not None and served.contributions is not None
    assert np.max(np.abs(fast.contributions - served.contributions)) < 1e-9
    one = slow.predict_record(records[0], contributions=True)
    assert one.pd[0] == pytest.approx(fast.pd[0], abs=1e-12)
    assert slow.method == explain(pipeline, rows.head(1), baseline).method  # type: ignore[arg-type]


def test_a_family_without_a_compiler_is_not_compiled(
    fitted: dict[str, tuple[object, pd.DataFrame]], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, _ = fitted["scorecard"]
    monkeypatch.setitem(FAMILIES, "scorecard", replace(FAMILIES["scorecard"], compile=None))
    with pytest.raises(NotCompiledError, match="scorecard family has no compiled fast path"):
        compile_pipeline(pipeline)  # type: ignore[arg-type]
