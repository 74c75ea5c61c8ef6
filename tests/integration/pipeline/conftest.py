"""The pipeline fixture: tiny data through real Feast, GX, Ray Train, registry and Serve.

Built once for the whole package (every test file here shares it), in the
order the files run: features, training and ranking, events and faults, jobs
and the CLI, replicas and the API contract.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from recplat.cli.context import PlatformContext
from recplat.cli.pipeline import FeatureStageResult, run_feature_stages
from recplat.events.synthetic import GeneratorConfig
from recplat.training.options import TrainOptions
from recplat.training.ray_driver import train_model
from recplat.training.registration import TrainOutcome
from recplat.training.training_set import TrainingData, prepare_training_data

from tests.conftest import make_settings

CONFIG = GeneratorConfig(users=150, items=100, categories=8, impressions=6000, days=10, seed=11)
PORT = 8765


@dataclass
class Pipeline:
    ctx: PlatformContext
    features: FeatureStageResult
    data: TrainingData
    outcomes: dict[str, TrainOutcome]
    url: str


@pytest.fixture(scope="package")
def pipeline(tmp_path_factory: pytest.TempPathFactory, ray_session: None) -> Iterator[Pipeline]:
    from recplat.serving.launch import start_serving, stop_serving

    ctx = PlatformContext(settings=make_settings(tmp_path_factory.mktemp("pipeline")))
    features = run_feature_stages(ctx, config=CONFIG)
    datasets: dict[str, TrainingData] = {}
    outcomes = {}
    for name in ("embedding_mlp", "din", "dien"):  # each on its own feature service
        options = TrainOptions(model_name=name, epochs=2, batch_size=256, threads=1)
        if options.service not in datasets:
            datasets[options.service] = prepare_training_data(
                settings=ctx.settings, gate=ctx.gate, feature_service=options.service
            )
        outcomes[name] = train_model(
            settings=ctx.settings,
            data=datasets[options.service],
            options=options,
            metadata=ctx.metadata,
        )
    data = datasets["din_ranker_v1"]
    ctx.metadata.promote(model_name="din", version=outcomes["din"].version)
    url = start_serving(ctx.settings, model_name="din", port=PORT)
    try:
        yield Pipeline(ctx, features, data, outcomes, url)
    finally:
        stop_serving()
