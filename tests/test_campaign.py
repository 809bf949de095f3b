"""The campaign runner: units, deadlines and resuming, no-compute refusals, pack → unpack → publish,
and the book rendered from published records alone (nothing computed, no weights)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import environ, shutil_copy_book
from robustlab.core import budget
from robustlab.core.errors import ComputeRefused, ParameterError
from robustlab.core.params import resolve
from robustlab.core.results import ResultStore, load_result, read_header
from robustlab.ops import campaign
from robustlab.paper_a import grid

REPO = Path(__file__).resolve().parents[1]
#: payload fields that measure time or name the machine: they differ between runs by nature (``forward_batch``
#: is the forward batch size this CPU measured fastest: a speed choice that changes no prediction)
VOLATILE = {"train_time_s", "epoch_time_s", "images_per_s", "seconds", "forward_img_s", "forward_batch", "date",
            "device", "resumed_from_epoch", "resumed_from_batch", "num_threads", "torch"}


def _strip(x):
    if isinstance(x, dict):
        return {k: _strip(v) for k, v in x.items() if k not in VOLATILE}
    if isinstance(x, (list, tuple)):
        return [_strip(v) for v in x]
    return x


def _equal(a, b) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and bool(
            ((a == b) | (a.isnan() & b.isnan()) if a.is_floating_point() else a == b).all())
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return a == b


def _results(root: Path) -> dict[str, object]:
    """Every stored result below ``root`` (kind/hash.pt), its volatile fields removed."""
    return {p.relative_to(root).as_posix(): _strip(load_result(p))
            for p in sorted(root.glob("*/*.pt")) if "_ckpt" not in p.parent.name}


@pytest.fixture(scope="module")
def data_env(shared_data, cache_dir):
    with environ(ROBUSTLAB_DATA=str(shared_data), ROBUSTLAB_CACHE=str(cache_dir), TQDM_DISABLE="1"):
        yield


@pytest.fixture(scope="module")
def uninterrupted(data_env, tmp_path_factory):
    """The whole tiny campaign in one call: the reference."""
    root = tmp_path_factory.mktemp("camp_ref")
    assert campaign.main(["--profile", "tiny", "--results-dir", str(root)]) == 0
    return root / "tiny"


def test_units_are_declared_in_priority_order(data_env):
    cfg = resolve("campaign", {"profile": "paper"})
    names = [u.name for u in campaign.units(cfg)]
    # paper A: σ = 0 models, then noise, then blur, then evaluation, then attacks; then paper B
    first = {p: min(i for i, n in enumerate(names) if n.startswith(p))
             for p in ("a-train-resnet-clean", "a-train-resnet-noise", "a-train-resnet-blur", "a-eval-", "a-attack-",
                       "b-")}
    assert list(first.values()) == sorted(first.values())
    # 30 distinct models: 3 × (clean + 6 noise + 3 blur); identity blurs (σ < 0.125 px) are no model of their own;
    # the paper profile trains n_seeds = 3 replicates of each (units of replicate r ≥ 1 end in -s<r>)
    assert cfg.n_seeds == 3
    attacks = [n for n in names if n.startswith("a-attack-")]
    assert len(attacks) == 3 * 30 and not any(n.endswith(("blur-0.01", "blur-0.05", "blur-0.1")) for n in attacks)
    assert len([n for n in attacks if not n.endswith(("-s1", "-s2"))]) == 30
    assert len([n for n in names if n.startswith("a-train-")]) == 3 * 9
    # replicate 0 of everything first, then replicate 1, then 2
    rep = [2 if n.endswith("-s2") else 1 if n.endswith("-s1") else 0 for n in names if n.startswith("a-")]
    assert rep == sorted(rep)
    assert all(u.work(cfg)[1] > 0 for u in campaign.units(cfg))
    with pytest.raises(ParameterError, match="matches no unit"):
        campaign.select_units(campaign.units(cfg), "a-train-nothing*")
    assert [u.name for u in campaign.select_units(campaign.units(cfg), "a-eval-resnet-*")] == [
        "a-eval-resnet-noise", "a-eval-resnet-blur", "a-eval-resnet-noise-s1", "a-eval-resnet-blur-s1",
        "a-eval-resnet-noise-s2", "a-eval-resnet-blur-s2"]
    one = resolve("campaign", {"profile": "paper", "n_seeds": 1})
    assert [u.name for u in campaign.units(one)] == [n for n in names if not n.endswith(("-s1", "-s2"))]


def test_tiny_campaign_computes_chapter_12(uninterrupted):
    """The campaign computes the cross-paper chapter too: its units ran and stored the augmented models,
    their measures and the ImageNet fine-tunings with traditional augmentations."""
    cfg = resolve("campaign", {"profile": "tiny", "results_dir": str(uninterrupted.parent)})
    names = [u.name for u in campaign.units(cfg) if u.part == "beyond"]
    assert names == [f"x-{w}-{a}" for a in cfg.beyond_archs for w in ("train", "measure")] + ["x-imagenet"]
    log = campaign.read_log(uninterrupted)
    assert all(log["units"][n]["status"] == "done" for n in names)
    assert all(u.done(cfg) for u in campaign.units(cfg) if u.part == "beyond")
    for kind in ("beyond_model", "beyond_eval", "beyond_delta", "beyond_selection", "beyond-imagenet-match"):
        assert list(uninterrupted.glob(f"{kind}/*.pt")), kind
    paper = resolve("campaign", {"profile": "paper"})
    assert [u.name for u in campaign.units(paper) if u.part == "beyond"][-1] == "x-imagenet"
    assert {u.name for u in campaign.units(paper)} >= {f"x-measure-{a}" for a in ("resnet", "inception", "resnext")}


def test_blur_duplicates_share_keys():
    cfg = resolve("t", {"profile": "paper"})
    clean = grid.model_config(cfg, "resnet", "noise", 0.0)
    for s in (0.01, 0.05, 0.1):
        assert grid.is_duplicate("blur", s) and not grid.is_duplicate("noise", s)
        assert grid.model_config(cfg, "resnet", "blur", s) == clean  # training key
        for se in (0.0, 0.5, 5.0):  # every evaluation cell of the row is the σ = 0 row's
            assert grid.eval_config(cfg, "resnet", "blur", s, se) == grid.eval_config(cfg, "resnet", "blur", 0.0, se)
        assert grid.eval_config(cfg, "resnet", "blur", 0.5, s) == grid.eval_config(cfg, "resnet", "blur", 0.5, 0.0)
    assert grid.model_config(cfg, "resnet", "blur", 0.125) != clean  # radius 1 from σ = 0.125 on
    assert grid.distinct_sigmas(cfg, "blur") == [0.5, 1.0, 5.0]
    assert len(grid.distinct_sigmas(cfg, "noise")) == 6


def test_interrupted_campaign_equals_uninterrupted(uninterrupted, tmp_path):
    root = tmp_path / "r"
    # a deadline that has already passed: every call does one step and stops; twice inside one
    # training epoch (mid-epoch checkpoints), then with short deadlines until nothing is left
    pauses = 0
    for _ in range(2):
        rep = campaign.run(resolve("campaign", {"profile": "tiny", "results_dir": str(root)}),
                           campaign.select_units(campaign.units(resolve("campaign", {"profile": "tiny",
                                                                                     "results_dir": str(root)})),
                                                 "a-train-resnet-noise"), until=0.0, out=lambda *_: None)
        pauses += rep["partial"] is not None
    assert pauses == 2, "training did not stop at the deadline twice"
    ckpts = list((root / "tiny").glob("*_ckpt/*.pt"))
    assert ckpts, "no checkpoint was written at the deadline"
    calls = 0
    while True:
        calls += 1
        assert calls < 400  # each call makes progress (at least one stored step), so this ends
        lines: list[str] = []
        cfg = resolve("campaign", {"profile": "tiny", "results_dir": str(root)})
        rep = campaign.run(cfg, campaign.units(cfg), until=1.5, out=lines.append)
        pauses += rep["partial"] is not None or bool(rep["left"])
        if not rep["left"]:
            break
    assert pauses >= 3 and calls >= 2
    a, b = _results(uninterrupted), _results(root / "tiny")
    assert a.keys() == b.keys()
    diff = [k for k in a if not _equal(a[k], b[k])]
    assert not diff, f"results differ after interruptions: {diff[:5]}"
    log = campaign.read_log(root / "tiny")
    assert all(u["status"] == "done" for u in log["units"].values())
    assert log["units"]["a-train-resnet-noise"]["calls"] >= 3


def test_keys_hold_no_absolute_paths(uninterrupted, shared_data, cache_dir):
    bad = []
    for p in uninterrupted.glob("*/*.pt"):
        text = json.dumps(read_header(p)["config"])
        for s in (str(shared_data), str(cache_dir), str(uninterrupted.parent), str(REPO), "/tmp/", "/work/"):
            if s in text:
                bad.append((p.parent.name, s))
    assert not bad


def test_no_compute_refuses_with_the_unit_and_command(data_env, tmp_path, monkeypatch):
    cfg = resolve("t", {"profile": "tiny", "results_dir": str(tmp_path)})
    monkeypatch.setenv(budget.NO_COMPUTE_ENV, "1")
    with pytest.raises(ComputeRefused, match=r"python -m robustlab.campaign --profile tiny --only a-eval-resnet-noise"):
        grid.accuracy_matrix(cfg, "resnet", "noise", progress=False)
    with pytest.raises(ComputeRefused, match="a-train-inception-blur"):
        grid.get_model(cfg, "inception", "blur", 1.0, progress=False)
    assert not list(tmp_path.rglob("*.pt"))  # nothing was computed or written
    # the paper profile refuses on a machine without CUDA even when the variable is unset
    monkeypatch.delenv(budget.NO_COMPUTE_ENV)
    assert budget.compute_allowed("paper", "cpu") is False and budget.compute_allowed("quick", "cpu") is True
    # the profiles' device "auto" (what the results store is given) is CUDA where there is one
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert budget.compute_allowed("paper", "auto") is True and budget.compute_allowed("paper", "cpu") is False
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert budget.compute_allowed("paper", "auto") is False
    monkeypatch.setenv(budget.NO_COMPUTE_ENV, "0")
    assert budget.compute_allowed("paper", "cpu") is True


def test_published_fallback_is_read_only(uninterrupted, tmp_path):
    cfg = resolve("t", {"profile": "tiny", "results_dir": str(tmp_path / "empty")})
    conf = grid.eval_config(cfg, "resnet", "noise", 0.0, 0.0)
    st = ResultStore(tmp_path / "empty" / "tiny", uninterrupted, "tiny", "cpu")
    assert st.has("cifar_eval", conf) and st.get("cifar_eval", conf)["accuracy"] >= 0
    assert not (tmp_path / "empty").exists()  # reading wrote nothing


@pytest.mark.slow
def test_pack_unpack_publish_then_book_renders_without_computing(uninterrupted, tmp_path, shared_data, cache_dir):
    from robustlab.ops.pack import pack, unpack
    from robustlab.ops.publish import publish

    out = tmp_path / "packed"
    # the tiny campaign holds more weights than one default pack carries (the §6.2 fine-tunings of both
    # heads and chapter 12's): pack it whole with room for them, within the same per-file limit
    man = pack(uninterrupted, out, only_new=False, max_files=16)
    files = sorted(out.iterdir())
    assert 2 <= len(files) <= 16 and all(f.stat().st_size <= 15 * 2**20 for f in files) and not man["left"]
    fresh = tmp_path / "fresh" / "tiny"
    unpack(files, fresh)
    src = {p.relative_to(uninterrupted): p.read_bytes() for p in uninterrupted.glob("*/*.pt")}
    got = {p.relative_to(fresh): p.read_bytes() for p in fresh.glob("*/*.pt")}
    assert {k for k in src if "_ckpt" not in str(k)} <= set(got) and all(got[k] == src[k] for k in got)
    # publish the unpacked records (no weights) and render every chapter from them alone
    pub = tmp_path / "published"
    cfg = resolve("campaign", {"profile": "tiny", "results_dir": str(fresh.parent)})
    publish(cfg, pub / "tiny")
    assert not [p for p in (pub / "tiny").rglob("*") if p.parent.name.endswith(("_model", "-model", "_ckpt"))]
    manifest = json.loads((pub / "tiny" / "manifest.json").read_text())
    assert manifest["units"] and manifest["files"]
    assert manifest["complete"] is False and manifest["units_left"] is None  # not told: not complete
    with environ(ROBUSTLAB_PUBLISHED=str(tmp_path / "via-cli")):  # the campaign's --publish knows what is left
        assert campaign.main(["--profile", "tiny", "--results-dir", str(fresh.parent), "--publish", "--no-run"]) == 0
    via_cli = json.loads((tmp_path / "via-cli" / "tiny" / "manifest.json").read_text())
    assert via_cli["complete"] is True and via_cli["units_left"] == []
    some = next(iter(manifest["units"].values()))  # what the published CPU run must state for every unit
    assert some["device"] and some["torch"] and some["wall_s"] is not None
    assert some["precision"].startswith("paper A ") and ", paper B fp32" in some["precision"]
    env = {**os.environ, "ROBUSTLAB_NO_COMPUTE": "1", "ROBUSTLAB_PUBLISHED": str(pub),
           "ROBUSTLAB_DATA": str(shared_data), "ROBUSTLAB_CACHE": str(cache_dir), "TQDM_DISABLE": "1"}
    book_root = tmp_path / "bookroot"
    shutil_copy_book(book_root)
    empty = tmp_path / "render"
    r = subprocess.run([sys.executable, "-m", "robustlab.book", "--profile", "tiny", "--no-build",
                        "--root", str(book_root), "--param", f"results_dir={empty}"],
                       env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    executed = sorted(p.stem for p in (book_root / "book" / "executed").glob("*.ipynb"))
    assert len(executed) == 12, executed
    assert not list(empty.rglob("*.pt")), "something was computed while rendering"
    rec = json.loads((empty / "tiny" / "records" / "03_noise_training.json").read_text())
    assert rec["provenance"]["computed_by"], "the page does not say where its numbers were computed"


def test_campaign_needs_no_jupyter(data_env):
    """The GPU machine has torch but no papermill/Jupyter: the campaign must not import them."""
    code = ("import sys\n"
            "for m in ('papermill', 'nbformat', 'IPython', 'ipywidgets', 'jupyter_book', 'nbclient'):\n"
            "    sys.modules[m] = None\n"
            "from robustlab.ops import campaign\n"
            "sys.exit(campaign.main(['--profile', 'paper', '--dry-run', '--only', 'a-train-resnet-*']))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "a-train-resnet-clean" in r.stdout and "PFLOP" in r.stdout


def test_training_and_attacking_are_refused_under_no_compute(monkeypatch):
    from robustlab.attacks import minimal_change
    from robustlab.paper_a.nets import build

    monkeypatch.setenv(budget.NO_COMPUTE_ENV, "1")
    with pytest.raises(ComputeRefused, match="attacking is refused"):
        minimal_change(build("resnet", width=1 / 16), torch.zeros(1, 3, 32, 32), torch.zeros(1, dtype=torch.long))
    from robustlab.paper_a.training import train

    with pytest.raises(ComputeRefused, match="training is refused"):
        train(build("resnet", width=1 / 16), np.zeros((4, 32, 32, 3), np.uint8), np.zeros(4, np.int64), kind="noise",
              sigma=0.1, epochs=1, batch_size=2, lr=0.1, progress=False)


@pytest.mark.slow
def test_book_page_names_the_missing_unit(data_env, tmp_path, monkeypatch):
    """A chapter whose results are missing where computing is refused becomes a placeholder that
    names the campaign unit and command; the run goes on (nothing computed, nothing fails silently)."""
    from robustlab.book import runner as book
    monkeypatch.setenv(budget.NO_COMPUTE_ENV, "1")
    monkeypatch.setenv("ROBUSTLAB_PUBLISHED", str(tmp_path / "nothing-published"))
    root = tmp_path / "bookroot"
    shutil_copy_book(root)
    book.run_book(profile="tiny", only="03_noise_training", params={"results_dir": str(tmp_path / "r")},
                  build=False, root=root)
    page = (root / "book" / "executed" / "03_noise_training.md").read_text()
    assert "Not computed yet" in page and "python -m robustlab.campaign --profile tiny --only a-" in page
    assert not list((tmp_path / "r").rglob("*.pt"))
