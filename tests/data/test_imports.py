"""Published data sets through the real entry points: import -> gates -> feature tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from recplat.cli.context import PlatformContext
from recplat.events.amazon import write_amazon
from recplat.events.synthetic import SyntheticData
from recplat.features.build import build_features
from recplat.io.parquet import read_parquet

pytestmark = pytest.mark.data


def _cli(ctx: PlatformContext, *args: str) -> tuple[int, str]:
    from recplat.cli.main import app
    from typer.testing import CliRunner

    s = ctx.settings
    where = ["--feature-repo", str(s.feature_repo), "--home", str(s.home)]
    result = CliRunner().invoke(app, [*args, *where], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_amazon_reviews_import_and_build_features(
    context: PlatformContext, tiny_data: SyntheticData, tmp_path: Path
) -> None:
    reviews, meta = write_amazon(
        users=tiny_data.users, items=tiny_data.items, events=tiny_data.events, folder=tmp_path
    )
    bad = tmp_path / "bad_reviews.json"
    bad.write_text(reviews.read_text().splitlines()[0] + "\nnot json\n")
    code, out = _cli(context, "data", "import-amazon", str(bad), str(meta))
    assert code == 1 and "bad_reviews.json:2: not a JSON object" in out
    assert not context.settings.events_path.exists()

    code, out = _cli(context, "data", "import-amazon", str(reviews), str(meta), "--negatives", "2")
    assert code == 0, out
    assert "reviews as clicks" in out
    events = read_parquet(context.settings.events_path)
    assert events["clicked"].mean() == pytest.approx(1 / 3)
    ratings = read_parquet(context.settings.ratings_path)
    assert len(ratings) == events["clicked"].sum()
    # Users without demographics (-1, "unknown") pass the profile gate; sequences build.
    built = build_features(settings=context.settings, gate=context.gate)
    assert built.rows["user_profile"] == events["user_id"].nunique()
    assert built.rows["user_sequence"] > 0
    runs = {r.dataset: r for r in context.metadata.latest_validations()}
    assert runs["events"].baseline_key == "events:amazon" and runs["events"].success
