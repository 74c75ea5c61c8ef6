"""The propensity task: cutoffs that cannot leak, rows built only from the past (a poisoned
future changes nothing), golden summaries, shifting, balanced sampling, the gate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from recplat.events.synthetic import GeneratorConfig, SyntheticData, generate
from recplat.models.cnn_lstm import STEP_NUMBERS, SUMMARY_NUMBERS
from recplat.propensity.dataset import balanced, build_dataset, split_rows
from recplat.propensity.evaluation import best_f1_threshold, score_at
from recplat.propensity.rows import (
    NEVER_DAYS,
    STEP_FEATURES,
    SUMMARY_FEATURES,
    build_rows,
    epoch_seconds,
    shifted_cutoffs,
    step_log,
)
from recplat.propensity.task import PropensityTask, TaskError, auto_cutoffs, task_from
from recplat.quality.gate import DataQualityError

D = datetime(2026, 1, 1, tzinfo=UTC)
SHOP = GeneratorConfig(users=300, items=120, categories=6, impressions=6000, days=50, seed=5,
                       shoppers=True)  # fmt: skip


def _day(n: float) -> datetime:
    return D + timedelta(days=n)


@pytest.fixture(scope="module")
def shop() -> SyntheticData:
    return generate(SHOP)


def _task(**overrides: object) -> PropensityTask:
    values: dict[str, object] = {
        "category": 2,
        "window_days": 7,
        "train_cutoffs": (_day(21), _day(28)),
        "validation_cutoff": _day(35),
        "test_cutoff": _day(42),
        "max_len": 10,
    }
    return PropensityTask(**(values | overrides))  # type: ignore[arg-type]


def test_overlapping_label_windows_are_refused_with_the_dates() -> None:
    with pytest.raises(TaskError, match="overlaps the validation cutoff 2026-02-03"):
        _task(validation_cutoff=_day(33))
    with pytest.raises(TaskError, match="overlaps the test cutoff"):
        _task(test_cutoff=_day(40))
    with pytest.raises(TaskError, match="distinct and in time order"):
        _task(train_cutoffs=(_day(28), _day(21)))


def test_task_yaml_names_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "task.yaml"
    path.write_text(
        "category: 2\nwindow_days: 7\ntrain_cutoffs: [2026-01-22]\n"
        "validation_cutoff: 2026-01-29\ntest_cutoff: 2026-02-05\n"
    )
    task = PropensityTask.from_yaml(path)
    assert task.train_cutoffs == (_day(21),) and task.test_cutoff == _day(35)
    path.write_text(path.read_text() + "windw: 3\n")
    with pytest.raises(TaskError, match=r"task.yaml: unknown key\(s\) \['windw'\]"):
        PropensityTask.from_yaml(path)
    names = pd.DataFrame({"category_id": [1, 2], "category": ["books", "music"]})
    path.write_text(
        path.read_text().replace("category: 2", "category: music").replace("windw: 3\n", "")
    )
    assert PropensityTask.from_yaml(path, categories=names).category == 2


def test_auto_cutoffs_are_a_window_apart_and_end_with_the_log() -> None:
    train, validation, test = auto_cutoffs(first=_day(0), last=_day(49.5), window_days=7)
    assert test == _day(43) and validation == _day(36)
    assert train == (_day(15), _day(22), _day(29))
    with pytest.raises(TaskError, match="the log spans 20 days"):
        auto_cutoffs(first=_day(0), last=_day(20), window_days=7)


def _events(rows: list[tuple[int, int, float, str, int]]) -> pd.DataFrame:
    """(user, item, day, type, clicked) -> an event frame."""
    return pd.DataFrame(
        {
            "event_id": np.arange(1, len(rows) + 1),
            "user_id": [r[0] for r in rows],
            "item_id": [r[1] for r in rows],
            "event_timestamp": [pd.Timestamp(_day(r[2])) for r in rows],
            "event_type": [r[3] for r in rows],
            "clicked": [r[4] for r in rows],
        }
    )


ITEMS = pd.DataFrame({"item_id": [1, 2, 3], "category_id": [1, 2, 2]})


def test_rows_hold_golden_summaries_labels_and_front_padded_steps() -> None:
    events = _events(
        [
            (1, 2, 1.0, "purchase", 1),  # category 2
            (1, 1, 2.0, "impression", 1),  # click, category 1
            (1, 3, 5.0, "impression", 0),  # unclicked: not behaviour
            (1, 3, 8.0, "purchase", 1),  # category 2
            (1, 3, 9.5, "impression", 1),  # click, category 2
            (1, 3, 12.0, "purchase", 1),  # in user 1's label window
            (2, 1, 3.0, "purchase", 1),  # user 2: category 1 only
        ]
    )
    purchases = pd.DataFrame({"event_id": [1, 4, 6, 7], "quantity": [2, 1, 1, 3],
                              "amount": [10.0, 4.0, 5.0, 9.0]})  # fmt: skip
    log = step_log(events=events, items=ITEMS, purchases=purchases)
    cutoff = int(epoch_seconds(pd.DatetimeIndex([_day(10)]))[0])
    rows = build_rows(log, users=np.array([1, 2]), cutoffs_s=np.array([cutoff, cutoff]),
                      category=2, max_len=6, window_days=7)  # fmt: skip
    f = rows.frame
    assert f["label"].tolist() == [1, 0]
    assert f["steps"].tolist() == [4, 1]
    assert f["purchases"].tolist() == [2, 1] and f["category_purchases"].tolist() == [2, 0]
    assert f["days_since_last_category_purchase"].tolist() == pytest.approx([2.0, NEVER_DAYS])
    assert f["days_since_last_category_click"].tolist()[0] == pytest.approx(0.5)
    assert f["category_purchase_interval_days"].tolist()[0] == pytest.approx(7.0)
    assert f["amount_total"].tolist() == pytest.approx([14.0, 9.0])
    assert f["category_amount_total"].tolist() == pytest.approx([14.0, 0.0])
    a = rows.arrays
    assert a["seq_item"].shape == (2, 6) and a["seq_num"].shape == (2, 6 * len(STEP_FEATURES))
    assert a["summary"].shape == (2, len(SUMMARY_FEATURES))
    assert a["seq_item"][0].tolist() == [0, 0, 2, 1, 3, 3]  # oldest first, front-padded
    assert a["seq_kind"][0].tolist() == [0, 0, 2, 1, 2, 1]
    steps = a["seq_num"][0].reshape(6, -1)
    assert steps[:2].sum() == 0  # padding
    assert steps[2, 0] == pytest.approx(np.log1p(10.0)) and steps[2, 1] == pytest.approx(
        np.log1p(2)
    )
    assert steps[:, 3].tolist() == [0, 0, 1, 0, 1, 1]  # in the target category
    assert steps[3, 2] == pytest.approx(np.log1p(1.0))  # a day after the previous step
    assert (f["last_input_s"] < cutoff).all()


def test_models_read_as_many_numbers_as_the_rows_hold() -> None:
    assert len(STEP_FEATURES) == STEP_NUMBERS and len(SUMMARY_FEATURES) == SUMMARY_NUMBERS


def _poisoned(
    events: pd.DataFrame, purchases: pd.DataFrame, cutoff: datetime, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every event at or after `cutoff` rewritten (items, types, clicks, amounts), plus new
    ones: nothing of the future survives."""
    rng = np.random.default_rng(seed)
    after = pd.to_datetime(events["event_timestamp"], utc=True) >= pd.Timestamp(cutoff)
    events = events.copy()
    n = int(after.sum())
    events.loc[after, "item_id"] = rng.integers(1, events["item_id"].max() + 1, n)
    events.loc[after, "event_type"] = rng.choice(["impression", "purchase"], n)
    events.loc[after, "clicked"] = 1
    late = purchases["event_id"].isin(events.loc[after, "event_id"])
    extra = events[after].head(200).assign(event_id=lambda f: f["event_id"] + 10**9)
    events = pd.concat([events, extra], ignore_index=True)
    purchases = purchases.copy()
    purchases.loc[late, "amount"] = 1e6
    return events, purchases


