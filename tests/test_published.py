"""Every published profile renders from its records alone (issue 30): with computation forbidden, each
chapter either renders, or is a placeholder naming a campaign unit that its manifest does not list as done.
Nothing published: the test has nothing to check and says so."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import shutil_copy_book

REPO = Path(__file__).resolve().parents[1]
PROFILES = sorted(p.parent.name for p in (REPO / "published").glob("*/manifest.json"))


def placeholder_units(page: str) -> set[str]:
    """The campaign units a placeholder page names (``--only a,b``)."""
    return {u for m in re.findall(r"--only ([\w*.,-]+)", page) for u in m.split(",") if u}


def test_placeholder_units_are_read():
    page = "Not computed yet at the `cpu` profile. … python -m robustlab.campaign --profile cpu --only b-exp2,b-exp3`"
    assert placeholder_units(page) == {"b-exp2", "b-exp3"} and not placeholder_units("Figure 1")


@pytest.mark.slow
@pytest.mark.parametrize("profile", PROFILES or [pytest.param("none", marks=pytest.mark.skip("nothing published"))])
def test_published_profile_renders_without_computing(profile, shared_data, cache_dir, tmp_path):
    manifest = json.loads((REPO / "published" / profile / "manifest.json").read_text())
    done = {n for n, u in manifest["units"].items() if u.get("status") == "done"}
    assert done, f"published/{profile}/manifest.json lists no finished unit"
    root = tmp_path / "bookroot"
    shutil_copy_book(root)
    env = {**os.environ, "ROBUSTLAB_NO_COMPUTE": "1", "ROBUSTLAB_PUBLISHED": str(REPO / "published"),
           "ROBUSTLAB_DATA": str(shared_data), "ROBUSTLAB_CACHE": str(cache_dir), "TQDM_DISABLE": "1"}
    r = subprocess.run([sys.executable, "-m", "robustlab.book", "--profile", profile, "--no-build", "--root", str(root),
                        "--param", f"results_dir={tmp_path / 'empty'}"], env=env, capture_output=True, text=True,
                       timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert not list((tmp_path / "empty").rglob("*.pt")), "a chapter computed something"
    chapters = sorted(p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    executed = root / "book" / "executed"
    rendered, waiting = [], {}
    for name in chapters:
        md = executed / f"{name}.md"
        if md.exists() and "Not computed yet" in md.read_text():
            units = placeholder_units(md.read_text())
            assert units, f"{name}: a placeholder that names no unit"
            assert not units & done, f"{name}: a placeholder for units the manifest lists as done: {units & done}"
            waiting[name] = units
        else:
            assert (executed / f"{name}.ipynb").exists(), f"{name} was neither rendered nor left as a placeholder"
            rendered.append(name)
    print(f"published/{profile}: {len(done)} units done; rendered {rendered}; placeholders {sorted(waiting)}")
    assert rendered
