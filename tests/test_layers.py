"""The layers of CONTRIBUTING.md, checked by import-linter (the ``layers`` contract in pyproject.toml):
the package keeps them, and the check does fail on an upward import."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")

pytestmark = pytest.mark.skipif(LINT is None, reason="import-linter is not installed (requirements.txt pins it)")


def _lint(src: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([LINT, "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_package_keeps_its_layers():
    r = _lint(ROOT / "src")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 kept, 0 broken" in r.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "robustlab", src / "robustlab", ignore=shutil.ignore_patterns("__pycache__"))
    p = src / "robustlab" / "core" / "params.py"
    p.write_text(p.read_text() + "\nfrom robustlab.paper_a.nets import ARCHS  # noqa: E402 - upward, on purpose\n")
    r = _lint(src)
    assert r.returncode != 0
    assert "robustlab.core is not allowed to import robustlab.paper_a" in r.stdout
    assert "robustlab.core.params -> robustlab.paper_a.nets" in r.stdout
