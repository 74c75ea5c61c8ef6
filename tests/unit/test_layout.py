"""Guards for the `platform` rule: our folder must never shadow the stdlib module."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_platform_folder_has_no_init() -> None:
    assert not (REPO_ROOT / "platform" / "__init__.py").exists()


def test_stdlib_platform_still_imports_from_repo_root() -> None:
    code = "import platform, sys; print(platform.system()); import recplat.settings"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() in {"Linux", "Darwin", "Windows"}


def test_code_imports_recplat_names_only() -> None:
    bad = re.compile(r"^\s*(from|import)\s+(models|serving|platform)(\.|\s)", re.M)
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for folder in ("platform", "models", "serving", "tests", "benchmarks")
        for path in (REPO_ROOT / folder).rglob("*.py")
        if bad.search(path.read_text())
    ]
    assert offenders == []
