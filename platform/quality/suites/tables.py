"""Suites of the keyed feature tables: profiles, attributes, 1/7/30-day aggregates."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from recplat.quality.suites.spec import (
    FLOAT,
    INT,
    TIMESTAMP,
    SuiteSpec,
    epoch_s,
    keyed_spec,
    keyed_table_rules,
    now_s,
    second_of_day,
    since_earliest,
    stamped_between,
    window_s,
)
from recplat.quality.thresholds import THRESHOLDS


def user_profile_suite(*, now: datetime | None = None) -> SuiteSpec:
    """User profile table: one row per (user, time), attributes in their ranges."""
    import great_expectations.expectations as gxe

    t = THRESHOLDS.user_profile
    schema = {"user_id": INT, "age_bucket": INT, "gender": INT, "event_timestamp": TIMESTAMP}

    def build() -> list[Any]:
        return [
            *keyed_table_rules(schema, keys=["user_id"], ids=["user_id"]),
            gxe.ExpectColumnValuesToBeBetween(
                column="age_bucket", min_value=t.min_age_bucket, max_value=t.max_age_bucket
            ),
            gxe.ExpectColumnValuesToBeInSet(column="gender", value_set=list(t.genders)),
            since_earliest(now),
        ]

    return keyed_spec(dataset="user_profile", version=2, schema=schema, build=build, drift=t.drift)


def item_attributes_suite(*, now: datetime | None = None) -> SuiteSpec:
    """Item table: one row per (item, time), a category for every item."""
    import great_expectations.expectations as gxe

    t = THRESHOLDS.item_attributes
    schema = {"item_id": INT, "category_id": INT, "price_bucket": INT, "event_timestamp": TIMESTAMP}

    def build() -> list[Any]:
        return [
            *keyed_table_rules(schema, keys=["item_id"], ids=["item_id", "category_id"]),
            gxe.ExpectColumnValuesToBeBetween(
                column="price_bucket", min_value=t.min_price_bucket, max_value=t.max_price_bucket
            ),
            since_earliest(now),
        ]

    return keyed_spec(
        dataset="item_attributes", version=2, schema=schema, build=build, drift=t.drift
    )


def _window_aggregates_suite(
    *,
    prefix: str,
    dataset: str,
    key: str,
    extra: Mapping[str, tuple[str, ...]],
    extra_rules: Callable[[], list[Any]],
    window: tuple[datetime, datetime] | None,
    now: datetime | None,
) -> SuiteSpec:
    """The suite of a 1/7/30-day snapshot table (users, items): shared rules + its own."""
    start_s, end_s = window_s(window)
    # A snapshot counts events before its midnight: the last may be the day after the log.
    end_s = min(end_s, now_s(now)) + 86_400 if end_s is not None else now_s(now) + 86_400
    kinds = ("impressions", "clicks", "purchases")
    counts = [f"{prefix}{k}_{w}d" for k in kinds for w in (1, 7, 30)]
    ctrs = [f"{prefix}ctr_7d", f"{prefix}ctr_30d"]
    schema: dict[str, tuple[str, ...]] = {
        key: INT,
        "event_timestamp": TIMESTAMP,
        **dict.fromkeys(counts, INT),
        **dict.fromkeys(ctrs, FLOAT),
        **extra,
    }

    def build() -> list[Any]:
        import great_expectations.expectations as gxe

        def at_least(a: str, b: str) -> Any:
            return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=a, column_B=b, or_equal=True
            )

        return [
            *keyed_table_rules(schema, keys=[key], ids=[key]),
            # Stamped at midnight UTC: what a day's snapshot knows is the days before it.
            gxe.ExpectColumnValuesToBeInSet(column="stamp_second_of_day", value_set=[0]),
            stamped_between(start_s, end_s),
            *[gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0) for c in counts],
            *[
                gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0.0, max_value=1.0)
                for c in ctrs
            ],
            # A window holds the shorter ones; a click is a clicked impression.
            *[
                at_least(f"{prefix}{k}_{b}d", f"{prefix}{k}_{a}d")
                for k in kinds
                for a, b in ((1, 7), (7, 30))
            ],
            *[at_least(f"{prefix}impressions_{w}d", f"{prefix}clicks_{w}d") for w in (1, 7, 30)],
            *extra_rules(),
        ]

    return SuiteSpec(
        dataset=dataset,
        name=dataset,
        version=1,
        schema=schema,
        build=build,
        derived={
            "event_epoch_s": epoch_s("event_timestamp"),
            "stamp_second_of_day": second_of_day("event_timestamp"),
        },
    )


def user_activity_suite(
    *, window: tuple[datetime, datetime] | None = None, now: datetime | None = None
) -> SuiteSpec:
    """Users' 1/7/30-day activity snapshots: counts nested and consistent, CTRs and shares
    in [0, 1], stamped at midnight within a day of the source log.

    Windowed counts move with traffic by design, so no drift rule: drift is watched on
    the raw events they are computed from.
    """

    def top_category() -> list[Any]:
        import great_expectations.expectations as gxe

        return [
            gxe.ExpectColumnValuesToBeBetween(column="user_top_category_30d", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(
                column="user_top_category_share_30d", min_value=0.0, max_value=1.0
            ),
        ]

    return _window_aggregates_suite(
        prefix="user_",
        dataset="user_activity",
        key="user_id",
        extra={"user_top_category_30d": INT, "user_top_category_share_30d": FLOAT},
        extra_rules=top_category,
        window=window,
        now=now,
    )


def item_stats_suite(
    *, window: tuple[datetime, datetime] | None = None, now: datetime | None = None
) -> SuiteSpec:
    """Items' 1/7/30-day statistics snapshots (rules as `user_activity_suite`)."""

    def smoothed() -> list[Any]:
        import great_expectations.expectations as gxe

        return [
            gxe.ExpectColumnValuesToBeBetween(
                column="item_ctr_smoothed_30d", min_value=0.0, max_value=1.0
            )
        ]

    return _window_aggregates_suite(
        prefix="item_",
        dataset="item_stats",
        key="item_id",
        extra={"item_ctr_smoothed_30d": FLOAT},
        extra_rules=smoothed,
        window=window,
        now=now,
    )
