"""Paper B's per-model runs take the model name as an argument (issue 27, item 3): the cache keys they
build are byte-identical to those of the old path, where each model got a cloned config
(``for_model``: ``model_name`` set, the run's list kept in an undeclared ``"models"`` entry)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

import robustlab.paper_b.experiments as pbx
from robustlab.core.errors import EmptySelectionError
from robustlab.core.params import resolve
from robustlab.core.results import config_hash
from robustlab.data.imagenet import source_key
from robustlab.paper_b import classifiers as clf
from robustlab.paper_b import selection as sel_mod


def _old_model_names(cfg) -> list[str]:
    """classifiers.model_names as it was (read the undeclared ``"models"`` first)."""
    if cfg.get("models"):
        return list(cfg["models"])
    if cfg.get("model_name"):
        return [cfg.model_name]
    return list(dict.fromkeys(cfg.get("model_names") or ["mobilenet_v2"]))


def _old_for_model(cfg, name: str):
    """The removed classifiers.for_model, kept here only as the reference of the keys."""
    weights = cfg.get("weights") if name == cfg.get("model_name") else None
    return type(cfg)({**cfg, "models": _old_model_names(cfg), "model_name": name, "weights": weights})


def _old_selection_models(cfg, names: list[str]) -> dict:
    if len(names) == 1:
        return clf.model_key(_old_for_model(cfg, names[0]))
    return {"models": [clf.model_key(_old_for_model(cfg, m)) for m in names]}


def _cfgs(tmp_path, shared_data):
    common = {"data_dir": str(shared_data), "results_dir": str(tmp_path / "r")}
    out = [resolve("t", {"profile": p, **common}) for p in ("quick", "paper")]
    # one model named, with its own weights file (the key holds the file's name and SHA-256)
    w = tmp_path / "mine.pth"
    w.write_bytes(b"not really weights, but a file with a hash")
    out.append(resolve("t", {"profile": "quick", **common, "model_name": "squeezenet1_1", "weights": str(w)}))
    return out


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("ROBUSTLAB_OFFLINE", "1")
    monkeypatch.setattr(clf, "_downloaded", lambda *a: False)
    clf._AVAILABLE.clear()


def test_model_keys_unchanged(tmp_path, shared_data, offline):
    """model_key(cfg, name) and the selection key equal what for_model(cfg, name) gave, for every
    model of the quick and paper profiles (and a named model with its own weights file)."""
    checked = 0
    for cfg in _cfgs(tmp_path, shared_data):
        names = clf.model_names(cfg)
        assert names == _old_model_names(cfg)
        for n in set(names) | {"mobilenet_v2", "resnet101"}:
            if cfg.get("model_name") and n != cfg.model_name:
                continue
            old = clf.model_key(_old_for_model(cfg, n))
            new = clf.model_key(cfg, n)
            assert new == old and config_hash(new) == config_hash(old), (cfg.profile, n)
            assert clf.weights_arg(cfg, n) == clf.weights_arg(_old_for_model(cfg, n))
            checked += 1
        for ns in ([names[0]], names):
            new = sel_mod._selection_key(cfg, 10, names=list(ns))
            old = {"what": new["what"], **_old_selection_models(cfg, list(ns)), "n": 10,
                   "splits": list(sel_mod.SELECTION_SPLITS), "seed": cfg.seed,
                   **source_key(cfg.get("data_dir"), sel_mod.SELECTION_SPLITS)}
            assert config_hash(new) == config_hash(old)
    assert checked >= 8
    named = _cfgs(tmp_path, shared_data)[-1]
    assert clf.model_key(named, "squeezenet1_1")["weights"] == "mine.pth"  # the named model's own file
    assert "models" not in named


def test_per_model_data_keys(tmp_path, shared_data, offline, monkeypatch):
    """Experiments 1-4's data key for model m is the old key of for_model(cfg, m) — and each model of a
    per-model run gets its own, though the images are loaded once (the cache of the selected images once
    handed every model the first model's key)."""
    cfg = resolve("t", {"profile": "paper", "data_dir": str(shared_data), "results_dir": str(tmp_path / "r")})
    items = [("val", None, 3), ("val", None, 7)]
    fake = {"items": items, "labels": np.zeros(2, dtype=np.int64)}
    loads = []
    monkeypatch.setattr(pbx, "select_correct", lambda c, model=None, model_name=None: fake)
    monkeypatch.setattr(pbx, "selected_images", lambda c, s: loads.append(1) or (np.zeros((2, 4, 4, 3), np.uint8),
                                                                                   s["labels"]))
    pbx._Data._cache.clear()
    keys = {}
    for n in ("resnet101", "squeezenet1_1", "mobilenet_v2"):
        *_, dkey = pbx._Data.get(cfg, object(), n)
        old = {**clf.model_key(_old_for_model(cfg, n)), "selection": config_hash({"items": items}),
               **source_key(cfg.get("data_dir"))}
        assert config_hash(dkey) == config_hash(old)
        keys[n] = config_hash(dkey)
    assert len(set(keys.values())) == 3 and len(loads) == 1
    pbx._Data._cache.clear()


class _Always(torch.nn.Module):
    """A 'classifier' that answers class ``c`` for every image."""

    def __init__(self, c: int):
        super().__init__()
        self.c, self.w = c, torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        out = torch.zeros(len(x), 10) + self.w
        out[:, self.c] = 1.0
        return out


def test_a_loaded_model_is_used_only_for_its_own_selection(tmp_path, monkeypatch):
    """select_correct(model=m, model_name=n) uses m only where the selection is made for n: a selection for
    another model (the paper's five, with n an extra) loads that model instead of misusing m."""
    cfg = resolve("t", {"profile": "tiny", "results_dir": str(tmp_path), "n_images": 3, "eval_batch_size": 4})
    class _Split(SimpleNamespace):
        def __len__(self):
            return len(self.labels)

    split = _Split(names=[f"i{j}" for j in range(8)], images=np.zeros((8, 4, 4, 3), np.uint8),
                   labels=np.zeros(8, np.int64))
    monkeypatch.setattr(sel_mod, "load_split", lambda c, s, pc: split)
    monkeypatch.setattr(sel_mod, "throughput", lambda *a, **k: 1.0)
    monkeypatch.setattr(sel_mod, "_run_models", lambda c, joint=True, model_name=None: ["squeezenet1_1"])
    monkeypatch.setattr(sel_mod, "load_model", lambda c, name=None: _Always(0))  # squeezenet: right on all
    monkeypatch.setattr(sel_mod, "model_key", lambda c, name=None: {"model": name})
    got = sel_mod.select_correct(cfg, splits=("val",), model=_Always(1), model_name="mobilenet_v2")
    assert len(got["items"]) == 3 and got["models"] == ["squeezenet1_1"]  # the extra's (wrong) answers unused
    with pytest.raises(EmptySelectionError):  # the model given is used when the selection is its own
        sel_mod.select_correct(cfg, n=2, splits=("val",), model=_Always(1), model_name="squeezenet1_1")
