"""``GET /v1/model``: the version being served, its lineage, metrics and input schema; whether
its files were verified against the digest recorded at registration; the answering worker."""

from __future__ import annotations

import os

from fastapi import APIRouter

from models.contract.digest import DIGEST_TAG
from serving.auth import SECURED, AnyCaller
from serving.scoring.schemas import InputColumnInfo, ModelInfo
from serving.service import ERROR_RESPONSES, ServiceDep

router = APIRouter(tags=["model"])
METRIC_PREFIXES = ("test_", "valid_")


def tag_metrics(tags: dict[str, str]) -> dict[str, float]:
    """Numeric version tags such as ``test_roc_auc`` (recorded at registration)."""
    metrics = {}
    for key, value in tags.items():
        if key.startswith(METRIC_PREFIXES):
            try:
                metrics[key] = float(value)
            except ValueError:
                continue
    return metrics


@router.get("/v1/model", response_model=ModelInfo, responses=ERROR_RESPONSES, openapi_extra=SECURED)
async def model_info(_: AnyCaller, service: ServiceDep) -> ModelInfo:
    model = service.model
    return ModelInfo(
        name=model.name,
        version=model.version,
        alias=model.alias,
        run_id=model.tags.get("run_id", model.run_id),
        model_family=model.tags.get("model_family"),
        loaded_at=model.loaded_at,
        metrics=tag_metrics(model.tags),
        data_md5=model.tags.get("data_md5"),
        tags={k: v for k, v in model.tags.items() if not k.startswith("decision.")},
        input_schema=[
            InputColumnInfo(
                name=c.name, type=c.type, required=c.required, categories=list(c.categories)
            )
            for c in model.columns
        ],
        artifacts_verified=DIGEST_TAG in model.tags,  # a version that does not match is refused
        worker=os.getpid(),
    )
