"""The purchase-propensity task, defined once: a category, a window and cutoffs.

For a user u, a cutoff c and a window W, the inputs are u's behaviour strictly
before c and the label is 1 iff u buys in the category in [c, c + W). Rolling
cutoffs split by time: training cutoffs, then a validation cutoff, then a test
cutoff, each label window ending at or before the next split's cutoff, so no
training label is seen by validation or test and the test window is the
future of everything else.

```yaml
category: 3             # an id, or a name of an imported log's category
window_days: 7
train_cutoffs: [2026-01-22, 2026-01-29, 2026-02-05]
validation_cutoff: 2026-02-12
test_cutoff: 2026-02-19
max_len: 50             # behaviour steps per row
shift: 0                # shifting augmentation (training rows only)
inputs: log             # or sequence: only what the online store's user_sequence holds
history: null           # with inputs: sequence, its length N (the newest N behaviours)
```
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

SPLITS = ("train", "validation", "test")
INPUTS = ("log", "sequence")


class TaskError(ValueError):
    """A propensity task that cannot be built; the message says which value and why."""


def as_cutoff(value: Any, *, name: str) -> datetime:
    """A cutoff as an aware UTC datetime (dates are 00:00 UTC)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    try:
        stamp = pd.Timestamp(str(value))
    except ValueError:
        raise TaskError(f"{name}: {value!r} is not a date or timestamp") from None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


