"""Where the flow's mapped tasks run: Prefect's default thread pool, or a Dask cluster.

`task_runner("dask", address)` gives prefect-dask's `DaskTaskRunner`: on an existing cluster
when `address` (`tcp://host:8786`) is given, else on a local cluster of `workers` processes with
one thread each (one process per core: torch in each worker uses one thread). With Dask,
extraction is mapped per document (as always) and embedding is mapped in batches
(`MappedEmbedder`): each worker process loads the model once (`_worker_embedder`) and embeds
the batches it is sent.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any, Literal, cast

import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner

from pipeline.config import Config
from pipeline.embed import OnBatch, Precision, SentenceTransformerEmbedder, Vectors

Runner = TaskRunner[PrefectFuture[Any]]
TaskRunnerName = Literal["default", "dask"]
TASK_RUNNERS: tuple[TaskRunnerName, ...] = ("default", "dask")
# Texts per mapped embedding task: large enough that a task's overhead (a few ms of scheduling,
# the texts and vectors sent over the wire) is small against the ~0.5 s per 32 texts it embeds.
EMBED_BATCH = 256


def task_runner(
    name: TaskRunnerName, address: str | None = None, workers: int | None = None
) -> Runner | None:
    """The task runner called `name` (None: the flow's default thread pool).

    dask: `address` is an existing scheduler (`tcp://…`); without it a local cluster of
    `workers` (default: one per core) single-threaded worker processes is started with the
    flow and closed after it."""
    if name == "default":
        if address is not None:
            raise ValueError("--dask-address needs --task-runner dask")
        return None
    import dask
    from prefect_dask.task_runners import DaskTaskRunner

    # Each document is read in a child process of its own (flows/isolation.py): a worker must
    # be allowed children, which Dask's default daemonic workers are not.
    dask.config.set({"distributed.worker.daemon": False})
    if address is not None:
        return cast(Runner, DaskTaskRunner(address=address))
    return cast(
        Runner,
        DaskTaskRunner(
            cluster_class="distributed.LocalCluster",
            cluster_kwargs={
                "n_workers": workers or len(os.sched_getaffinity(0)),
                "threads_per_worker": 1,
                "processes": True,
                "dashboard_address": None,
            },
        ),
    )


@functools.cache
def _worker_embedder(
    path: str, prompt: str, batch_size: int, max_tokens: int, precision: Precision
) -> SentenceTransformerEmbedder:
    """The embedder of this worker process, loaded once whatever the number of batches it gets.

    One thread for torch: Dask starts one single-threaded worker per core."""
    import torch

    embedder = SentenceTransformerEmbedder(
        path, prompt=prompt, batch_size=batch_size, max_tokens=max_tokens, precision=precision
    )
    _ = embedder.sentence_transformer  # load now, then fix the thread count it set
    torch.set_num_threads(1)
    return embedder


@task(name="embed-batch", cache_policy=NO_CACHE)
def embed_batch_task(texts: Sequence[str], config: Config) -> Vectors:
    """Vectors of one batch of texts, with the worker's model."""
    model = config.model
    embedder = _worker_embedder(
        str(config.resolve(model.path)),
        model.prompt,
        model.batch_size,
        model.max_tokens,
        model.precision,
    )
    return embedder.encode(list(texts))


class MappedEmbedder:
    """An `Embedder` that maps batches of texts to `embed_batch_task` on the flow's task runner.

    Its name is that of the project's embedder, so the vectors it makes are cached and found
    under the same keys; `on_batch` is told as each mapped batch finishes."""

    def __init__(self, config: Config, batch: int = EMBED_BATCH) -> None:
        from flows.theme_map import project_embedder

        self._config = config
        self._batch = batch
        self._local = project_embedder(config)

    @property
    def name(self) -> str:
        return self._local.name

    @property
    def content_hash(self) -> str:
        return self._local.content_hash

    def encode(self, texts: Sequence[str], on_batch: OnBatch | None = None) -> Vectors:
        from prefect import unmapped

        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        batches = [list(texts[i : i + self._batch]) for i in range(0, len(texts), self._batch)]
        futures = embed_batch_task.map(batches, config=unmapped(self._config))
        parts = []
        for future, batch in zip(futures, batches, strict=True):
            parts.append(future.result())
            if on_batch is not None:
                on_batch(len(batch))
        return np.vstack(parts).astype(np.float32, copy=False)
