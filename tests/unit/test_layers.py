"""The layering of docs/architecture.md, enforced: each part imports only what it may.

Every `import` and `from ... import` of a `recplat` module (at the top of a file or
inside a function) is checked against the table below, so a forbidden import fails
CI with the file, the line and the rule it breaks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

from tests.conftest import REPO_ROOT

# Source folders and the package each one is imported as (pyproject's package-dir).
FOLDERS = {"platform": "recplat", "models": "recplat.models", "serving": "recplat.serving"}
# part -> the other parts it may import (data flow: events -> features -> checks ->
# training set -> training -> registry -> serving; the CLI wires them all).
BASE = {"recplat.settings", "recplat.io", "recplat.runtime"}
STAGES = {"recplat.events", "recplat.features", "recplat.quality", "recplat.registry"}
MAY_IMPORT: Mapping[str, frozenset[str]] = {
    "recplat.models": frozenset(),
    "recplat.io": frozenset(),
    "recplat.settings": frozenset(),
    "recplat.runtime": frozenset({"recplat.settings"}),
    "recplat.registry": frozenset({"recplat.models", "recplat.settings", "recplat.io"}),
    "recplat.events": frozenset(BASE | STAGES),
    "recplat.features": frozenset(BASE | STAGES | {"recplat.models"}),
    "recplat.quality": frozenset(BASE | STAGES),
    "recplat.forecasting": frozenset(BASE | STAGES | {"recplat.models"}),
    "recplat.propensity": frozenset(BASE | STAGES | {"recplat.models"}),
    "recplat.training": frozenset(
        BASE | STAGES | {"recplat.models", "recplat.forecasting", "recplat.propensity"}
    ),
    "recplat.serving": frozenset(BASE | STAGES | {"recplat.models"}),
    "recplat.cli": frozenset(
        BASE
        | STAGES
        | {
            "recplat.models",
            "recplat.forecasting",
            "recplat.propensity",
            "recplat.training",
            "recplat.serving",
        }
    ),
}


def part_of(module: str) -> str:
    """`recplat.features.encoding` -> `recplat.features`; `recplat.settings` stays."""
    return ".".join(module.split(".")[:2])


def sources(root: Path = REPO_ROOT) -> dict[str, str]:
    """Module file (as `recplat/...py`) -> its text, for every file of the package."""
    found = {}
    for folder, package in FOLDERS.items():
        for path in sorted((root / folder).rglob("*.py")):
            relative = path.relative_to(root / folder)
            found[str(Path(*package.split("."), relative))] = path.read_text()
    return found


def _imports(text: str) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module


def violations(files: Mapping[str, str]) -> list[str]:
    """Every import that breaks the table, as `file:line: part may not import ...`."""
    found = []
    for file, text in files.items():
        module = file.removesuffix(".py").replace("/", ".")
        part = part_of(module)
        allowed = MAY_IMPORT.get(part)
        if allowed is None:
            found.append(f"{file}: {part} is not in the layer table (tests/unit/test_layers.py)")
            continue
        for line, name in _imports(text):
            target = part_of(name)
            if name.startswith("recplat") and target != part and target not in allowed:
                found.append(f"{file}:{line}: {part} may not import {target} ({name})")
    return found


def test_no_part_imports_what_its_layer_forbids() -> None:
    files = sources()
    assert "recplat/serving/ranker.py" in files and "recplat/models/dien.py" in files
    assert violations(files) == []


def test_a_forbidden_import_fails_naming_file_line_and_rule() -> None:
    files = sources()
    files["recplat/serving/shortcut.py"] = (
        '"""Scores with training code."""\n\n'
        "def score() -> None:\n"
        "    from recplat.training.fit import fit\n"
    )
    files["recplat/models/leaky.py"] = "import recplat.features.encoding\n"
    files["recplat/registry/backdoor.py"] = "from recplat.serving import app\n"
    assert violations(files) == [
        "recplat/serving/shortcut.py:4: recplat.serving may not import recplat.training "
        "(recplat.training.fit)",
        "recplat/models/leaky.py:1: recplat.models may not import recplat.features "
        "(recplat.features.encoding)",
        "recplat/registry/backdoor.py:1: recplat.registry may not import recplat.serving "
        "(recplat.serving)",
    ]


def test_a_new_part_must_be_placed_in_the_table() -> None:
    assert violations({"recplat/plugins/x.py": ""}) == [
        "recplat/plugins/x.py: recplat.plugins is not in the layer table "
        "(tests/unit/test_layers.py)"
    ]
