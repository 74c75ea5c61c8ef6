"""Suites of purchase propensity: the task's rows and the scores written back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from recplat.quality.suites.spec import FLOAT, INT, TIMESTAMP, SuiteSpec, epoch_s


def _inputs_before_cutoff(df: pd.DataFrame) -> pd.Series:
    return df["last_input_s"] < epoch_s("cutoff")(df)


def propensity_rows_suite(*, summary: Sequence[str], labelled: bool = True) -> SuiteSpec:
    """(user, cutoff) rows: one per pair, binary labels, no input at or after the cutoff,
    non-negative `summary` columns (the task's recency / frequency / monetary features)."""
    import great_expectations.expectations as gxe

    schema: dict[str, tuple[str, ...]] = {
        "user_id": INT,
        "cutoff": TIMESTAMP,
        "steps": INT,
        "last_input_s": INT,
        **dict.fromkeys(summary, FLOAT),
    }
    if labelled:
        schema["label"] = INT

    def build() -> list[Any]:
        rules = [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in schema],
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "cutoff_s"]),
            gxe.ExpectColumnValuesToBeBetween(column="user_id", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="steps", min_value=0),
            # The point-in-time rule: every input step is strictly before its row's cutoff.
            gxe.ExpectColumnValuesToBeInSet(column="inputs_before_cutoff", value_set=[True]),
            *[gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0.0) for c in summary],
        ]
        if labelled:
            rules.append(gxe.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1]))
        return rules

    return SuiteSpec(
        dataset="propensity_rows",
        name="propensity_rows",
        version=1,
        schema=schema,
        build=build,
        derived={"cutoff_s": epoch_s("cutoff"), "inputs_before_cutoff": _inputs_before_cutoff},
    )


def user_propensity_suite() -> SuiteSpec:
    """`user_propensity` rows: one per user and cutoff, scores in [0, 1], the category and
    the model version that scored them."""
    import great_expectations.expectations as gxe

    schema = {
        "user_id": INT,
        "event_timestamp": TIMESTAMP,
        "propensity_score": FLOAT,
        "propensity_category": INT,
        "propensity_cutoff_s": INT,
        "propensity_model_version": INT,
    }

    def build() -> list[Any]:
        return [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in schema],
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "event_epoch_s"]),
            gxe.ExpectColumnValuesToBeBetween(column="user_id", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(
                column="propensity_score", min_value=0.0, max_value=1.0
            ),
            gxe.ExpectColumnValuesToBeBetween(column="propensity_category", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="propensity_model_version", min_value=1),
            # The cutoff in seconds is the row's own timestamp.
            gxe.ExpectColumnPairValuesToBeEqual(
                column_A="propensity_cutoff_s", column_B="event_epoch_s"
            ),
        ]

    return SuiteSpec(
        dataset="user_propensity",
        name="user_propensity",
        version=1,
        schema=schema,
        build=build,
        derived={"event_epoch_s": epoch_s("event_timestamp")},
    )
