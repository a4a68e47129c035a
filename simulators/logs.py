"""Event logs: one documented schema for every log the calibration fits, plus the KuaiRand loader.

A team brings its own logs by writing a CSV (or a pandas DataFrame) with the columns below;
`validate_events` checks it and says exactly which rows and columns are wrong, so a broken
export fails loudly instead of fitting a subtly wrong model.

## Schema (one row per impression)

| column | dtype | required | meaning |
| --- | --- | --- | --- |
| `user_id` | int | yes | user identifier (any non-negative integer) |
| `item_id` | int | yes | item identifier (any non-negative integer) |
| `timestamp` | int or float | yes | time of the impression; any monotone unit (Unix ms for KuaiRand) |
| `item_duration_s` | float | yes | item length in seconds, > 0 (drop rows whose duration is unknown) |
| `play_time_s` | float | yes | seconds the user played the item, >= 0 (may exceed the duration: loops) |
| `click` | int 0/1 | one of the binary responses | the user clicked / started a valid play |
| `long_view` | int 0/1 | one of the binary responses | the user watched or listened for long |
| `position` | int >= 1 | no | 1-based position of the impression in its session |
| `session_id` | int | no | session identifier (needed for a leave hazard) |
| `context` | int >= 0 | no | categorical context id (e.g. hour-of-day bucket, surface) |

The watch outcome is derived, not stored: `watch_ratio = play_time_s / item_duration_s`, then
early skip (`< early_skip_ratio`), partial, or complete (`>= complete_ratio`); see
`watch_outcome`. pandas is imported lazily so `import simulators` stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

REQUIRED_COLUMNS = ("user_id", "item_id", "timestamp", "item_duration_s", "play_time_s")
BINARY_RESPONSES = ("click", "long_view")
OPTIONAL_COLUMNS = ("position", "session_id", "context")
INTEGER_COLUMNS = ("user_id", "item_id", "position", "session_id", "context")

#: Watch-ratio cut points of the three-way watch outcome (KuaiRand README's analogues).
EARLY_SKIP_RATIO = 0.2
COMPLETE_RATIO = 1.0

#: Where KuaiRand's shared random-exposure log lives, relative to the repository root.
KUAIRAND_RELATIVE_PATH = Path("..") / "shared" / "data" / "kuairand_1k_random" / "log_random.csv.gz"

KUAIRAND_ATTRIBUTION = (
    "Derived from KuaiRand-1K (random-exposure log) by C. Gao, S. Li, Y. Zhang, J. Chen, B. Li, W. Lei, "
    "P. Jiang, X. He, 'KuaiRand: An Unbiased Sequential Recommendation Dataset with Randomly Exposed "
    "Videos', CIKM 2022, doi:10.1145/3511808.3557624; licensed CC BY-SA 4.0 "
    "(https://creativecommons.org/licenses/by-sa/4.0/). Changes: rows with tab != 1 or unknown duration "
    "dropped; parameters fitted by Segue's calibration. This derived file is released under CC BY-SA 4.0."
)


class LogValidationError(ValueError):
    """A log does not match the schema; the message names the columns and the first bad rows."""


def _rows(mask: np.ndarray, limit: int = 5) -> str:
    bad = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in bad[:limit])
    return f"row{'s' if bad.size > 1 else ''} {shown}{' ...' if bad.size > limit else ''} ({bad.size} in all)"


def validate_events(frame: pd.DataFrame) -> pd.DataFrame:
    """Check `frame` against the schema and return a clean copy sorted by (user_id, timestamp).

    Row numbers in error messages are 0-based positions in `frame` as given (the data rows of a
    CSV, header excluded). Integer columns come back as int64, the rest as float64.

    Raises:
        LogValidationError: missing columns, non-numeric or non-integer values, NaNs, negative or
            zero durations, negative play times, non-binary responses, positions below 1.
    """
    import pandas as pd

    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise LogValidationError(f"log is missing required column(s) {missing}; found {list(frame.columns)}")
    responses = [c for c in BINARY_RESPONSES if c in frame.columns]
    if not responses:
        raise LogValidationError(f"log has none of the binary response columns {list(BINARY_RESPONSES)}")
    columns = [*REQUIRED_COLUMNS, *responses, *(c for c in OPTIONAL_COLUMNS if c in frame.columns)]
    clean = {}
    for name in columns:
        values = frame[name]
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            numeric = pd.to_numeric(values, errors="coerce")
            bad = numeric.isna().to_numpy() & values.notna().to_numpy()
            raise LogValidationError(
                f"column {name!r} must be numeric (dtype {values.dtype}); non-numeric at {_rows(bad)}"
            )
        array = values.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isnan(array).any():
            raise LogValidationError(f"column {name!r} has NaN/missing values at {_rows(np.isnan(array))}")
        if not np.isfinite(array).all():
            raise LogValidationError(f"column {name!r} has infinite values at {_rows(~np.isfinite(array))}")
        if name in INTEGER_COLUMNS or name in responses:
            fractional = array != np.round(array)
            if fractional.any():
                raise LogValidationError(
                    f"column {name!r} must hold integers; fractional values at {_rows(fractional)}"
                )
            clean[name] = array.astype(np.int64)
        else:
            clean[name] = array
    checks = [(name, clean[name] < 0, "must be >= 0") for name in ("user_id", "item_id", "play_time_s")]
    checks.append(("item_duration_s", clean["item_duration_s"] <= 0, "must be > 0 (drop rows of unknown duration)"))
    checks += [(name, ~np.isin(clean[name], (0, 1)), "must be 0 or 1") for name in responses]
    if "position" in clean:
        checks.append(("position", clean["position"] < 1, "must be >= 1 (1-based)"))
    if "context" in clean:
        checks.append(("context", clean["context"] < 0, "must be >= 0"))
    for name, bad, rule in checks:
        if bad.any():
            raise LogValidationError(f"column {name!r} {rule}; violated at {_rows(bad)}")
    out = pd.DataFrame(clean)
    return out.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)


def load_events(path: str | Path) -> pd.DataFrame:
    """Read a log in the Segue schema (CSV, optionally gzipped) and validate it."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"log file not found: {path}")
    return validate_events(pd.read_csv(path))


