"""Quality reports and the `recplat quality` commands, read the way users read them:
in a terminal, and rendered by headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from recplat.cli.context import PlatformContext
from recplat.cli.main import app
from recplat.events.ingest import ingest
from recplat.events.synthetic import SyntheticData
from recplat.features.build import build_features
from recplat.io.parquet import read_parquet
from recplat.quality.report import write_index, write_run_page
from typer.testing import CliRunner

from tests.conftest import make_settings

pytestmark = pytest.mark.data

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def ctx(
    tmp_path_factory: pytest.TempPathFactory, tiny_data: SyntheticData
) -> Iterator[PlatformContext]:
    settings = make_settings(tmp_path_factory.mktemp("reports"))
    context = PlatformContext(settings=settings)
    ingest(
        events=tiny_data.events,
        users=tiny_data.users,
        items=tiny_data.items,
        settings=settings,
        gate=context.gate,
    )
    build_features(settings=settings, gate=context.gate)
    yield context
    context.metadata.dispose()


def _cli(ctx: PlatformContext, *args: str) -> tuple[int, str]:
    s = ctx.settings
    result = CliRunner().invoke(
        app, [*args, "--feature-repo", str(s.feature_repo), "--home", str(s.home)]
    )
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def bad_sequences(ctx: PlatformContext, tmp_path_factory: pytest.TempPathFactory) -> Path:
    table = read_parquet(ctx.settings.offline_dir / "user_sequence.parquet")
    table["hist_timestamps"] = table["hist_timestamps"].map(lambda v: list(v)[::-1])
    path = tmp_path_factory.mktemp("bad") / "user_sequence.parquet"
    table.to_parquet(path)
    return path


def test_validate_list_show_from_the_command_line(
    ctx: PlatformContext, bad_sequences: Path
) -> None:
    code, out = _cli(ctx, "quality", "validate", "events")
    assert code == 0, out
    run_id = int(re.search(r"^\s*(\d+)\s.*events\s+manual\s+pass", out, re.M).group(1))  # type: ignore[union-attr]
    assert Path(re.search(r"report: (\S+)", out).group(1)).is_file()  # type: ignore[union-attr]

    code, out = _cli(ctx, "quality", "validate", "user_sequence", "--file", str(bad_sequences))
    assert code == 1
    assert "expect_column_values_to_be_in_set on column 'unsorted_steps'" in out
    assert "quarantined in" in out

    code, out = _cli(ctx, "quality", "list", "--failed")
    assert code == 0 and "user_sequence" in out and "FAIL" in out
    assert "events" not in out.split("validation runs", 1)[1].split("run #", 1)[0]

    code, out = _cli(ctx, "quality", "show", str(run_id))
    assert code == 0 and "key statistics" in out and "clicked" in out and "device shares" in out

    code, out = _cli(ctx, "quality", "show", "99999")
    assert code == 1 and "no validation run 99999" in out


def test_index_and_run_pages_are_self_contained(ctx: PlatformContext, bad_sequences: Path) -> None:
    _cli(ctx, "quality", "validate", "user_sequence", "--file", str(bad_sequences))
    failed = next(r for r in ctx.metadata.validations() if not r.success)
    index = write_index(metadata=ctx.metadata, root=ctx.settings.reports_dir)
    html = index.read_text()
    for dataset in ("events", "user_profile", "item_attributes", "user_sequence"):
        assert dataset in html
    assert "datasets failing" in html
    page = write_run_page(metadata=ctx.metadata, root=ctx.settings.reports_dir, run_id=failed.id)
    text = page.read_text()
    assert "unsorted_steps" in text and "FAIL" in text and "Rejected" in text
    assert "data:image/png;base64," in text, "the trend chart is inline"
    # Opens from disk with no network: nothing is fetched from elsewhere.
    assert not re.search(r"(src|href)=['\"]https?://", text)
    gx_page = page.parent / "gx.html"
    assert failed.report_path == str(gx_page) and "unsorted_steps" in gx_page.read_text()


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium)"
)
def test_report_renders_in_headless_chromium(
    ctx: PlatformContext, tmp_path: Path, bad_sequences: Path
) -> None:
    import matplotlib.image

    _cli(ctx, "quality", "validate", "user_sequence", "--file", str(bad_sequences))
    failed = next(r for r in ctx.metadata.validations() if not r.success)
    page = write_run_page(metadata=ctx.metadata, root=ctx.settings.reports_dir, run_id=failed.id)
    flags = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        # No network: the page must render from disk alone.
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    url = page.resolve().as_uri()
    dom = subprocess.run(
        [*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert f"Validation run #{failed.id}: user_sequence" in dom
    assert "FAIL" in dom and "unsorted_steps" in dom and "Latest run of every dataset" in dom

    shot = tmp_path / "report.png"
    subprocess.run(
        [*flags, "--window-size=1200,1600", f"--screenshot={shot}", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (1600, 1200)
    # A real page: not blank, and the red FAIL badge (#cf222e) is on it.
    assert pixels[..., :3].std() > 0.05
    red = (
        (abs(pixels[..., 0] - 0xCF / 255) < 0.05) & (pixels[..., 1] < 0.25) & (pixels[..., 2] < 0.3)
    )
    assert red.sum() > 200


def test_old_metadata_database_gains_the_new_columns(tmp_path: Path) -> None:
    import sqlite3

    from recplat.registry.store import MetadataStore

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE validation_runs (id INTEGER PRIMARY KEY, dataset VARCHAR(100), "
            "suite VARCHAR(100), suite_version INTEGER, success BOOLEAN, rows INTEGER, "
            "failed_expectations INTEGER, seconds FLOAT, summary JSON, "
            "quarantine_path VARCHAR(500), created_at DATETIME)"
        )
        db.execute(
            "INSERT INTO validation_runs VALUES (1, 'events', 'events', 1, 1, 10, 0, 0.1, "
            "'{\"failures\": []}', NULL, '2026-01-01 00:00:00')"
        )
    store = MetadataStore(url=f"sqlite:///{path}")
    (old,) = store.validations()
    assert old.dataset == "events" and old.accepted_failures is None and old.stage is None
    new = store.record_validation(
        summary={
            "dataset": "events",
            "suite": "events",
            "suite_version": 2,
            "success": True,
            "rows": 5,
            "failed": 0,
            "seconds": 0.1,
            "failures": [],
        },
        quarantine_path=None,
        stage="ingest",
    )
    assert store.last_accepted(baseline_key="events").id == new.id  # type: ignore[union-attr]
    store.dispose()
    assert isinstance(pd.Timestamp(old.created_at), pd.Timestamp)
