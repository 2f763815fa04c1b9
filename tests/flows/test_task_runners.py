"""flows/task_runners.py: the flow on a two-worker local Dask cluster gives the same bytes as on
the default runner, on the real sample corpus with the real model.

Each run has an empty embedding cache of its own, so both embed every text: the Dask run in
batches mapped to the two worker processes, each loading the model once.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows import io
from flows.cli import main
from flows.task_runners import EMBED_BATCH, task_runner
from flows.theme_map import theme_map

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
# Every table a run writes (summary.md too, once its run id is masked).
COMPARED = (*io.OUTPUT_FILES.values(), io.ERRORS_FILE)


def test_default_runner_is_prefects_and_refuses_a_dask_address() -> None:
    assert task_runner("default") is None
    with pytest.raises(ValueError, match="--dask-address needs --task-runner dask"):
        task_runner("default", "tcp://127.0.0.1:8786")


def test_dask_runner_takes_an_existing_cluster_or_starts_a_local_one() -> None:
    from prefect_dask.task_runners import DaskTaskRunner

    remote = task_runner("dask", "tcp://10.0.0.5:8786")
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://10.0.0.5:8786"
    local = task_runner("dask", workers=2)
    assert isinstance(local, DaskTaskRunner) and local.address is None
    assert local.cluster_kwargs["n_workers"] == 2
    assert local.cluster_kwargs["threads_per_worker"] == 1


def test_cli_offers_every_task_runner() -> None:
    from flows.cli import _parser
    from flows.task_runners import TASK_RUNNERS

    run = _parser()._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    (option,) = [a for a in run._actions if a.dest == "task_runner"]
    assert tuple(option.choices) == TASK_RUNNERS


def test_cli_refuses_a_dask_address_without_dask(tmp_path: Path) -> None:
    code = main(
        ["run", str(CORPUS), "--output", str(tmp_path), "--dask-address", "tcp://127.0.0.1:1"]
    )
    assert code == 3


@pytest.mark.slow
def test_two_dask_workers_give_the_bytes_of_the_default_runner(
    prefect_harness: None, tmp_path: Path
) -> None:
    config = io.load_config()
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    default = theme_map(corpus, tmp_path / "default", config, cache_dir=tmp_path / "cache-a")
    runner = task_runner("dask", workers=2)
    assert runner is not None
    dask = theme_map.with_options(task_runner=runner)(
        corpus, tmp_path / "dask", config, cache_dir=tmp_path / "cache-b", mapped_embedding=True
    )
    assert default.n_statements == dask.n_statements > 2 * EMBED_BATCH  # several batches
    for name in COMPARED:
        assert (dask.run_dir / name).read_bytes() == (default.run_dir / name).read_bytes(), name
    summaries = [
        (report.run_dir / "summary.md").read_text(encoding="utf-8").replace(report.run_dir.name, "")
        for report in (default, dask)
    ]
    assert summaries[0] == summaries[1]
    # Both embedded every text into their own cache.
    assert sorted(p.name for p in (tmp_path / "cache-a").iterdir()) == sorted(
        p.name for p in (tmp_path / "cache-b").iterdir()
    )
