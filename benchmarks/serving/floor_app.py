"""The HTTP floor of the serving benchmark: a bare FastAPI endpoint returning a constant."""

from fastapi import FastAPI
from fastapi.responses import Response

app = FastAPI()
BODY = b'{"pd": 0.1, "score": 650, "tier": "low"}'


@app.post("/v1/score")
async def score() -> Response:
    return Response(BODY, media_type="application/json")


@app.get("/healthz")
async def healthz() -> Response:
    return Response(b'{"status": "ok"}', media_type="application/json")
