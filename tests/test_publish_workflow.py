"""The GitHub Actions workflow that publishes the book (.github/workflows/book.yml)."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "book.yml"


def _load():
    wf = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(wf, dict), "the workflow is not a YAML mapping"
    return wf


def _readme_book_command() -> list[str]:
    """The README's main command: the first line of its "two commands" block that builds the book."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"## The two commands\s+```bash\n(.*?)```", text, re.S)
    assert block, "README has no 'The two commands' code block"
    first = block.group(1).strip().splitlines()[0].split("#")[0].strip()
    return shlex.split(first)


def test_workflow_is_valid_yaml_with_build_and_deploy_jobs():
    wf = _load()
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads the bare key `on` as True
    assert "push" in triggers and "workflow_dispatch" in triggers
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    assert build["runs-on"].startswith("ubuntu") and "gpu" not in str(build["runs-on"]).lower()
    assert deploy["needs"] == "build"
    assert any(str(s.get("uses", "")).startswith("actions/deploy-pages@") for s in deploy["steps"])
    for job in wf["jobs"].values():
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), step  # each step either runs or uses, not both


def test_build_step_is_the_readme_command_and_uploads_the_site():
    wf = _load()
    steps = wf["jobs"]["build"]["steps"]
    runs = [s for s in steps if "run" in s and "make book" in s["run"]]
    assert len(runs) == 1, "exactly one step builds the book"
    cmd = shlex.split(runs[0]["run"].strip())
    readme = _readme_book_command()
    assert readme == ["make", "book"]
    assert cmd[:2] == readme  # the README's command ...
    assert all(re.fullmatch(r"[A-Z_]+=\S+", a) for a in cmd[2:]), cmd  # ... with Make variables only
    assert any(a.startswith("PROFILE=") for a in cmd[2:])
    upload = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-pages-artifact@")]
    assert len(upload) == 1 and upload[0]["with"]["path"] == "_build/html"
    assert steps.index(upload[0]) > steps.index(runs[0])


def test_profile_choice_reads_the_published_manifest():
    """The best published profile is chosen: paper when its manifest exists, else cpu when its run is
    complete, else quick; a published profile is rendered, never computed."""
    from robustlab.ops.publish import MANIFEST

    wf = _load()
    choose = next(s for s in wf["jobs"]["build"]["steps"] if s.get("id") == "profile")
    assert f"published/paper/{MANIFEST}" in choose["run"] and "p=paper" in choose["run"] and "p=quick" in choose["run"]
    assert f"published/cpu/{MANIFEST}" in choose["run"] and "p=cpu" in choose["run"]
    # cpu only once its campaign is complete (publish writes "complete": true then), paper and cpu render only
    assert """grep -qs '"complete": true' published/cpu/""" in choose["run"]
    run = choose["run"]
    assert run.index("p=paper") < run.index("p=cpu") < run.index("p=quick")  # paper, else cpu, else quick
    build = next(s for s in wf["jobs"]["build"]["steps"] if "make book" in s.get("run", ""))
    assert "PROFILE=$BOOK_PROFILE" in build["run"]
    assert build["env"]["BOOK_PROFILE"] == "${{ steps.profile.outputs.profile }}"
    assert build["env"]["ROBUSTLAB_NO_COMPUTE"] == "${{ steps.profile.outputs.profile == 'quick' && '0' || '1' }}"
    # launch buttons come from the one repository-URL setting (book/_ext reads this variable)
    assert "ROBUSTLAB_REPOSITORY_URL" in wf["jobs"]["build"]["env"]
    assert "ROBUSTLAB_REPOSITORY_URL" in (REPO / "book" / "_ext" / "robustlab_sphinx.py").read_text()


def test_data_comes_from_the_public_downloads_and_the_data_url_is_optional():
    """The build downloads what its data folder lacks (issue 25): downloads are not switched off, the
    data folder is writable (in the workspace), and ROBUSTLAB_DATA_URL is only unpacked when it is set."""
    wf = _load()
    build = wf["jobs"]["build"]
    text = WORKFLOW.read_text()
    assert "ROBUSTLAB_OFFLINE" not in text
    assert build["env"]["ROBUSTLAB_DATA"].startswith("${{ github.workspace }}/")
    steps = build["steps"]
    make = next(i for i, s in enumerate(steps) if "make book" in s.get("run", ""))
    uses_url = [i for i, s in enumerate(steps) if "ROBUSTLAB_DATA_URL" in str(s)]
    assert len(uses_url) == 1 and uses_url[0] < make
    step = steps[uses_url[0]]
    var = next(k for k, v in step["env"].items() if "vars.ROBUSTLAB_DATA_URL" in v)
    assert f'if [ -n "${var}" ]' in step["run"]  # optional: nothing happens without it
    # the downloads are cached between builds, under the folders the download module writes
    from robustlab.data.download import source

    cache = next(s for s in steps if str(s.get("uses", "")).startswith("actions/cache@"))
    assert steps.index(cache) < make
    paths = cache["with"]["path"].split()
    folders = {f"data/{source(n).folder}" for n in ("cifar10", "imagenette")}
    assert folders | {"~/.cache/torch/hub/checkpoints"} == set(paths)


def test_readme_states_the_download_sizes_torchvision_publishes():
    """The README's "Data" section gives each weights file's size as torchvision's metadata does (MB)."""
    from torchvision.models import get_model_weights

    from robustlab.paper_b.classifiers import LABELS, PAPER_WEIGHTS

    text = (REPO / "README.md").read_text()
    data = text[text.index("## Data"):text.index("## Profiles")]
    for name, enum in PAPER_WEIGHTS.items():
        size_mb = get_model_weights(name)[enum].meta["_file_size"]
        assert re.search(rf"{re.escape(LABELS[name])} {size_mb:.1f}( MB)?\b", data), (name, size_mb)
    total = sum(get_model_weights(n)[e].meta["_file_size"] for n, e in PAPER_WEIGHTS.items())
    assert f"≈ {total:.0f} MB in all" in data
    for line in ("**Online**", "**Offline**", "**A local copy**"):
        assert line in data