def load_kuairand(path: str | Path, tab: int | None = 1) -> pd.DataFrame:
    """Map KuaiRand's `log_random.csv.gz` onto the Segue schema.

    Choices (see the data README): `duration_ms == 0` means unknown duration, so those rows are
    dropped (a watch ratio needs a duration, and the env needs real lengths); only `tab == 1`
    (99 % of rows, one UI scenario) is kept by default, because tabs 11 and 14 never record a
    click and look like auto-play. `context` is the Beijing-time hour bucket of `time_ms`
    (0: 0-5 h, 1: 6-11 h, 2: 12-17 h, 3: 18-23 h). There are no sessions or positions: the rows
    are random insertions far apart in each user's feed.

    Args:
        path: the KuaiRand random-exposure CSV (gzipped or not).
        tab: keep only this tab; None keeps all.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"KuaiRand log not found: {path} (expected ../shared/data/kuairand_1k_random/)")
    raw = pd.read_csv(path)
    keep = raw["duration_ms"] > 0
    if tab is not None:
        keep &= raw["tab"] == tab
    raw = raw[keep]
    hour = ((raw["time_ms"] // 3_600_000) + 8) % 24
    frame = pd.DataFrame(
        {
            "user_id": raw["user_id"],
            "item_id": raw["video_id"],
            "timestamp": raw["time_ms"],
            "item_duration_s": raw["duration_ms"] / 1000.0,
            "play_time_s": raw["play_time_ms"] / 1000.0,
            "click": raw["is_click"],
            "long_view": raw["long_view"],
            "context": hour // 6,
        }
    )
    return validate_events(frame)


def watch_outcome(
    frame: pd.DataFrame, early_skip_ratio: float = EARLY_SKIP_RATIO, complete_ratio: float = COMPLETE_RATIO
) -> np.ndarray:
    """Three-way watch outcome per row: int8[R], 0 early skip, 1 partial, 2 complete.

    Same coding as `simulators.response` (EARLY_SKIP, LATE_SKIP, COMPLETE), so a fitted ordered
    logit maps straight onto the simulator's response model.
    """
    ratio = frame["play_time_s"].to_numpy() / frame["item_duration_s"].to_numpy()
    return ((ratio >= early_skip_ratio).astype(np.int8) + (ratio >= complete_ratio)).astype(np.int8)
