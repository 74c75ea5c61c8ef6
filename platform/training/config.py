"""Training job configuration: one YAML file per model, checked on load.

```yaml
model: din
model_config: {embed_dim: 16, hidden: [200, 80], batch_norm: false}
train: {epochs: 3, batch_size: 512, num_workers: 1}
optimizer: {name: adam, lr: 0.002}
schedule: {name: constant, warmup_steps: 0}
init: default
```

An unknown key or a value of the wrong type is an error that names the file,
the key and what was expected, before anything starts.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import yaml
from recplat.models.catalog import CATALOG
from recplat.training.optim import InitName, OptimizerConfig, ScheduleConfig

Placement = Literal["pack", "spread", "strict_spread"]


class ConfigError(ValueError):
    """A training configuration that cannot be used; the message names file and key."""


@dataclass(frozen=True)
class RunSettings:
    """The `train:` section: how the job runs.

    Attributes:
        epochs: Maximum epochs (early stopping on validation AUC may end sooner).
        batch_size: Rows per optimiser step, per worker.
        patience: Epochs without validation-AUC gain before stopping.
        seed: Seed of initialisation and shuffling.
        num_workers: Ray Train workers (DDP when > 1).
        use_gpu: One GPU per worker.
        amp: bf16 autocast on GPU (ignored on CPU).
        max_failures: Worker-group restarts allowed (each resumes from the last checkpoint).
        threads: Torch threads per worker (null: Ray's default).
        placement: Where workers go: pack (fewest nodes), spread (prefer distinct
            nodes) or strict_spread (one worker per node, or wait).
    """

    epochs: int = 3
    batch_size: int = 512
    patience: int = 2
    seed: int = 0
    num_workers: int = 1
    use_gpu: bool = False
    amp: bool = True
    max_failures: int = 1
    threads: int | None = None
    placement: Placement = "pack"

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "num_workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class TrainConfig:
    """A whole training configuration."""

    model: str
    model_config: dict[str, Any] = field(default_factory=dict)
    train: RunSettings = field(default_factory=RunSettings)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    init: InitName = "default"


def _describe(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


_SCALARS: dict[Any, tuple[type, ...]] = {
    bool: (bool,),
    int: (int,),
    float: (int, float),
    str: (str,),
}


def _check_scalar(value: Any, hint: Any, where: str) -> Any:
    accepted = _SCALARS.get(hint)
    if accepted is None:  # a type the YAML cannot spell differently (left to the dataclass)
        return value
    # YAML's true/false are not numbers here, and 1 is not a boolean.
    if isinstance(value, accepted) and (hint is bool or not isinstance(value, bool)):
        return float(typing.cast(float, value)) if hint is float else value
    raise ConfigError(f"{where}: expected {_describe(hint)}, got {type(value).__name__} {value!r}")


def _check(value: Any, hint: Any, where: str) -> Any:
    """`value` converted to `hint` (lists -> tuples, ints -> floats), or ConfigError."""
    origin = get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        for option in get_args(hint):
            try:
                return _check(value, option, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {_describe(hint)}, got {value!r}")
    if hint is type(None):
        if value is not None:
            raise ConfigError(f"{where}: expected null, got {value!r}")
        return None
    if origin is typing.Literal:
        if value not in get_args(hint):
            raise ConfigError(f"{where}: expected one of {list(get_args(hint))}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        item = get_args(hint)[0]
        return tuple(_check(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    return _check_scalar(value, hint, where)


def _section(
    cls: type[Any], data: Any, where: str, *, skip: tuple[str, ...] = ()
) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls) if f.name not in skip]
    values = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"{where}.{key}: unknown key; known keys: {', '.join(known)}")
        values[key] = _check(value, hints[key], f"{where}.{key}")
    return values


def parse_config(data: Any, *, source: str = "config") -> TrainConfig:
    """Validate a parsed YAML document.

    Raises:
        ConfigError: Unknown key, wrong type or invalid value, named with `source`.
    """
    try:
        if not isinstance(data, dict):
            raise ConfigError("expected a mapping at the top level")
        top = {f.name for f in dataclasses.fields(TrainConfig)}
        for key in data:
            if key not in top:
                raise ConfigError(f"{key}: unknown key; known keys: {', '.join(sorted(top))}")
        model = data.get("model")
        if model not in CATALOG:
            raise ConfigError(f"model: expected one of {sorted(CATALOG)}, got {model!r}")
        model_config = _section(
            CATALOG[model].config, data.get("model_config"), "model_config", skip=("vocab",)
        )
        try:
            return TrainConfig(
                model=model,
                model_config=model_config,
                train=RunSettings(**_section(RunSettings, data.get("train"), "train")),
                optimizer=OptimizerConfig(
                    **_section(OptimizerConfig, data.get("optimizer"), "optimizer")
                ),
                schedule=ScheduleConfig(
                    **_section(ScheduleConfig, data.get("schedule"), "schedule")
                ),
                init=_check(data.get("init", "default"), InitName, "init"),
            )
        except ValueError as error:  # range checks in __post_init__
            if isinstance(error, ConfigError):
                raise
            raise ConfigError(str(error)) from error
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def load_config(path: Path) -> TrainConfig:
    """Read and validate a YAML training configuration.

    Raises:
        ConfigError: The file is missing, not YAML, or not a valid configuration.
    """
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    return parse_config(data, source=str(path))
