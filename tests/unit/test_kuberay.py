"""KubeRay manifests against KubeRay v1.7.0's CRD schemas, strictly; built-in kinds against
Kubernetes' schemas; one Ray version everywhere; an image the legacy builder can build."""

from __future__ import annotations

import copy
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT

KUBERAY = REPO_ROOT / "infra" / "kuberay"
VENDOR = REPO_ROOT.parent / "shared" / "vendor" / "kuberay-v1.7.0"


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def check() -> ModuleType:
    return _load(KUBERAY / "check.py", "kuberay_check")


def _manifest(name: str) -> dict[str, Any]:
    return yaml.safe_load((KUBERAY / name).read_text())


def test_every_manifest_validates_strictly(check: ModuleType) -> None:
    files = check.manifests()
    kinds = {r["kind"] for path in files for r in check.resources(path)}
    assert {"RayCluster", "RayJob", "RayService", "Secret"} <= kinds
    assert check.check_files(files) == []
    assert check.main([]) == 0


def test_an_unknown_field_a_wrong_type_and_a_missing_field_are_named(check: ModuleType) -> None:
    cluster = _manifest("raycluster.yaml")
    typo = copy.deepcopy(cluster)
    typo["spec"]["workerGroupSpecs"][0]["maxReplica"] = 8  # the API server would drop it
    assert check.problems(typo) == [
        "spec.workerGroupSpecs.0: Additional properties are not allowed "
        "('maxReplica' was unexpected)"
    ]
    wrong = copy.deepcopy(cluster)
    wrong["spec"]["workerGroupSpecs"][0]["maxReplicas"] = "eight"
    assert check.problems(wrong) == [
        "spec.workerGroupSpecs.0.maxReplicas: 'eight' is not of type 'integer'"
    ]
    missing = copy.deepcopy(cluster)
    del missing["spec"]["workerGroupSpecs"][0]["groupName"]
    assert check.problems(missing) == [
        "spec.workerGroupSpecs.0: 'groupName' is a required property"
    ]
    deep = copy.deepcopy(_manifest("rayjob.yaml"))
    deep["spec"]["submitterPodTemplate"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    assert "imagePullPolice" in check.problems(deep)[0]  # inside the embedded pod spec too


def test_built_in_kinds_validate_against_kubernetes_schemas(check: ModuleType) -> None:
    secret = _manifest("secret.yaml")
    assert check.problems(secret) == []
    secret["stringDta"] = {"redis": "redis:6379"}
    assert "'stringDta' was unexpected" in check.problems(secret)[0]
    secret = _manifest("secret.yaml")
    secret["stringData"]["redis"] = 6379
    assert check.problems(secret) == ["stringData.redis: 6379 is not of type 'string', 'null'"]
    assert (
        "not a KubeRay v1 kind" in check.problems({"apiVersion": "ray.io/v2", "kind": "RayJob"})[0]
    )


def test_a_broken_file_fails_the_command_with_file_kind_and_field(
    check: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = _manifest("rayjob.yaml")
    job["spec"]["entrypoint"] = ["recplat", "train"]
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump_all([_manifest("secret.yaml"), job]))
    assert check.main([str(path)]) == 1
    out = capsys.readouterr().out
    where = f"{path}: RayJob/recplat-train-dien: spec.entrypoint:"
    assert f"{where} ['recplat', 'train'] is not of type 'string'" in out
    assert "1 file(s), 1 problem(s)" in out


@pytest.mark.skipif(not VENDOR.exists(), reason="needs ../shared/vendor/kuberay-v1.7.0")
def test_compact_schemas_are_what_the_vendored_crds_regenerate() -> None:
    regenerate = _load(KUBERAY / "schemas" / "regenerate.py", "kuberay_regenerate")
    for kind, plural in regenerate.KINDS.items():
        committed = (KUBERAY / "schemas" / f"{kind.lower()}.v1.json").read_text()
        assert committed == regenerate.render(regenerate.compact_schema(VENDOR, plural)), kind


def test_one_ray_version_in_pyproject_manifests_images_and_dockerfile() -> None:
    import ray

    pin = re.search(
        r'"ray\[[^\]]+\]>=([\d.]+),<([\d.]+)"', (REPO_ROOT / "pyproject.toml").read_text()
    )
    assert pin is not None
    version = ray.__version__
    low, high = (tuple(int(p) for p in v.split(".")) for v in pin.groups())
    assert low <= tuple(int(p) for p in version.split(".")) < high
    dockerfile = (REPO_ROOT / "infra" / "docker" / "Dockerfile").read_text()
    assert f"ARG RAY_VERSION={version}\n" in dockerfile
    found = 0
    for path in sorted(KUBERAY.glob("*.yaml")):
        text = path.read_text()
        for ray_version in re.findall(r'rayVersion: "([^"]+)"', text):
            assert ray_version == version, path
            found += 1
        for image in re.findall(r"image: (\S+)", text):
            assert re.fullmatch(rf"recplat:{re.escape(version)}-(cpu|cuda)", image), (path, image)
    assert found >= 2  # the RayCluster's and the RayService's


def test_the_dockerfile_needs_no_buildkit() -> None:
    text = (REPO_ROOT / "infra" / "docker" / "Dockerfile").read_text()
    assert not re.search(r"^# *syntax=", text, re.M)  # a frontend directive
    assert "--mount" not in text and "<<" not in text  # cache/secret mounts, heredocs
    assert re.search(r"^ARG BASE_IMAGE=.*\nFROM \$\{BASE_IMAGE\}$", text, re.M)
    assert "ARG TORCH_INDEX=" in text
