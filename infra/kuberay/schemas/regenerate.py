"""Regenerate the compact KubeRay CRD schemas of this folder from the vendored CRDs.

    .venv/bin/python infra/kuberay/schemas/regenerate.py [--vendor ../shared/vendor/kuberay-v1.7.0]

Reads the three gzipped `ray.io` CRDs of KubeRay v1.7.0 (checked against the
sha256 sums of their README), keeps only the `v1` version's `openAPIV3Schema`
with every `description` removed, and writes `<kind>.v1.json` (sorted keys, no
whitespace) beside this file. The JSON is what `infra/kuberay/check.py` and the
tests validate manifests against; a KubeRay upgrade is a new vendor folder and
a run of this script.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
VENDOR = HERE.parents[3] / "shared" / "vendor" / "kuberay-v1.7.0"
KINDS = {"RayCluster": "rayclusters", "RayJob": "rayjobs", "RayService": "rayservices"}


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def checksums(vendor: Path) -> dict[str, str]:
    """File name -> sha256 listed in the vendor README."""
    text = (vendor / "README.md").read_text()
    return {name: digest for digest, name in re.findall(r"([0-9a-f]{64})\s+(\S+\.yaml)", text)}


def compact_schema(vendor: Path, plural: str) -> dict[str, Any]:
    """The v1 openAPIV3Schema of one CRD, descriptions stripped.

    Raises:
        ValueError: The file's checksum differs from the README's, or it has no v1.
    """
    name = f"ray.io_{plural}.yaml"
    raw = gzip.decompress((vendor / f"{name}.gz").read_bytes())
    expected = checksums(vendor).get(name)
    if hashlib.sha256(raw).hexdigest() != expected:
        raise ValueError(f"{vendor / name}.gz: sha256 differs from {vendor / 'README.md'}")
    crd = yaml.safe_load(raw)
    for version in crd["spec"]["versions"]:
        if version["name"] == "v1":
            return _strip(version["schema"]["openAPIV3Schema"])
    raise ValueError(f"{name}: no v1 version")


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":")) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vendor", type=Path, default=VENDOR)
    args = parser.parse_args()
    for kind, plural in KINDS.items():
        path = HERE / f"{kind.lower()}.v1.json"
        path.write_text(render(compact_schema(args.vendor, plural)))
        print(f"{path}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
