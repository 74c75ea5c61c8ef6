"""The LSTM forecaster: shapes, the seasonal-profile start, and robustness to level and scale."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from recplat.models.lstm_forecaster import LSTMForecaster, LSTMForecasterConfig, seasonal_profile

pytestmark = pytest.mark.model
CONFIG = LSTMForecasterConfig(lookback=21, horizon=10, season=7, hidden=8, layers=2)


def _inputs(batch: int = 4, *, seed: int = 0) -> torch.Tensor:
    """(B, L, 7) windows: a positive value with a weekly pattern, its trailing stats, calendar."""
    rng = np.random.default_rng(seed)
    t = np.arange(CONFIG.lookback)
    values = 5 + np.sin(2 * np.pi * t / 7)[None, :] + rng.normal(0, 0.3, (batch, CONFIG.lookback))
    x = rng.normal(0, 1, (batch, CONFIG.lookback, CONFIG.inputs))
    x[:, :, 0] = values
    x[:, :, 1] = values + rng.normal(0, 0.1, values.shape)
    x[:, :, 2] = rng.uniform(0.1, 0.5, values.shape)
    return torch.tensor(x, dtype=torch.float32)


def _randomised(config: LSTMForecasterConfig) -> LSTMForecaster:
    """A model whose output layer is not zero (as after training)."""
    torch.manual_seed(0)
    model = LSTMForecaster(config).eval()
    last = model.head[-1]
    assert isinstance(last, torch.nn.Linear)
    torch.nn.init.normal_(last.weight, std=0.5)
    return model


def test_outputs_horizon_steps_from_windows_or_their_flattened_form() -> None:
    model = _randomised(CONFIG)
    x = _inputs()
    out = model({"inputs": x})
    assert out.shape == (4, CONFIG.horizon)
    flat = model({"inputs": x.reshape(4, -1)})
    torch.testing.assert_close(out, flat)


def test_an_untrained_model_is_the_seasonal_profile_forecast() -> None:
    model = LSTMForecaster(CONFIG).eval()
    x = _inputs()
    expected = seasonal_profile(x[:, :, 0], season=7, horizon=CONFIG.horizon)
    torch.testing.assert_close(model({"inputs": x}), expected, atol=1e-5, rtol=1e-5)


def test_seasonal_profile_continues_a_periodic_series_exactly() -> None:
    pattern = torch.tensor([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0])
    window = pattern.repeat(3)[None, :] + 10.0  # three seasons, level 10
    forecast = seasonal_profile(window, season=7, horizon=10)
    torch.testing.assert_close(forecast[0], pattern.repeat(2)[:10] + 10.0)


def test_seasonal_profile_follows_the_last_level_not_the_window_mean() -> None:
    pattern = torch.tensor([0.0, 1.0, 0.0, -1.0])
    levels = torch.tensor([0.0, 0.0, 50.0])  # a level shift before the last season
    window = (pattern[None, :] + levels[:, None]).reshape(1, -1)
    forecast = seasonal_profile(window, season=4, horizon=4)
    torch.testing.assert_close(forecast[0], pattern + 50.0)


def test_window_normalisation_makes_forecasts_follow_level_and_scale() -> None:
    """The same shape at another level or scale gets the same forecast, moved and stretched
    alike: what keeps a trending series in distribution. The plain LSTM does not."""
    x = _inputs()
    shifted, stretched = x.clone(), x.clone()
    shifted[:, :, :2] += 100.0  # value and rolling mean
    stretched[:, :, :2] *= 3.0
    stretched[:, :, 2] *= 9.0  # a variance scales with the square
    model = _randomised(CONFIG)
    base = model({"inputs": x})
    torch.testing.assert_close(model({"inputs": shifted}), base + 100.0, atol=1e-3, rtol=1e-4)
    torch.testing.assert_close(model({"inputs": stretched}), base * 3.0, atol=1e-3, rtol=1e-4)
    plain = _randomised(dataclasses.replace(CONFIG, normalization="none", seasonal_skip=False))
    moved = plain({"inputs": shifted}) - plain({"inputs": x})
    assert not torch.allclose(moved, torch.full_like(moved, 100.0), atol=1.0)


def test_gradients_reach_every_parameter() -> None:
    model = _randomised(CONFIG).train()
    model({"inputs": _inputs()}).pow(2).mean().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"normalization": "minmax"}, "normalization"),
        ({"season": 30}, "season 30"),
        ({"horizon": 0}, ">= 1"),
    ],
)
def test_bad_configs_name_the_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(CONFIG, **change)  # type: ignore[arg-type]


def test_config_round_trips_through_the_registry_form() -> None:
    from recplat.models.catalog import config_from_dict, config_to_dict

    config = dataclasses.replace(CONFIG, normalization="none", seasonal_skip=False)
    assert config_from_dict("forecaster", config_to_dict(config)) == config


def test_the_last_season_skip_starts_as_seasonal_naive() -> None:
    from recplat.models.lstm_forecaster import last_season

    config = dataclasses.replace(CONFIG, skip_baseline="last_season")
    model = LSTMForecaster(config).eval()
    x = _inputs()
    values = x[:, :, 0]
    expected = torch.cat([values[:, -7:], values[:, -7:-4]], dim=1)  # H = 10: 7 then 3 more
    torch.testing.assert_close(last_season(values, season=7, horizon=10), expected)
    torch.testing.assert_close(model({"inputs": x}), expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="skip_baseline 'mean'"):
        dataclasses.replace(CONFIG, skip_baseline="mean")
