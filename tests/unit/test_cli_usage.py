"""Usage errors of the CLI: exit 2 with the reason, nothing written."""

from pathlib import Path

from recplat.cli.main import app
from typer.testing import CliRunner


def test_ingest_of_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    missing = tmp_path / "nope.parquet"
    result = CliRunner().invoke(
        app,
        ["data", "ingest", str(missing), "--home", str(home)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 2, result.output
    assert "no such file" in result.output and "nope.parquet" in result.output
    assert "allow-failures" not in result.output  # not treated as a bad batch
    assert not (home / "quarantine").exists()


def test_ingest_of_a_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["data", "ingest", str(tmp_path), "--home", str(tmp_path / "home")],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "not a file" in result.output
