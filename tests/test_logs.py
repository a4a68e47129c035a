"""Event-log schema: validation names the bad columns and rows; the KuaiRand loader maps onto it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulators.logs import LogValidationError, load_events, load_kuairand, validate_events, watch_outcome


def good_log(rows: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": np.arange(rows) % 2,
            "item_id": np.arange(rows),
            "timestamp": np.arange(rows)[::-1] * 1000,
            "item_duration_s": np.full(rows, 10.0),
            "play_time_s": np.linspace(0, 12, rows),
            "click": np.arange(rows) % 2,
            "long_view": np.zeros(rows, int),
        }
    )


def test_valid_log_is_sorted_and_typed() -> None:
    clean = validate_events(good_log())
    assert clean["user_id"].is_monotonic_increasing
    assert clean.groupby("user_id")["timestamp"].apply(lambda t: t.is_monotonic_increasing).all()
    assert clean["click"].dtype == np.int64 and clean["play_time_s"].dtype == np.float64


def test_missing_column_is_named() -> None:
    with pytest.raises(LogValidationError, match=r"missing required column\(s\) \['item_duration_s'\]"):
        validate_events(good_log().drop(columns="item_duration_s"))
    with pytest.raises(LogValidationError, match="binary response"):
        validate_events(good_log().drop(columns=["click", "long_view"]))


@pytest.mark.parametrize(
    ("column", "rows", "value", "message"),
    [
        ("play_time_s", [2, 4], np.nan, r"'play_time_s' has NaN.*rows 2, 4 \(2 in all\)"),
        ("item_duration_s", [3], -5.0, r"'item_duration_s' must be > 0.*row 3 \(1 in all\)"),
        ("item_duration_s", [1], 0.0, r"'item_duration_s' must be > 0.*row 1 "),
        ("click", [5], 2, r"'click' must be 0 or 1.*row 5 "),
        ("user_id", [0], 1.5, r"'user_id' must hold integers.*row 0 "),
        ("play_time_s", [1], -1.0, r"'play_time_s' must be >= 0.*row 1 "),
    ],
)
def test_bad_values_report_rows(column: str, rows: list[int], value: float, message: str) -> None:
    log = good_log().astype({column: float})
    log.loc[rows, column] = value
    with pytest.raises(LogValidationError, match=message):
        validate_events(log)


def test_wrong_dtype_reports_rows() -> None:
    log = good_log().astype({"item_id": object})
    log.loc[3, "item_id"] = "abc"
    with pytest.raises(LogValidationError, match=r"'item_id' must be numeric.*row 3 "):
        validate_events(log)


def test_csv_round_trip_and_watch_outcome(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    good_log().to_csv(path, index=False)
    clean = load_events(path)
    ratio = clean["play_time_s"] / clean["item_duration_s"]
    expected = (ratio >= 0.2).astype(int) + (ratio >= 1.0).astype(int)
    np.testing.assert_array_equal(watch_outcome(clean), expected)


def test_kuairand_loader_drops_unknown_durations_and_other_tabs(tmp_path: Path) -> None:
    hour = 3_600_000
    raw = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2],
            "video_id": [10, 11, 12, 10],
            "date": 20220501,
            "hourmin": 0,
            "time_ms": [0, hour * 5, hour * 7, hour * 20],
            "is_click": [1, 0, 0, 1],
            "is_like": 0,
            "is_follow": 0,
            "is_comment": 0,
            "is_forward": 0,
            "is_hate": 0,
            "long_view": [0, 0, 0, 1],
            "play_time_ms": [5000, 100, 2000, 30000],
            "duration_ms": [10000, 0, 8000, 10000],
            "profile_stay_time": 0,
            "comment_stay_time": 0,
            "is_profile_enter": 0,
            "is_rand": 1,
            "tab": [1, 1, 11, 1],
        }
    )
    path = tmp_path / "log_random.csv.gz"
    raw.to_csv(path, index=False)
    log = load_kuairand(path)
    assert list(log["item_id"]) == [10, 10]
    np.testing.assert_allclose(log["item_duration_s"], [10.0, 10.0])
    np.testing.assert_allclose(log["play_time_s"], [5.0, 30.0])
    assert list(log["context"]) == [1, 0]  # 08:00 and 04:00 (next day) Beijing time
