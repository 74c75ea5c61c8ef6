"""One typed options object for a training job: YAML, CLI flags and recorded runs build it.

```yaml
model: din
model_config: {embed_dim: 16, hidden: [200, 80], batch_norm: false}
train: {epochs: 3, batch_size: 512, num_workers: 1}
optimizer: {name: adam, lr: 0.002}
schedule: {name: constant, warmup_steps: 0}
init: default
features: {feature_service: din_ranker_v1, min_user_count: 2}
```

`load_options(path)` reads such a file into `TrainOptions`; `with_flags` lays
the CLI's flags over it; `TrainOptions.from_record` rebuilds the options a run
was started with from the registry. The same object goes to the Ray Train
workers, the in-process trainer and the fit loop. An unknown key or a value of
the wrong type is an error that names the file, the key and what was
expected, before anything starts.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import yaml
from recplat.features.encoding import BEHAVIOUR_TYPE_ROWS
from recplat.features.inputs import InputSpec
from recplat.models.catalog import CATALOG, entry
from recplat.models.layers import Vocab
from recplat.training.optim import InitName, OptimizerConfig, ScheduleConfig

Placement = Literal["pack", "spread", "strict_spread"]
DEFAULT_EMBED_DIM = 16


class ConfigError(ValueError):
    """A training configuration that cannot be used; the message names file and key."""


@dataclass(frozen=True)
class TrainOptions:
    """What to train and how.

    Attributes:
        model_name: A catalogue name (`embedding_mlp`, `din`, `dien`, `rating_mlp`...).
        epochs: Maximum epochs (early stopping on validation may end sooner).
        batch_size: Rows per optimiser step, per worker.
        patience: Epochs without a validation gain (AUC; RMSE for rating
            models) before stopping.
        seed: Seed of initialisation and shuffling.
        num_workers: Ray Train workers (DDP when > 1).
        use_gpu: One GPU per worker.
        amp: bf16 autocast on GPU (ignored on CPU).
        max_failures: Worker-group restarts allowed (each resumes from the last checkpoint).
        threads: Torch threads per worker (None: Ray's default).
        placement: Where workers go: pack (fewest nodes), spread (prefer distinct
            nodes) or strict_spread (one worker per node, or wait).
        fail_at_epoch: Inject a worker failure at this epoch (fault-tolerance tests).
        deterministic: Bit-identical reruns at any thread count
            (`torch.use_deterministic_algorithms`). Without it, reruns with one
            thread are bit-identical and with more they differ by ~1e-6 (DIN) to
            ~1e-4 (DIEN) in the weights: the backward of the models' gathers
            (embedding rows, the real steps of a history) adds into shared rows
            from several threads, in whatever order they finish.
        embed_dim: Embedding size.
        model_params: Model config fields other than vocab and embed_dim
            (e.g. hidden, activation, batch_norm, aux_weight).
        optimizer: Optimiser and learning rate.
        schedule: Learning-rate schedule (warm-up, decay).
        init: Weight initialisation scheme.
        feature_service: The feature service to train on (None: the model's own,
            named in the catalogue; another one for ablations).
        min_user_count: Users with fewer training impressions share the
            unknown-user embedding row (so a new user scores like a rare one).
    """

    model_name: str
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
    fail_at_epoch: int | None = None
    deterministic: bool = False
    embed_dim: int = DEFAULT_EMBED_DIM
    model_params: dict[str, Any] = field(default_factory=dict)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    init: InitName = "default"
    feature_service: str | None = None
    min_user_count: int = 1

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "num_workers", "min_user_count"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.placement not in get_args(Placement):
            raise ValueError(
                f"placement {self.placement!r}: choose one of {list(get_args(Placement))}"
            )

    @property
    def service(self) -> str:
        """The feature service this run trains on."""
        service = self.feature_service or entry(self.model_name).feature_service
        if service is None:
            raise ConfigError(f"{self.model_name} reads no feature service")
        return service

    def model_config(self, vocab: Vocab, inputs: InputSpec | None = None) -> Any:
        """The model's config for `vocab` and the service's fitted inputs."""
        cls = entry(self.model_name).config
        derived: dict[str, Any] = {}
        names = {f.name for f in dataclasses.fields(cls)}
        if inputs is not None:
            derived = {
                "fields": inputs.fields,
                "dense_features": len(inputs.dense),
                "behaviour_types": BEHAVIOUR_TYPE_ROWS if inputs.behaviour_types else 0,
            }
            derived = {k: v for k, v in derived.items() if k in names}
        common = {"vocab": vocab, "embed_dim": self.embed_dim}  # id-space models only
        common = {k: v for k, v in common.items() if k in names}
        return cls(**common, **self.model_params, **derived)

    def to_record(self) -> dict[str, Any]:
        """Plain values for the registry (`from_record` reads them back)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> TrainOptions:
        """The options a run was started with, from its recorded config."""
        values = dict(record)
        values["optimizer"] = OptimizerConfig(**values["optimizer"])
        values["schedule"] = ScheduleConfig(**values["schedule"])
        values["model_params"] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in values["model_params"].items()
        }
        values.pop("resume_from", None)  # recorded by runs before options were one type
        return cls(**values)


