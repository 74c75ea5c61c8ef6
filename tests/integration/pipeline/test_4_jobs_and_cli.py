"""Bad batches, the Feast CLI, failed and stopped runs resuming, lineage, the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from recplat.events.ingest import ingest
from recplat.events.synthetic import GeneratorConfig
from recplat.quality.gate import DataQualityError
from recplat.training.options import TrainOptions
from recplat.training.ray_driver import train_model

from tests.integration.pipeline.conftest import Pipeline

pytestmark = pytest.mark.integration


def test_bad_batch_is_stopped_and_the_online_store_is_untouched(pipeline: Pipeline) -> None:
    settings = pipeline.ctx.settings
    online_db = settings.data_dir / "online_store.db"
    watched = [online_db, settings.events_path, *settings.offline_dir.glob("*.parquet")]
    before = {p: p.read_bytes() for p in watched}
    from recplat.events.synthetic import generate

    data = generate(GeneratorConfig(users=20, items=10, impressions=200, seed=1))
    bad = data.events.assign(user_id=data.events["user_id"].where(data.events.index % 7 != 0))
    with pytest.raises(
        DataQualityError, match="expect_column_values_to_not_be_null on column 'user_id'"
    ):
        ingest(
            events=bad,
            users=data.users,
            items=data.items,
            settings=settings,
            gate=pipeline.ctx.gate,
        )
    assert {p: p.read_bytes() for p in watched} == before


def test_feast_cli_applies_the_repo(pipeline: Pipeline) -> None:
    feast = Path(sys.executable).with_name("feast")
    repo = pipeline.ctx.settings.feature_repo
    out = subprocess.run(
        [str(feast), "-c", str(repo), "apply"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    listed = subprocess.run(
        [str(feast), "-c", str(repo), "feature-views", "list"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    for view in ("user_profile", "item_attributes", "user_sequence"):
        assert view in listed.stdout


def test_a_worker_failure_resumes_from_the_last_checkpoint(pipeline: Pipeline) -> None:
    """Ray Train restarts the worker group after an injected failure; the run finishes."""
    options = TrainOptions(
        model_name="embedding_mlp",
        epochs=2,
        batch_size=256,
        threads=1,
        fail_at_epoch=1,
        max_failures=1,
    )
    outcome = train_model(
        settings=pipeline.ctx.settings,
        data=pipeline.data,
        options=options,
        metadata=pipeline.ctx.metadata,
    )
    history = outcome.metrics["history"]
    # Epoch 0 ran before the failure and was restored from its checkpoint, not rerun.
    assert [h["epoch"] for h in history] == [0, 1]
    assert outcome.metrics["epochs_run"] == 2 and 0.5 < outcome.metrics["test_auc"] <= 1.0
    assert outcome.metrics["resumes"] == 1  # the failure happened and was recovered from
    run = next(r for r in pipeline.ctx.metadata.runs() if r.id == outcome.run_id)
    assert run.status == "finished"


def test_a_stopped_run_resumes_from_its_checkpoint_as_a_new_run(pipeline: Pipeline) -> None:
    """`recplat train --resume RUN`: a run that died (no restarts left) continues where it was."""
    from recplat.training.ray_driver import resume_run

    metadata = pipeline.ctx.metadata
    options = TrainOptions(
        model_name="embedding_mlp",
        epochs=2,
        batch_size=256,
        threads=1,
        fail_at_epoch=1,
        max_failures=0,
    )
    with pytest.raises(Exception, match="injected failure"):
        train_model(
            settings=pipeline.ctx.settings, data=pipeline.data, options=options, metadata=metadata
        )
    stopped = metadata.runs(limit=1)[0]
    assert stopped.status == "failed"
    outcome = resume_run(
        settings=pipeline.ctx.settings, data=pipeline.data, metadata=metadata, run_id=stopped.id
    )
    # Epoch 0 came from the stopped run's checkpoint; only epoch 1 ran now.
    assert [h["epoch"] for h in outcome.metrics["history"]] == [0, 1]
    assert outcome.metrics["resumes"] == 1
    resumed = metadata.run(run_id=outcome.run_id)
    assert resumed.status == "finished" and resumed.lineage is not None
    assert resumed.lineage["resumed_from_run"] == stopped.id
    with pytest.raises(ValueError, match="finished already"):
        resume_run(
            settings=pipeline.ctx.settings,
            data=pipeline.data,
            metadata=metadata,
            run_id=outcome.run_id,
        )


def test_model_versions_carry_their_lineage(pipeline: Pipeline) -> None:
    version = pipeline.ctx.metadata.resolve(model_name="din")
    lineage = version.lineage or {}
    assert lineage["feature_service"] == "din_ranker_v1"
    for feature in (
        "user_sequence:hist_item_ids",
        "user_sequence:hist_behaviour_types",
        "user_activity:user_clicks_7d",
        "item_stats:item_ctr_30d",
        "context_features:seconds_since_last_event",
    ):
        assert feature in lineage["features"], feature
    assert lineage["training_set_validation_run_id"] == pipeline.data.validation_run_id
    assert (
        pipeline.ctx.metadata.validation(run_id=lineage["training_set_validation_run_id"]).dataset
        == "training_set"
    )
    first, last = lineage["data_time_range"]
    assert first < last and first.startswith("2026-01")
    assert lineage["rows"]["train"] == len(pipeline.data.frames["train"])
    assert len(lineage["git_sha"]) == 40 or lineage["git_sha"] == "unknown"
    assert lineage["ray_job_id"] and lineage["run_id"] == pipeline.outcomes["din"].run_id
    assert Path(lineage["artifact_path"]).is_dir()


def test_runs_and_models_from_the_command_line(pipeline: Pipeline, tmp_path: Path) -> None:
    from recplat.cli.main import app
    from typer.testing import CliRunner

    s = pipeline.ctx.settings
    where = ["--feature-repo", str(s.feature_repo), "--home", str(s.home)]

    def cli(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, [*args, *where], env={"COLUMNS": "160"})
        return result.exit_code, result.output

    run_id = pipeline.outcomes["din"].run_id
    code, out = cli("runs", "list")
    assert code == 0 and "din" in out and "finished" in out
    code, out = cli("runs", "show", str(run_id))
    assert code == 0 and "per epoch" in out and "git_sha" in out and "ray_job_id" in out
    code, out = cli("models", "show", "din")
    assert code == 0 and "production" in out and "din_ranker_v1" in out
    code, out = cli("runs", "show", "9999")
    assert code == 1 and "no training run 9999" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: din\noptimizer: {lr: fast}\n")
    code, out = cli("train", "--config", str(bad))
    assert code == 2 and "optimizer.lr: expected float, got str 'fast'" in out


def test_ctrl_c_leaves_a_run_that_resumes(pipeline: Pipeline, tmp_path: Path) -> None:
    """Ctrl-C (SIGINT) during `recplat train` records `interrupted`; `--resume` finishes it."""
    import os
    import signal

    from recplat.cli.main import app
    from typer.testing import CliRunner

    s = pipeline.ctx.settings
    where = ["--feature-repo", str(s.feature_repo), "--home", str(s.home)]
    config = tmp_path / "long.yaml"
    config.write_text(
        "model: embedding_mlp\ntrain: {epochs: 200, patience: 200, batch_size: 256, threads: 1}\n"
    )
    child = subprocess.Popen(
        [str(Path(sys.executable).parent / "recplat"), "train", "--config", str(config), *where],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1", "COLUMNS": "160"},
    )
    assert child.stdout is not None
    seen = []
    for line in child.stdout:  # wait until the job is really training
        seen.append(line)
        if "epoch 1:" in line:
            break
    child.send_signal(signal.SIGINT)
    try:
        rest, _ = child.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        child.kill()  # never leave a stuck trainer behind to eat the CPU of later tests
        raise
    output = "".join(seen) + rest
    assert child.returncode == 130, output[-3000:]
    run_id = int(output.split("recplat train --resume ")[1].split()[0])
    stopped = pipeline.ctx.metadata.run(run_id=run_id)
    assert stopped.status == "interrupted" and stopped.model_name == "embedding_mlp"

    result = CliRunner().invoke(
        app, ["train", "--resume", str(run_id), "--epochs", "30", *where], env={"COLUMNS": "160"}
    )
    assert result.exit_code == 0, result.output
    resumed = pipeline.ctx.metadata.runs(limit=1)[0]
    assert resumed.status == "finished" and resumed.lineage is not None
    assert resumed.lineage["resumed_from_run"] == run_id
    # The interrupted epochs came from its checkpoint; the rest ran now, up to --epochs.
    assert [h["epoch"] for h in resumed.metrics["history"]] == list(range(30))
    assert resumed.metrics["resumes"] == 1
