"""Validate Kubernetes manifests strictly: KubeRay `ray.io/v1` kinds against KubeRay v1.7.0's
CRD schemas, built-in kinds against the Kubernetes schemas.

    .venv/bin/python infra/kuberay/check.py                 # every manifest under infra/kuberay
    .venv/bin/python infra/kuberay/check.py my-cluster.yaml

CRD schemas do not forbid unknown fields (the API server prunes them without a
word), so a misspelled field would vanish on `kubectl apply`. Here every
object node with `properties` and no `x-kubernetes-preserve-unknown-fields`
gets `additionalProperties: false`: an unknown field, a wrong type and a
missing required field each fail, named by their path. Not checked: the CEL
rules (`x-kubernetes-validations`) the API server evaluates, and formats.
Exit status 1 when any resource fails, with one line per problem.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SCHEMAS = HERE / "schemas"
KUBERAY_KINDS = ("RayCluster", "RayJob", "RayService")
KUBERNETES_VERSION = "1.33"  # the schemas built-in kinds are checked against


def strict(node: Any) -> Any:
    """`node` with unknown properties forbidden wherever it lists its properties."""
    if isinstance(node, list):
        return [strict(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) for k, v in node.items()}
    if (
        "properties" in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
        and "additionalProperties" not in node
    ):
        out["additionalProperties"] = False
    return out


@functools.cache
def kuberay_validator(kind: str) -> Any:
    """A JSON-schema validator for one KubeRay kind (strict, as above)."""
    import jsonschema

    schema = strict(json.loads((SCHEMAS / f"{kind.lower()}.v1.json").read_text()))
    return jsonschema.Draft7Validator(schema)


def _where(path: Any) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def problems(resource: dict[str, Any]) -> list[str]:
    """Each way `resource` breaks its schema, as `field.path: message`."""
    kind = resource.get("kind")
    if resource.get("apiVersion") == "ray.io/v1" and kind in KUBERAY_KINDS:
        errors = sorted(kuberay_validator(kind).iter_errors(resource), key=lambda e: list(e.path))
        return [f"{_where(e.absolute_path)}: {e.message}" for e in errors]
    if str(resource.get("apiVersion", "")).startswith("ray.io"):
        return [f"apiVersion/kind: {resource.get('apiVersion')}/{kind} is not a KubeRay v1 kind"]
    import kubernetes_validate

    try:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{_where(error.path)}: {error.message}"]
    except kubernetes_validate.utils.SchemaNotFoundError as error:
        return [f"kind: no Kubernetes {KUBERNETES_VERSION} schema for {error}"]
    return []


def resources(path: Path) -> Iterator[dict[str, Any]]:
    """The documents of a (multi-document) YAML file, empty ones skipped."""
    for document in yaml.safe_load_all(path.read_text()):
        if document:
            yield document


def check_files(paths: list[Path]) -> list[str]:
    """Every problem of every resource in `paths`, as `file: Kind/name: field: message`."""
    found = []
    for path in paths:
        for resource in resources(path):
            name = f"{resource.get('kind')}/{resource.get('metadata', {}).get('name')}"
            found += [f"{path}: {name}: {line}" for line in problems(resource)]
    return found


def manifests() -> list[Path]:
    """The manifests under infra/kuberay (its schemas and kustomizations aside)."""
    return sorted(
        p
        for p in HERE.rglob("*.yaml")
        if SCHEMAS not in p.parents and p.name != "kustomization.yaml"
    )


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or manifests()
    found = check_files(paths)
    for line in found:
        print(line)
    print(f"{len(paths)} file(s), {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