# The YAML's `train:` section: how the job runs.
RUN_FIELDS = (
    "epochs",
    "batch_size",
    "patience",
    "seed",
    "num_workers",
    "use_gpu",
    "amp",
    "max_failures",
    "threads",
    "placement",
    "deterministic",
)
FEATURE_FIELDS = ("feature_service", "min_user_count")
SECTIONS = ("model", "model_config", "train", "optimizer", "schedule", "init", "features")
# Model config fields set from the feature service's inputs, never by hand.
DERIVED_FIELDS = ("vocab", "fields", "dense_features", "behaviour_types")


def with_flags(
    options: TrainOptions, *, model: str | None = None, lr: float | None = None, **flags: Any
) -> TrainOptions:
    """`options` with the CLI's flags laid over it (a flag left at None keeps the value).

    A `model` other than the configured one starts from that model's defaults.

    Raises:
        ConfigError: An unknown model or an invalid value.
    """
    if model is not None and model != options.model_name:
        if model not in CATALOG:
            raise ConfigError(f"unknown model {model!r}; choose one of {sorted(CATALOG)}")
        options = dataclasses.replace(
            options, model_name=model, model_params={}, embed_dim=DEFAULT_EMBED_DIM
        )
    changes = {k: v for k, v in flags.items() if v is not None}
    if lr is not None:
        changes["optimizer"] = dataclasses.replace(options.optimizer, lr=lr)
    try:
        return dataclasses.replace(options, **changes)
    except ValueError as error:
        raise ConfigError(str(error)) from None


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
    cls: type[Any], data: Any, where: str, *, names: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """The checked values of one YAML section for the fields `names` of `cls`."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = get_type_hints(cls)
    known = list(names) if names is not None else [f.name for f in dataclasses.fields(cls)]
    values = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"{where}.{key}: unknown key; known keys: {', '.join(known)}")
        values[key] = _check(value, hints[key], f"{where}.{key}")
    return values


def parse_options(data: Any, *, source: str = "config") -> TrainOptions:
    """Validate a parsed YAML document into options.

    Raises:
        ConfigError: Unknown key, wrong type or invalid value, named with `source`.
    """
    try:
        if not isinstance(data, dict):
            raise ConfigError("expected a mapping at the top level")
        for key in data:
            if key not in SECTIONS:
                raise ConfigError(f"{key}: unknown key; known keys: {', '.join(sorted(SECTIONS))}")
        model = data.get("model")
        if model not in CATALOG:
            raise ConfigError(f"model: expected one of {sorted(CATALOG)}, got {model!r}")
        config = CATALOG[model].config
        params = _section(
            config,
            data.get("model_config"),
            "model_config",
            names=tuple(f.name for f in dataclasses.fields(config) if f.name not in DERIVED_FIELDS),
        )
        try:
            return TrainOptions(
                model_name=model,
                embed_dim=params.pop("embed_dim", DEFAULT_EMBED_DIM),
                model_params=params,
                **_section(TrainOptions, data.get("train"), "train", names=RUN_FIELDS),
                optimizer=OptimizerConfig(
                    **_section(OptimizerConfig, data.get("optimizer"), "optimizer")
                ),
                schedule=ScheduleConfig(
                    **_section(ScheduleConfig, data.get("schedule"), "schedule")
                ),
                init=_check(data.get("init", "default"), InitName, "init"),
                **_section(TrainOptions, data.get("features"), "features", names=FEATURE_FIELDS),
            )
        except ValueError as error:  # range checks in __post_init__
            if isinstance(error, ConfigError):
                raise
            raise ConfigError(str(error)) from error
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def load_options(path: Path) -> TrainOptions:
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
    return parse_options(data, source=str(path))