@dataclass(frozen=True)
class PropensityTask:
    """Who buys in `category` within `window_days` of each cutoff.

    Attributes:
        category: The target category id (names resolve through `resolve_category`).
        window_days: W, the label window after each cutoff.
        train_cutoffs: Cutoffs of the training rows, oldest first.
        validation_cutoff: Rows that choose the epoch and the threshold.
        test_cutoff: Rows that are scored once, at the end.
        max_len: Behaviour steps per row (the newest before the cutoff).
        shift: Shifting augmentation: each training user's n most recent purchases
            in the category before a training cutoff become extra positive rows
            (cut just before each purchase). Never applied to validation or test.
        inputs: "log": every step of the accepted log before the cutoff, with purchase
            amounts and quantities; "sequence": only what the online store's
            `user_sequence` view holds (the newest `history` behaviours, no amounts),
            so the model can score every user from the online store.
        history: N of `inputs: sequence` (Settings.sequence_length).
    """

    category: int
    window_days: int
    train_cutoffs: tuple[datetime, ...]
    validation_cutoff: datetime
    test_cutoff: datetime
    max_len: int = 50
    shift: int = 0
    inputs: str = "log"
    history: int | None = None

    def __post_init__(self) -> None:
        if self.inputs not in INPUTS:
            raise TaskError(f"inputs must be one of {INPUTS}, got {self.inputs!r}")
        if self.inputs == "sequence" and (self.history is None or self.history < 1):
            raise TaskError("inputs: sequence needs history, the sequence view's length N")
        if self.category < 1:
            raise TaskError(f"category must be an id >= 1, got {self.category}")
        if self.window_days < 1:
            raise TaskError(f"window_days must be >= 1, got {self.window_days}")
        if self.max_len < 1 or self.shift < 0:
            raise TaskError("max_len must be >= 1 and shift >= 0")
        if not self.train_cutoffs:
            raise TaskError("train_cutoffs: at least one training cutoff is needed")
        if list(self.train_cutoffs) != sorted(set(self.train_cutoffs)):
            raise TaskError("train_cutoffs must be distinct and in time order")
        window = timedelta(days=self.window_days)
        last = self.train_cutoffs[-1]
        if last + window > self.validation_cutoff:
            raise TaskError(
                f"the label window of training cutoff {last:%Y-%m-%d %H:%M} "
                f"(+{self.window_days} days, to {last + window:%Y-%m-%d %H:%M}) overlaps the "
                f"validation cutoff {self.validation_cutoff:%Y-%m-%d %H:%M}: training labels "
                "would be validation inputs; move the cutoffs at least a window apart"
            )
        if self.validation_cutoff + window > self.test_cutoff:
            until = self.validation_cutoff + window
            raise TaskError(
                f"the validation label window (to {until:%Y-%m-%d %H:%M}) overlaps the test "
                f"cutoff {self.test_cutoff:%Y-%m-%d %H:%M}: move them at least a window apart"
            )

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)

    def cutoffs(self) -> dict[str, tuple[datetime, ...]]:
        """Each split's cutoffs."""
        return {
            "train": self.train_cutoffs,
            "validation": (self.validation_cutoff,),
            "test": (self.test_cutoff,),
        }

    def to_record(self) -> dict[str, Any]:
        """Plain values (the run's lineage, the YAML)."""
        record = dataclasses.asdict(self)
        record["train_cutoffs"] = [c.isoformat() for c in self.train_cutoffs]
        record["validation_cutoff"] = self.validation_cutoff.isoformat()
        record["test_cutoff"] = self.test_cutoff.isoformat()
        return record

    @classmethod
    def from_values(
        cls, values: dict[str, Any], *, categories: pd.DataFrame | None = None
    ) -> PropensityTask:
        """A task from YAML-like values; `category` may be a name of `categories`.

        Raises:
            TaskError: An unknown key, a missing one, or a value that breaks a rule.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TaskError(f"unknown key(s) {unknown}; known: {sorted(known)}")
        missing = [k for k in ("category", "window_days", "train_cutoffs") if k not in values]
        if missing:
            raise TaskError(f"missing key(s) {missing}")
        cutoffs = values["train_cutoffs"]
        if not isinstance(cutoffs, list | tuple):
            raise TaskError("train_cutoffs must be a list of dates")
        try:
            return cls(
                category=resolve_category(values["category"], categories),
                window_days=int(values["window_days"]),
                train_cutoffs=tuple(as_cutoff(c, name="train_cutoffs") for c in cutoffs),
                validation_cutoff=as_cutoff(
                    values.get("validation_cutoff"), name="validation_cutoff"
                ),
                test_cutoff=as_cutoff(values.get("test_cutoff"), name="test_cutoff"),
                max_len=int(values.get("max_len", 50)),
                shift=int(values.get("shift", 0)),
                inputs=str(values.get("inputs", "log")),
                history=None if values.get("history") is None else int(values["history"]),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, TaskError):
                raise
            raise TaskError(str(exc)) from None

    @classmethod
    def from_yaml(cls, path: Path, *, categories: pd.DataFrame | None = None) -> PropensityTask:
        """Read a task YAML; errors name the file."""
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise TaskError(f"{path}: {exc}") from None
        if not isinstance(values, dict):
            raise TaskError(f"{path}: expected a mapping of task keys")
        try:
            return cls.from_values(values, categories=categories)
        except TaskError as exc:
            raise TaskError(f"{path}: {exc}") from None


def resolve_category(value: Any, categories: pd.DataFrame | None) -> int:
    """A category id from an id or a name (an imported log's `categories` table).

    Raises:
        TaskError: A name that is not a category (the known ones listed).
    """
    if isinstance(value, int | np.integer) or str(value).isdigit():
        return int(value)
    if categories is not None:
        match = categories.loc[categories["category"] == str(value), "category_id"]
        if len(match):
            return int(match.iloc[0])
        known = ", ".join(map(str, categories["category"].head(10)))
        raise TaskError(f"category {value!r} is not in the log; known: {known}")
    raise TaskError(f"category {value!r}: give an id (the log has no category names)")


def auto_cutoffs(
    *, first: datetime, last: datetime, window_days: int, train_cutoffs: int = 3
) -> tuple[tuple[datetime, ...], datetime, datetime]:
    """Cutoffs a window apart that end with the log: the test window is the log's last
    W days (from 00:00 UTC), validation the W before it, training the ones before that.

    Raises:
        TaskError: The log is too short for a history window and the cutoffs.
    """
    window = timedelta(days=window_days)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    test = end - window
    validation = test - window
    train = tuple(validation - window * k for k in range(train_cutoffs, 0, -1))
    if train[0] - window < first:
        days = (last - first).days
        raise TaskError(
            f"the log spans {days} days; {train_cutoffs} training cutoffs, validation and "
            f"test {window_days} days apart with a window of history need "
            f"{(train_cutoffs + 3) * window_days}: generate a longer log or pass --window-days"
        )
    return train, validation, test


def most_bought_category(events: pd.DataFrame, items: pd.DataFrame) -> int:
    """The category with the most purchases (the default target)."""
    bought = events.loc[events["event_type"] == "purchase", "item_id"]
    if bought.empty:
        raise TaskError("the event log has no purchases: no category to predict")
    category = items.set_index("item_id")["category_id"].reindex(bought).dropna()
    counts = category.value_counts()
    return int(counts.index[0])


def task_from(
    *,
    events: pd.DataFrame,
    items: pd.DataFrame,
    category: int | None,
    window_days: int,
    max_len: int = 50,
    shift: int = 0,
    train_cutoffs: int = 3,
    cutoffs: Sequence[datetime] | None = None,
    inputs: str = "log",
    history: int | None = None,
) -> PropensityTask:
    """A task for the log: the given or most-bought category, the given cutoffs
    (train..., validation, test) or `auto_cutoffs`."""
    if cutoffs:
        if len(cutoffs) < 3:
            raise TaskError("--cutoffs needs at least 3 dates: training..., validation, test")
        train, validation, test = tuple(cutoffs[:-2]), cutoffs[-2], cutoffs[-1]
    else:
        stamps = pd.to_datetime(events["event_timestamp"], utc=True)
        train, validation, test = auto_cutoffs(
            first=stamps.min().to_pydatetime(),
            last=stamps.max().to_pydatetime(),
            window_days=window_days,
            train_cutoffs=train_cutoffs,
        )
    return PropensityTask(
        category=category if category is not None else most_bought_category(events, items),
        window_days=window_days,
        train_cutoffs=train,
        validation_cutoff=validation,
        test_cutoff=test,
        max_len=max_len,
        shift=shift,
        inputs=inputs,
        history=history,
    )
