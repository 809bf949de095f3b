"""Replicates (``n_seeds`` training seeds per paper-A model) and per-image correctness in every cell:
replicate 0 keeps the keys models always had, further replicates train with ``seed + r`` on the
same data and are evaluated/attacked on the same test items (paired); the figures show intervals."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import count_calls, same_state
from robustlab.core.params import resolve
from robustlab.core.results import ResultStore
from robustlab.ops import campaign
from robustlab.paper_a import delta, grid
from robustlab.paper_a.describe import describe_run

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def cfg(shared_data, cache_dir, tmp_path):
    return resolve("test_seeds", {"profile": "tiny", "data_dir": str(shared_data), "cache_dir": str(cache_dir),
                                  "results_dir": str(tmp_path), "archs": ["resnet"], "sigmas": [0.0, 0.5],
                                  "train_subset": 40, "test_subset": 20, "epochs": 1, "batch_size": 20,
                                  "width": 1 / 16, "device": "cpu", "n_seeds": 2, "n_attack_images": 2,
                                  "attack_steps": 3})


def test_replicate0_keys_are_the_one_seed_keys(cfg):
    one = type(cfg)({**cfg, "n_seeds": 1})
    for kind, s in (("noise", 0.0), ("noise", 0.5), ("blur", 0.05), ("blur", 0.5)):
        m0 = grid.model_config(cfg, "resnet", kind, s, replicate=0)
        assert m0 == grid.model_config(one, "resnet", kind, s) and "data_seed" not in m0
        assert grid.eval_config(cfg, "resnet", kind, s, 0.5) == grid.eval_config(one, "resnet", kind, s, 0.5)
        assert delta.attack_config(cfg, "resnet", kind, s) == delta.attack_config(one, "resnet", kind, s)
        m1 = grid.model_config(cfg, "resnet", kind, s, replicate=1)
        assert m1 == {**m0, "seed": int(cfg.seed) + 1, "data_seed": int(cfg.seed)}
        assert grid.replicate_of(m0) == 0 and grid.replicate_of(m1) == 1
        e0, e1 = (grid.eval_config(cfg, "resnet", kind, s, 1.0, replicate=r) for r in (0, 1))
        assert e0["per_image"] is True and {k: v for k, v in e1.items() if k != "model"} == {
            k: v for k, v in e0.items() if k != "model"}  # the same test items and corruption draws
        a1 = delta.attack_config(cfg, "resnet", kind, s, replicate=1)
        assert a1["model"] == m1 and a1["image_seed"] == a1["seed"] == int(cfg.seed)
    assert grid.n_seeds(cfg) == 2 and grid.n_seeds(one) == 1
    # replicate 1 of seed 0 is not replicate 0 of seed 1 (different training data)
    other = type(cfg)({**cfg, "seed": 1})
    assert grid.model_config(other, "resnet", "noise", 0.5) != grid.model_config(cfg, "resnet", "noise", 0.5, 1)


def test_replicates_differ_in_weights_share_test_items(cfg, monkeypatch):
    calls = count_calls(monkeypatch, grid, "train", "evaluate_many")
    cor = grid.correct_cells(cfg, "resnet", "noise", progress=False)
    assert cor.dtype == bool and cor.shape == (2, 2, 2, 20)
    assert calls == {"train": 4, "evaluate_many": 4}  # 2 replicates × 2 models; 2 replicates × 2 columns
    accs = grid.accuracy_matrices(cfg, "resnet", "noise", progress=False)
    assert accs.shape == (2, 2, 2) and np.array_equal(cor.mean(-1), accs)
    assert calls == {"train": 4, "evaluate_many": 4}  # all cached now
    assert np.array_equal(grid.accuracy_matrix(cfg, "resnet", "noise", progress=False), accs[0])
    assert np.array_equal(grid.accuracy_matrix(cfg, "resnet", "noise", progress=False, replicate=1), accs[1])
    # the stored cells hold the accuracy and the per-image array it is the mean of
    st = ResultStore(cfg.results)
    hit = st.get("cifar_eval", grid.eval_config(cfg, "resnet", "noise", 0.5, 0.0, replicate=1))
    assert hit["correct"].dtype == bool and hit["accuracy"] == hit["correct"].mean()
    assert np.array_equal(hit["correct"], cor[1, 1, 0])
    # weights differ between replicates; records say which seed trained them
    a = grid.get_model(cfg, "resnet", "noise", 0.5, progress=False)
    b = grid.get_model(cfg, "resnet", "noise", 0.5, progress=False, replicate=1)
    assert not same_state(a, b)
    assert grid.has_model(cfg, "resnet", "noise", 0.5, replicate=1)
    assert not grid.has_model(cfg, "resnet", "noise", 0.5, replicate=2)
    assert grid.model_record(cfg, "resnet", "noise", 0.5, replicate=1)["n_train"] == 40
    assert list(grid.timings(cfg, "resnet", "noise", replicate=1)) == ["0", "0.5"]
    # replicate 0 trained alone with n_seeds = 1 is the same model (same key, bit-identical on CPU)
    one = type(cfg)({**cfg, "n_seeds": 1, "results_dir": str(cfg.results_dir) + "-one"})
    assert same_state(a, grid.get_model(one, "resnet", "noise", 0.5, progress=False))
    assert "trained 2 times" in describe_run(cfg) and "One training seed" in describe_run(one)


def test_stacked_training_per_replicate(cfg, monkeypatch):
    on = type(cfg)({**cfg, "stack_models": "on", "sigmas": [0.0, 0.5, 1.0]})
    calls = count_calls(monkeypatch, grid, "train_many", "train")
    accs = grid.accuracy_matrices(on, "resnet", "noise", progress=False)
    assert accs.shape == (2, 3, 3) and calls == {"train_many": 2, "train": 0}  # one stack per replicate
    a = grid.get_model(on, "resnet", "noise", 1.0, progress=False)
    b = grid.get_model(on, "resnet", "noise", 1.0, progress=False, replicate=1)
    assert not same_state(a, b)
    # replicate 1 in a stack is replicate 1 trained alone (the same initial weights and seed), up to rounding
    off = type(on)({**on, "stack_models": "off", "results_dir": str(on.results_dir) + "-off"})
    c = grid.get_model(off, "resnet", "noise", 1.0, progress=False, replicate=1)
    sb, sc = b.state_dict(), c.state_dict()
    assert all(torch.allclose(sb[k].float(), sc[k].float(), atol=2e-2, rtol=1e-2) for k in sb)


def test_identity_blur_rows_in_correct_cells(cfg):
    c = type(cfg)({**cfg, "sigmas": [0.0, 0.05, 0.5]})
    cor = grid.correct_cells(c, "resnet", "blur", progress=False)
    assert cor.shape == (2, 3, 3, 20)
    assert np.array_equal(cor[:, 1], cor[:, 0]) and np.array_equal(cor[:, :, 1], cor[:, :, 0])
    shown, sig = grid.distinct_view({"resnet": cor}, c.sigmas, "blur")
    assert sig == [0.0, 0.5] and shown["resnet"].shape == (2, 2, 2, 20)
    stacks, _ = grid.distinct_view({"resnet": cor.mean(-1)}, c.sigmas, "blur")
    assert stacks["resnet"].shape == (2, 2, 2)


def test_delta_run_all_has_every_replicate(cfg):
    df = delta.run_all(cfg, kinds=("noise",), progress=False)
    assert sorted(df["seed"].unique()) == [0, 1] and len(df) == 2 * 2 * 2  # replicates × σ × images
    # every replicate is attacked on the same images
    imgs = df.groupby("seed")["image"].apply(lambda s: sorted(s.unique()))
    assert imgs[0] == imgs[1]
    s = delta.summarize(df)
    assert len(s) == 4 and set(s["seed"]) == {0, 1}
    by = delta.model_means_by_seed(df.assign(success=True))
    assert by.index.names == ["arch", "kind", "sigma_train", "seed"] and len(by) == 4
    mm = delta.model_means(df.assign(success=True))
    assert len(mm) == 2
    np.testing.assert_allclose(mm.to_numpy(), df.groupby(["arch", "kind", "sigma_train"])["mean_abs_8bit"].mean())
    # replicate 0's results are the one-seed campaign's (the same key)
    one = type(cfg)({**cfg, "n_seeds": 1})
    d1 = delta.run_all(one, kinds=("noise",), progress=False)
    assert (d1["seed"] == 0).all() and len(d1) == 4
    assert np.array_equal(d1["mean_abs_8bit"].to_numpy(), df[df["seed"] == 0]["mean_abs_8bit"].to_numpy(),
                          equal_nan=True)


def test_campaign_lists_replicate_units(shared_data, cache_dir, tmp_path):
    cfg = resolve("campaign", {"profile": "tiny", "results_dir": str(tmp_path), "archs": ["resnet"],
                               "sigmas": [0.0, 0.5], "n_seeds": 2})
    names = [u.name for u in campaign.units(cfg, parts=("paper-a",))]
    r0 = ["a-train-resnet-clean", "a-train-resnet-noise", "a-train-resnet-blur", "a-eval-resnet-noise",
          "a-eval-resnet-blur", "a-attack-resnet-clean", "a-attack-resnet-noise-0.5", "a-attack-resnet-blur-0.5"]
    # replicate 0 of everything first; Fig. 6's cross matrix (a-cross-*) is read for replicate 0 only
    assert names == r0[:5] + ["a-cross-resnet"] + r0[5:] + [n + "-s1" for n in r0]
    units = {u.name: u for u in campaign.units(cfg, parts=("paper-a",))}
    assert units["a-eval-resnet-noise-s1"].deps == ("a-train-resnet-clean-s1", "a-train-resnet-noise-s1")
    assert units["a-attack-resnet-noise-0.5-s1"].deps == ("a-train-resnet-noise-s1",)
    assert units["a-train-resnet-noise-s1"].work(cfg) == units["a-train-resnet-noise"].work(cfg)
    assert "seed 1" in units["a-train-resnet-noise-s1"].what
    m1 = grid.model_config(cfg, "resnet", "noise", 0.5, replicate=1)
    assert campaign.unit_for("cifar_model", m1) == "a-train-resnet-noise-s1"
    assert campaign.unit_for("cifar_eval", grid.eval_config(cfg, "resnet", "blur", 0.0, 0.5, 1)) == \
        "a-eval-resnet-blur-s1"
    assert campaign.unit_for("delta", delta.attack_config(cfg, "resnet", "noise", 0.0, 1)) == "a-attack-resnet-clean-s1"
    assert campaign.unit_for("delta", delta.attack_config(cfg, "resnet", "noise", 0.5)) == "a-attack-resnet-noise-0.5"
    assert "replicate 1" in campaign.describe_result("cifar_model", m1)
    lines: list[str] = []
    campaign._dry_run(cfg, campaign.units(cfg, parts=("paper-a",)), out=lines.append)
    assert any(line.startswith("a-eval-resnet-blur-s1") and "todo" in line for line in lines)
    assert lines[-1].startswith("0 of 17 units done")


def test_figures_and_tables_with_seed_intervals():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from robustlab.book.plots import attacks as pa
    from robustlab.book.plots import grids as pg
    from robustlab.core.stats import t_quantile

    sig = [0.0, 1.0]
    stack = np.array([[[0.8, 0.2], [0.5, 0.6]], [[0.7, 0.3], [0.5, 0.4]], [[0.9, 0.1], [0.5, 0.5]]])
    mean, hw, k = pg.mean_and_halfwidth(stack)
    assert k == 3 and np.allclose(mean, stack.mean(0))
    np.testing.assert_allclose(hw, t_quantile(2) * stack.std(0, ddof=1) / np.sqrt(3))
    fig = pg.plot_accuracy_curves({("resnet", "noise"): stack}, sig, "noise")
    ax = fig.axes[0]
    assert len(ax.lines) == 2 + 1 and len(ax.collections) == 2  # 2 mean lines + chance; 2 bands
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 100 * mean[:, 0])
    f2 = pg.accuracy_curves_figure({"resnet": stack[:1]}, sig, "resnet", "noise")  # one seed: no band
    assert len(f2.axes[0].collections) == 0
    t = pg.matrix_table(stack, sig, "noise")
    assert t.loc["0", "0"] == f"80.0 ± {100 * hw[0, 0]:.1f}"
    assert pg.matrix_table(stack[:1], sig).loc["1", "1"] == 60.0  # a one-seed stack is a plain matrix
    # delta: a seed column with two replicates → the mean over seeds with a t-interval over seeds
    rows = []
    for seed, shift in ((0, 0.0), (1, 1.0)):
        for s in (0.0, 0.5):
            for img, v in enumerate((1.0, 3.0)):
                rows.append({"arch": "resnet", "kind": "noise", "sigma_train": s, "seed": seed, "image": img,
                             "success": True, "correct": True, "mean_abs_8bit": v + shift + s})
    df = pd.DataFrame(rows)
    fig = pa.plot_delta_vs_sigma(df, "noise")
    line = fig.axes[0].lines[0]
    np.testing.assert_allclose(line.get_ydata(), [2.5, 3.0])  # mean of the seed means (2, 3) (+σ)
    seg = fig.axes[0].collections[0].get_segments()[0]
    np.testing.assert_allclose(seg[1, 1] - seg[0, 1], 2 * t_quantile(1) * np.std([2, 3], ddof=1) / np.sqrt(2))
    fig1 = pa.plot_delta_vs_sigma(df[df["seed"] == 0], "noise")  # one seed: ± standard error over images
    seg1 = fig1.axes[0].collections[0].get_segments()[0]
    np.testing.assert_allclose(seg1[1, 1] - seg1[0, 1], 2 * np.std([1, 3], ddof=1) / np.sqrt(2))
    pa.plot_delta_vs_sigma(df.drop(columns="seed"), "noise")  # the old table form
    plt.close("all")
