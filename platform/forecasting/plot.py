"""A PNG of a series: its history and the future, then each model's rolling-origin forecasts
over the test part, a panel per model."""

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
    # Top: the whole history; bottom: the test part (and as much before it) up close,
    # one panel per model, where the forecasts can be told apart.
    names = list(forecasts)
    fig = plt.figure(figsize=(12, 4 + 2.2 * max(1, (len(names) + 1) // 2)))
    grid = fig.add_gridspec(1 + max(1, (len(names) + 1) // 2), 2)
    top = fig.add_subplot(grid[0, :])
    top.plot(stamps, values, color="black", linewidth=1, label="history")
    top.axvline(
        float(matplotlib.dates.date2num(stamps[test_start])),
        color="black", linestyle=":", linewidth=1, label="test part",
    )  # fmt: skip
    top.plot(future_stamps, future, color="tab:red", linewidth=2, linestyle="--",
             label="lstm, future")  # fmt: skip
    top.set_title(title)
    top.legend(loc="upper left", fontsize=8)
    top.grid(alpha=0.3)
    shown = max(0, test_start - (len(values) - test_start) // 2)
    for index, name in enumerate(names):
        ax = fig.add_subplot(grid[1 + index // 2, index % 2])
        ax.plot(stamps[shown:], values[shown:], color="black", linewidth=1)
        for row, origin in enumerate(origins):
            ax.plot(
                stamps[origin : origin + horizon],
                forecasts[name][row],
                color=COLOURS.get(name),
                linewidth=1,
                alpha=0.8,
            )
        if name == "lstm":
            ax.plot(future_stamps, future, color="tab:red", linewidth=1.5, linestyle="--")
        ax.set_title(f"{name}: forecasts from each test origin", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