def test_poisoning_every_event_at_or_after_each_cutoff_leaves_the_inputs_unchanged(
    shop: SyntheticData,
) -> None:
    task = task_from(events=shop.events, items=shop.items, category=None, window_days=7,
                     max_len=20, shift=2)  # fmt: skip
    clean = split_rows(
        step_log(events=shop.events, items=shop.items, purchases=shop.purchases), task
    )
    inputs = ("seq_item", "seq_cat", "seq_kind", "seq_num", "summary", "user_id")
    for split, cutoffs in task.cutoffs().items():
        for index, cutoff in enumerate(cutoffs):
            events, purchases = _poisoned(shop.events, shop.purchases, cutoff, seed=index)
            log = step_log(events=events, items=shop.items, purchases=purchases)
            mask = (clean[split].frame["cutoff"] == pd.Timestamp(cutoff)).to_numpy()
            mask &= ~clean[split].frame["shifted"].to_numpy()
            users = clean[split].frame["user_id"].to_numpy()[mask]
            at = np.full(len(users), int(cutoff.timestamp()))
            again = build_rows(log, users=users, cutoffs_s=at, category=task.category,
                               max_len=20, window_days=7)  # fmt: skip
            for name in inputs:
                np.testing.assert_array_equal(again.arrays[name], clean[split].arrays[name][mask])
            summary = list(SUMMARY_FEATURES)
            pd.testing.assert_frame_equal(
                again.frame[summary], clean[split].frame.loc[mask, summary].reset_index(drop=True)
            )


