"""`recplat data import-transactions`: a log in through the events gate; a malformed or
rejected one named, quarantined, and the accepted data left as they were."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from recplat.io.parquet import read_parquet
from recplat.settings import Settings
from typer.testing import CliRunner

from tests.conftest import make_settings


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    from recplat.cli.main import app

    where = ["--feature-repo", str(settings.feature_repo), "--home", str(settings.home)]
    result = CliRunner().invoke(app, [*args, *where], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def _log(path: Path, rows: int, *, start: str = "2026-01-01") -> Path:
    stamps = pd.date_range(start, periods=rows, freq="7h", tz="UTC")
    pd.DataFrame(
        {
            "user_id": [1 + i % 9 for i in range(rows)],
            "timestamp": [t.isoformat() for t in stamps],
            "item_id": [1 + i % 5 for i in range(rows)],
            "category": [["books", "music"][(i % 5) % 2] for i in range(rows)],
            "quantity": 1,
            "amount": 9.5,
        }
    ).to_csv(path, index=False)
    return path


def test_a_log_is_accepted_and_a_bad_one_changes_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    code, out = _cli(settings, "data", "import-transactions", str(_log(tmp_path / "a.csv", 60)))
    assert code == 0, out
    assert "accepted 60 purchases, 9 users, 5 items" in out
    events = read_parquet(settings.events_path)
    purchases = read_parquet(settings.purchases_path)
    names = read_parquet(settings.categories_path)
    assert len(events) == 60 and events["event_type"].eq("purchase").all()
    assert names["category"].tolist() == ["books", "music"]

    bad = _log(tmp_path / "bad.csv", 30)
    bad.write_text(bad.read_text().replace("\n4,", "\n-4,", 1))
    code, out = _cli(settings, "data", "import-transactions", str(bad))
    assert code == 1 and "bad.csv:" in out and "field user_id" in out, out
    assert "quarantined" in out
    kept = list((settings.quarantine_dir / "transactions").glob("*/bad.csv"))
    assert len(kept) == 1

    future = _log(tmp_path / "future.csv", 30, start="2099-01-01")  # parses; the gate refuses
    code, out = _cli(settings, "data", "import-transactions", str(future))
    assert code == 1 and "event_epoch_s" in out, out
    pd.testing.assert_frame_equal(read_parquet(settings.events_path), events)
    pd.testing.assert_frame_equal(read_parquet(settings.purchases_path), purchases)
    pd.testing.assert_frame_equal(read_parquet(settings.categories_path), names)
