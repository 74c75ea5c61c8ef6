"""Deployment files are checked strictly: Serve and Feast accept typos silently."""

from __future__ import annotations

import importlib

import pytest
import yaml

from tests.conftest import REPO_ROOT

INFRA = REPO_ROOT / "infra"


def test_rayservice_serve_config_is_valid_and_has_no_unknown_keys() -> None:
    from ray.serve.schema import ServeApplicationSchema, ServeDeploySchema
    from recplat.serving.app import AppArgs

    service = yaml.safe_load((INFRA / "kuberay" / "rayservice.yaml").read_text())
    config = yaml.safe_load(service["spec"]["serveConfigV2"])
    assert set(config) <= set(ServeDeploySchema.model_fields)
    ServeDeploySchema.model_validate(config)
    for app in config["applications"]:
        assert set(app) <= set(ServeApplicationSchema.model_fields), app
        module, _, builder = app["import_path"].partition(":")
        assert (module, builder) == ("recplat.serving.app", "build_app")
        assert callable(getattr(importlib.import_module(module), builder))  # it imports
        AppArgs.model_validate(app["args"])  # extra="forbid": a typo fails here


def test_prod_feature_store_yaml_is_a_valid_repo_config(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from feast.repo_config import RepoConfig

    monkeypatch.setenv(
        "RECPLAT_FEAST_REGISTRY_URL", "postgresql+psycopg://feast@127.0.0.1:5432/test"
    )
    monkeypatch.setenv("RECPLAT_REDIS", "127.0.0.1:6379,db=0")
    raw = yaml.safe_load(
        os.path.expandvars((INFRA / "feast" / "feature_store.prod.yaml").read_text())
    )
    allowed = set(RepoConfig.model_fields) | {
        f.alias for f in RepoConfig.model_fields.values() if f.alias
    }
    assert set(raw) <= allowed, set(raw) - allowed
    config = RepoConfig(repo_path=REPO_ROOT / "feature_repo", **raw)
    assert config.online_store.type == "redis"
    assert config.registry.registry_type == "sql"


def test_the_rayservice_app_autoscales_as_configured() -> None:
    from recplat.serving.app import AppArgs, build_app

    service = yaml.safe_load((INFRA / "kuberay" / "rayservice.yaml").read_text())
    args = yaml.safe_load(service["spec"]["serveConfigV2"])["applications"][0]["args"]
    deployment = build_app(AppArgs.model_validate(args))._bound_deployment
    config = deployment._deployment_config
    assert config.autoscaling_config is not None
    scaling = config.autoscaling_config
    assert (scaling.min_replicas, scaling.max_replicas) == (2, 8)
    assert scaling.target_ongoing_requests == 4 and config.max_ongoing_requests == 24
    # Overload answers: a bounded proxy queue, then 503 with a Retry-After header.
    assert config.max_queued_requests == 4
    assert config.backpressure_config.status_code == 503
    assert config.backpressure_config.retry_after_s == 1
    fixed = build_app(AppArgs(num_replicas=3, max_ongoing_requests=5))._bound_deployment
    assert fixed.num_replicas == 3 and fixed._deployment_config.max_ongoing_requests == 5
    # Ray Serve takes -1 (unbounded) or a positive bound: 0 is refused with the rule.
    with pytest.raises(ValueError, match="-1 \\(unbounded\\) or at least 1"):
        AppArgs(max_queued_requests=0)
