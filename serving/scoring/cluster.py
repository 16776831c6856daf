"""The Dask side of partitioned scoring: a cluster (``LocalCluster`` or an existing scheduler),
one task per partition, and a clean stop. Imported only when a scheduler is given, so the
service and the plain CLI never import Dask.

Workers load the version themselves from MLflow (``partitioned.cached_model``, once per worker
process), so tasks carry a small ``ModelRef``, never a pickled model. A ``LocalCluster`` has
single-threaded workers (each scores one partition at a time, LightGBM with one thread) started
with ``OMP_WAIT_POLICY=PASSIVE``: idle OpenMP threads would otherwise spin on the cores the
other workers need.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import dask
from distributed import Client, LocalCluster, as_completed

from serving.scoring.partitioned import (
    ABORTED,
    ModelRef,
    Partition,
    PartitionResult,
    Progress,
    SchedulerError,
    ScoringOptions,
    score_partition,
)

WORKER_ENVIRONMENT = {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"}
CONNECT_TIMEOUT_SECONDS = 10
STOP_TIMEOUT_SECONDS = 60  # a running partition stops at its next chunk (abort marker)


@contextmanager
def dask_client(scheduler: str, workers: int, processes: bool = True) -> Iterator[Client]:
    """A client of a new ``LocalCluster`` (``scheduler="local"``: ``workers`` single-threaded
    workers, no dashboard, no fixed port) or of the scheduler at the address ``scheduler``;
    closed after."""
    if scheduler == "local":
        with dask.config.set({f"distributed.nanny.pre-spawn-environ.{k}": v
                              for k, v in WORKER_ENVIRONMENT.items()}):  # fmt: skip
            try:
                cluster = LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=processes,
                    dashboard_address=":0",  # its HTTP server runs anyway: any free port
                    scheduler_kwargs={"dashboard": False},
                    silence_logs=logging.ERROR,
                )
            except Exception as error:
                raise SchedulerError(
                    f"cannot start a local Dask cluster of {workers} worker(s): "
                    f"{type(error).__name__}: {error}"
                ) from None
        with cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_SECONDS)
    except (OSError, TimeoutError, ValueError) as error:
        raise SchedulerError(
            f"cannot reach the Dask scheduler at {scheduler} ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else 'no answer'}); start it (`dask "
            "scheduler`, then `dask worker <address>` on each machine) or use --scheduler local"
        ) from None
    with client:
        yield client


def run_on_cluster(
    ref: ModelRef,
    jobs: Sequence[Partition],
    options: ScoringOptions,
    scheduler: str,
    workers: int,
    processes: bool,
    watch: tuple[Progress | None, Callable[[PartitionResult], None] | None] = (None, None),
) -> list[PartitionResult]:
    """Score ``jobs`` on the cluster, one task each; results in job order. ``watch``: called
    with each partition's rows and result as it finishes. At the first failure (or Ctrl-C,
    SIGTERM) the other tasks are stopped before the error goes on."""
    progress, finished = watch
    with dask_client(scheduler, workers, processes) as client:
        token = secrets.token_hex(6)
        futures = [
            client.submit(score_partition, ref, job, options, key=f"riskgrade-{token}-{job.index}")
            for job in jobs
        ]
        results: dict[int, PartitionResult] = {}
        try:
            for future in as_completed(futures):
                result: PartitionResult = future.result()
                results[result.index] = result
                if progress is not None:
                    progress(result.rows)
                if finished is not None:
                    finished(result)
        except BaseException:
            stop_tasks(client, futures, jobs)
            raise
    return [results[job.index] for job in jobs]


def stop_tasks(client: Client, futures: Sequence[Any], jobs: Sequence[Partition]) -> None:
    """Cancel the run's tasks and wait (bounded) until none is running anywhere, so none
    writes into the temporary folder after it is removed: running ones see the abort marker
    at their next chunk."""
    if jobs:
        with suppress(OSError):
            (jobs[0].folder / ABORTED).touch()
    keys = {future.key for future in futures}
    try:
        client.cancel(list(futures))
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            running = client.run(running_keys)
            if not keys & {key for found in running.values() for key in found}:
                return
            time.sleep(0.2)
    except Exception:  # the scheduler is gone: nothing of ours runs there any more
        return


def running_keys(dask_worker: Any) -> list[str]:
    """Keys of the tasks occupying a worker's threads, cancelled ones included (run on each
    worker by ``client.run``)."""
    return [str(task.key) for task in dask_worker.state.all_running_tasks]
