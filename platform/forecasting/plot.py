"""A PNG of a series: its history, each model's rolling-origin forecasts and the future."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

COLOURS = {
    "lstm": "tab:red",
    "seasonal_naive": "tab:gray",
    "sarima": "tab:blue",
    "ets": "tab:green",
}


def plot_forecasts(
    *,
    stamps: pd.DatetimeIndex,
    values: np.ndarray,
    origins: np.ndarray,
    forecasts: dict[str, np.ndarray],
    future_stamps: pd.DatetimeIndex,
    future: np.ndarray,
    test_start: int,
    title: str,
    path: Path,
) -> Path:
    """Write the plot to `path` (the folder is created); returns it."""
    import matplotlib
    import matplotlib.dates

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    horizon = future.shape[-1]
    fig, ax = plt.subplots(figsize=(12, 4.5))
    ax.plot(stamps, values, color="black", linewidth=1, label="history")
    ax.axvline(
        float(matplotlib.dates.date2num(stamps[test_start])),
        color="black",
        linestyle=":",
        linewidth=1,
    )
    for name, forecast in forecasts.items():
        colour = COLOURS.get(name)
        for row, origin in enumerate(origins):
            ax.plot(
                stamps[origin : origin + horizon],
                forecast[row],
                color=colour,
                linewidth=1,
                alpha=0.8,
                label=name if row == 0 else None,
            )
    ax.plot(
        future_stamps, future, color="tab:red", linewidth=2, linestyle="--", label="lstm, future"
    )
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