def test_train_label_windows_end_before_validation_and_test_inputs(shop: SyntheticData) -> None:
    task = task_from(events=shop.events, items=shop.items, category=None, window_days=7, shift=1)
    splits = split_rows(
        step_log(events=shop.events, items=shop.items, purchases=shop.purchases), task
    )
    train_end = splits["train"].frame["cutoff"].max() + pd.Timedelta(days=7)
    assert train_end <= pd.Timestamp(task.validation_cutoff)
    assert (splits["validation"].frame["cutoff"] + pd.Timedelta(days=7)).max() <= pd.Timestamp(
        task.test_cutoff
    )
    assert (
        not splits["validation"].frame["shifted"].any()
        and not splits["test"].frame["shifted"].any()
    )
    for rows in splits.values():  # inputs strictly before each row's own cutoff
        assert (rows.frame["last_input_s"] < epoch_seconds(rows.frame["cutoff"])).all()


def test_shifting_cuts_just_before_each_recent_category_purchase(shop: SyntheticData) -> None:
    log = step_log(events=shop.events, items=shop.items, purchases=shop.purchases)
    task = task_from(events=shop.events, items=shop.items, category=None, window_days=7)
    cutoff = int(task.train_cutoffs[-1].timestamp())
    users = np.unique(log.user)
    at = np.full(len(users), cutoff)
    shifted_users, shifted = shifted_cutoffs(log, users=users, cutoffs_s=at,
                                             category=task.category, shift=2)  # fmt: skip
    bought = (log.kind == 2) & (log.category == task.category) & (log.ts < cutoff)
    per_user = pd.Series(log.user[bought]).value_counts()
    expected = int(np.minimum(per_user, 2).sum())
    assert 0 < len(shifted_users) <= expected
    assert (shifted < cutoff).all()
    rows = build_rows(log, users=shifted_users, cutoffs_s=shifted, category=task.category,
                      max_len=20, window_days=7)  # fmt: skip
    assert rows.frame["label"].eq(1).all()  # the purchase at the new cutoff is the label
    plain = split_rows(log, task)["train"]
    more = split_rows(log, PropensityTask(**{**task.__dict__, "shift": 2}))["train"]
    assert len(more.frame) == len(plain.frame) + int(more.frame["shifted"].sum())
    assert more.frame.loc[more.frame["shifted"], "label"].eq(1).all()
    assert not more.frame.duplicated(["user_id", "cutoff"]).any()  # one row per pair


def test_balanced_sampling_keeps_every_positive_and_as_many_negatives(shop: SyntheticData) -> None:
    task = task_from(events=shop.events, items=shop.items, category=None, window_days=7)
    rows = split_rows(
        step_log(events=shop.events, items=shop.items, purchases=shop.purchases), task
    )["train"]
    positives = int(rows.frame["label"].sum())
    assert 0 < positives < len(rows.frame) / 2
    even = balanced(rows, seed=0)
    assert len(even.frame) == 2 * positives and int(even.frame["label"].sum()) == positives
    assert len(even.arrays["seq_item"]) == len(even.frame)
    assert set(even.frame.index) == set(range(len(even.frame)))
    pairs = set(zip(even.frame["user_id"], even.frame["cutoff"], strict=True))
    assert pairs <= set(zip(rows.frame["user_id"], rows.frame["cutoff"], strict=True))


def test_the_gate_stops_rows_with_an_input_at_the_cutoff(
    shop: SyntheticData, tmp_path: Path
) -> None:
    from recplat.cli.context import PlatformContext
    from recplat.quality.suites import propensity_rows_suite
    from recplat.settings import Settings

    settings = Settings(feature_repo=tmp_path / "repo", home=tmp_path / "home")
    settings.ensure_dirs()
    ctx = PlatformContext(settings=settings)
    log = step_log(events=shop.events, items=shop.items, purchases=shop.purchases)
    task = task_from(events=shop.events, items=shop.items, category=None, window_days=7)
    data = build_dataset(log=log, task=task, gate=ctx.gate)
    assert set(data.validation_run_ids) == {"train", "validation", "test"}
    leaky = data.splits["test"].frame.drop(columns=["shifted"])
    leaky.loc[0, "last_input_s"] = int(task.test_cutoff.timestamp())  # an event at the cutoff
    with pytest.raises(DataQualityError, match="inputs_before_cutoff"):
        ctx.gate.check(df=leaky, spec=propensity_rows_suite(summary=SUMMARY_FEATURES), stage="test")
    duplicated = pd.concat([leaky.iloc[1:3], leaky.iloc[1:2]], ignore_index=True)
    with pytest.raises(DataQualityError, match="user_id"):
        ctx.gate.check(
            df=duplicated, spec=propensity_rows_suite(summary=SUMMARY_FEATURES), stage="test"
        )


def test_thresholds_come_from_validation_and_metrics_are_golden() -> None:
    labels = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    threshold = best_f1_threshold(labels, scores)
    assert threshold == pytest.approx(0.35)
    scored = score_at(labels, scores, threshold=threshold)
    assert scored.precision == pytest.approx(0.75) and scored.recall == pytest.approx(1.0)
    assert scored.f1 == pytest.approx(6 / 7) and scored.positive_rate == pytest.approx(0.5)
    assert scored.roc_auc == pytest.approx(8 / 9)
