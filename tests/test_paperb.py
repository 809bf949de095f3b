"""robustlab.paper_b.experiments: seeded, cached pixel-change runs; Pi tables; claims."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import robustlab.paper_b as pb
import robustlab.paper_b.experiments as pbx
from robustlab.core.params import resolve
from robustlab.core.seeds import derive_seed


class Counting(nn.Module):
    """A tiny deterministic 'classifier' on [0, 1] NCHW input that counts its calls."""

    def __init__(self, classes: int = 5):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                                 nn.Linear(16, classes))
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.net(x)


@pytest.fixture
def cfg(tmp_path):
    return resolve("t", {"profile": "tiny", "results_dir": str(tmp_path), "n_repeats": 2, "eval_batch_size": 3})


def _data(n=10, size=16):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_changed_predictions_seeded_and_batch_size_independent():
    m = Counting().eval()
    x = _data()
    a = pbx.changed_predictions(m, x, 20, None, None, seed=7, batch_size=3)
    b = pbx.changed_predictions(m, x, 20, None, None, seed=7, batch_size=10)
    assert np.array_equal(a, b)
    assert a.shape == (10,)
    # a different seed draws different changes (compare the changed images, not the predictions)
    from robustlab.paper_b.pixels import change_pixels
    g1, g2 = derive_seed(7, 0), derive_seed(8, 0)
    assert not np.array_equal(change_pixels(x, 20, None, None, g1), change_pixels(x, 20, None, None, g2))


def test_pixel_runs_cached_and_keyed(cfg):
    m = Counting().eval()
    x = _data()
    labels = pb.predict(m, x, 4).numpy()
    r1 = pb.pixel_runs(cfg, m, x, labels, n_pixels=64, data_key={"d": 1})
    calls = m.calls
    r2 = pb.pixel_runs(cfg, m, x, labels, n_pixels=64, data_key={"d": 1})
    assert m.calls == calls, "a re-run must not evaluate the model again"
    assert np.array_equal(r1["wrong"], r2["wrong"]) and r1["wrong"].shape == (2, 10)
    pb.pixel_runs(cfg, m, x, labels, n_pixels=32, data_key={"d": 1})
    assert m.calls > calls, "another setting is another result"
    # whole-image window and area=None share one result
    calls = m.calls
    pb.pixel_runs(cfg, m, x, labels, n_pixels=64, area=16, data_key={"d": 1})
    assert m.calls == calls
    assert 0 <= r1["rate"]["mean"] <= 1


def test_rows_and_pixel_index(cfg):
    m = Counting().eval()
    x = _data(12)
    y = pb.predict(m, x, 4).numpy()
    t = pbx.pixel_rows(cfg, m, x, y, {"d": 2}, [{"n_pixels": p} for p in (1, 64, 256)], progress=False)
    assert list(t["n_pixels"]) == [1, 64, 256] and (t["images"] == 12).all()
    assert np.allclose(t["accuracy"], 1 - t["wrong_rate"])
    for r in t.itertuples():  # the interval is over the images, of each image's mean over the repeats
        assert r.per_image.shape == (12,) and r.per_image.mean() == pytest.approx(r.wrong_rate)
        assert r.wrong_rate_lo <= r.wrong_rate <= r.wrong_rate_hi and r.repeats == 2
    c = pb.pixel_index_curve(t, image_size=16)
    for r in c.itertuples():
        assert r.Pi == pytest.approx(r.wrong_rate / (r.n_pixels / 256)) if r.wrong_rate else r.Pi == 0
        assert r.Pi_min <= r.Pi + 1e-12 <= r.Pi_max + 2e-12
        assert r.Pi_lo == pytest.approx(r.wrong_rate_lo / (r.n_pixels / 256))
        assert r.Pi_hi == pytest.approx(r.wrong_rate_hi / (r.n_pixels / 256))
    tab = pb.pixel_index_table(cfg, t, "toy", n_pixels=64, image_size=16)
    assert tab["n_pixels"].iloc[0] == 64 and tab["Pi"].iloc[0] == pytest.approx(c["Pi"].iloc[1])
    assert tab["Pi_lo"].iloc[0] <= tab["Pi"].iloc[0] <= tab["Pi_hi"].iloc[0]
    # one draw per setting (the exp. 2/3 grids of the quick profile): the first draw of the stored two-draw run
    calls = m.calls
    one = pbx.pixel_rows(cfg, m, x, y, {"d": 2}, [{"n_pixels": 64}], progress=False, repeats=1)
    assert one["repeats"].iloc[0] == 1 and m.calls == calls, "taken from the stored run, not recomputed"
    two = pb.pixel_runs(cfg, m, x, y, n_pixels=64, data_key={"d": 2})["wrong"]
    assert np.array_equal(one["per_image"].iloc[0], two[0])
    fresh = pbx.pixel_rows(cfg, m, x, y, {"d": 2}, [{"n_pixels": 32}], progress=False, repeats=1)  # computed
    assert m.calls > calls and np.array_equal(fresh["per_image"].iloc[0],
                                              pb.pixel_runs(cfg, m, x, y, n_pixels=32, data_key={"d": 2})["wrong"][0])


def test_tables_and_figures_show_intervals(cfg):
    import matplotlib.pyplot as plt

    from robustlab.book.plots import pixels as pp

    m = Counting().eval()
    x = _data(12)
    y = pb.predict(m, x, 4).numpy()
    t = pbx.pixel_rows(cfg, m, x, y, {"d": 3}, [{"n_pixels": p} for p in (1, 64)], progress=False)
    tab = pp.pixel_table(t)
    assert "wrong (%) [95 % interval]" in tab.columns and "sd over repeats (pts)" in tab.columns
    assert all("[" in v for v in tab["wrong (%) [95 % interval]"])
    wide = pp.pixel_table(t.assign(area=[16, 16]), index="area", columns="n_pixels")
    assert all("[" in v for v in wide.to_numpy().ravel())
    fig = pp.pixel_count_figure({"toy": t})
    plt.close(fig)
    fig = pp.pixel_index_figure({"toy": pb.pixel_index_curve(t, image_size=16)})
    plt.close(fig)


def test_fgsm_changed_share(cfg):
    x = _data(5)
    adv = x.copy()
    adv[0, :8, :, 0] ^= 1  # half of image 0's pixels, one channel
    adv[2] ^= 3  # every pixel of image 2
    share = pbx.fgsm_changed_share(cfg, {"adv": lambda: adv}, x, {"d": 4})
    assert share.tolist() == [0.5, 0.0, 1.0, 0.0, 0.0]
    again = pbx.fgsm_changed_share(cfg, {"adv": lambda: 1 / 0}, x, {"d": 4})  # cached: never recomputed
    assert again.tolist() == share.tolist()


def test_augmentation_has_the_fine_tuned_control(cfg, monkeypatch):
    """§6.2 with a toy model on 16×16 images: the k = 0 control is fine-tuned (same images, epochs, lr;
    no pixel changed), stored, and in Table 10/11, the effects and the claims."""
    import functools

    import robustlab.core.stats as stats
    import robustlab.paper_b.augment as aug
    import robustlab.paper_b.claims as pbc

    quick = functools.partial(stats.bootstrap, n_boot=200)  # the numbers are not judged here: stay fast
    for mod in (stats, pbc, pbx):
        monkeypatch.setattr(mod, "bootstrap", quick)
    c = resolve("t", {**{k: v for k, v in cfg.items() if not k.startswith("_") and k != "notebook"},
                      "aug_pixel_counts": [4, 64], "aug_test_images": 12, "aug_train_images": 12,
                      "fgsm_eps": 64.0, "grid_pixel_counts": [64], "aug_lr": 0.01})
    base = Counting().eval()
    test_x, train_x = _data(12), np.random.default_rng(1).integers(0, 256, (12, 16, 16, 3), dtype=np.uint8)
    test_y = pb.predict(base, test_x, 4).numpy()  # the base model is right on every held-out image
    monkeypatch.setattr(aug, "model_key", lambda cfg: {"model": "toy"})
    monkeypatch.setattr(aug, "select_correct", lambda cfg, n, splits, model, joint: {"items": list(range(n))})
    monkeypatch.setattr(aug, "selected_images", lambda cfg, sel: (test_x, test_y))
    monkeypatch.setattr(aug, "_train_set", lambda cfg: (train_x, pb.predict(base, train_x, 4).numpy()))
    seen = []
    real = aug.change_pixels
    monkeypatch.setattr(aug, "change_pixels", lambda x, k, *a, **kw: seen.append(k) or real(x, k, *a, **kw))
    res = aug.augmentation(c, base, progress=False)
    assert set(seen) == {0, 4, 64}  # the control's training images are unchanged
    e = res["exp1"]
    assert list(dict.fromkeys(e["model"])) == ["base", aug.CONTROL, "k=4", "k=64"]
    assert set(e[e["model"] == aug.CONTROL]["n_pixels"]) == {0, 64}
    assert (e["wrong_rate_lo"] <= e["wrong_rate"] + 1e-12).all()
    assert (e["wrong_rate"] <= e["wrong_rate_hi"] + 1e-12).all()
    assert all(len(v) == 12 for v in e["per_image"])
    assert e[(e["model"] == "base") & (e["n_pixels"] == 0)]["wrong_rate"].iloc[0] == 0
    t10, t11 = aug.augmentation_tables(res)
    assert aug.CONTROL in t10.index
    if len(res["fgsm"]):
        assert aug.CONTROL in t11.index and "vs control (pts) [95 % interval]" in t11.columns
    eff = aug.augmentation_effects(res)
    assert set(eff["model"]) == {"base", "k=4", "k=64"} and (eff["effect_lo"] <= eff["effect_hi"]).all()
    claims = {x.id: x for x in pb.claims_augmentation(res)}
    assert {"B-aug-random", "B-aug-small-k", "B-aug-clean", "B-aug-fgsm"} <= set(claims)
    assert claims["B-aug-random"].interval is not None
    seen.clear()
    again = aug.augmentation(c, base, progress=False)  # everything stored: nothing trained again
    assert seen == [] and list(again["exp1"]["wrong_rate"]) == list(e["wrong_rate"])
    # the FGSM ε sweep of Table 11: at fgsm_eps it is Table 11 itself (the same stored predictions)
    sw = aug.augmentation_fgsm_sweep(c, base, progress=False)
    assert seen == [] and set(sw["eps"]) <= set(pb.fgsm_eps_values(c)) == {1.0, 8.0, 64.0}
    assert len(sw) == len(pb.fgsm_eps_values(c)) * 4 * (len(res["fgsm"]) > 0)  # 4 models per step that fools
    if len(res["fgsm"]):
        at = sw[sw["decides"]].set_index("model")["still_fooling_rate"]
        assert at.to_dict() == res["fgsm"].set_index("model")["still_fooling_rate"].to_dict()
    # the N-class head: its own control and k models, fine-tuned anew; the base rows are the same
    n = aug.augmentation(c, base, progress=False, head="N-class")
    assert set(seen) == {0, 4, 64} and n["head"] == "N-class" and res["head"] == "1000-class"
    nb_, eb = n["exp1"][n["exp1"]["model"] == "base"], e[e["model"] == "base"]
    assert list(nb_["wrong_rate"]) == list(eb["wrong_rate"])
    classes = set(np.unique(pb.predict(base, train_x, 4).numpy()).tolist())
    tuned = aug.finetuned_model(c, base, 4, progress=False, head="N-class")
    assert set(pb.predict(tuned, test_x, 4).numpy().tolist()) <= classes  # never a class outside the training set


def test_class_subset_head_is_an_n_way_layer_of_the_pretrained_rows():
    import robustlab.paper_b.augment as aug

    base = Counting(classes=6).eval()
    head = aug.ClassSubsetHead(base, [4, 1])
    x = torch.rand(8, 3, 16, 16)
    z, full = head(x), base(x)
    assert set(z.argmax(1).tolist()) <= {1, 4}  # never a class outside the training set
    y = torch.tensor([1, 4] * 4)
    loss = nn.functional.cross_entropy(z, y)
    sliced = nn.functional.cross_entropy(full[:, [1, 4]], (y == 4).long())  # the N-way layer of those rows
    assert torch.allclose(loss, sliced, atol=1e-5)
    loss.backward()
    g = base.net[-1].weight.grad
    assert g[[0, 2, 3, 5]].abs().sum() == 0 and g[[1, 4]].abs().sum() > 0  # the other rows learn nothing
    assert head.state_dict()["class_ids"].tolist() == [1, 4]
    with pytest.raises(ValueError, match="no class"):
        aug.ClassSubsetHead(base, [])


def test_n_class_head_keys_leave_the_1000_class_ones_unchanged(cfg):
    import robustlab.paper_b.augment as aug

    k1000 = aug._variant_key(cfg, {"t": 1}, "k=4")
    assert k1000 == {"t": 1, "variant": "k=4", "aug": {"train_images": cfg.aug_train_images,
                                                       "epochs": cfg.aug_epochs, "lr": cfg.aug_lr}}
    kn = aug._variant_key(cfg, {"t": 1}, "k=4", "N-class")
    assert kn["aug"]["head"] == "N-class" and aug._variant_key(cfg, {"t": 1}, "base", "N-class")["aug"] is None
    with pytest.raises(ValueError, match="heads"):
        aug._variant_key(cfg, {"t": 1}, "k=4", "10-class")


def test_cifar_scale():
    assert pb.cifar_scale(area=224) == {"area": 32}
    assert pb.cifar_scale(area=56) == {"area": 8}
    assert pb.cifar_scale(n_pixels=64) == {"n_pixels": 1}


@pytest.mark.slow
def test_real_model_selection_is_correct(shared_data, cache_dir, tmp_path):
    cfg = resolve("t", {"profile": "tiny", "data_dir": str(shared_data), "cache_dir": str(cache_dir),
                        "results_dir": str(tmp_path), "n_images": 4})
    model = pb.load_model(cfg)
    sel = pb.select_correct(cfg, model=model)
    x, y = pb.selected_images(cfg, sel)
    assert x.shape == (4, 224, 224, 3) and (pb.predict(model, x, 4).numpy() == y).all()


@pytest.mark.slow
def test_several_models_from_a_weights_folder(shared_data, cache_dir, tmp_path, monkeypatch):
    """Paper B with several models: the real MobileNetV2 and a SqueezeNet 1.1 from a local state_dict
    (random, with its last layer set to answer "tench" for every image, so that some images are right
    for both); AlexNet has no file and cannot be downloaded (offline, simulated): it is reported and
    left out, and the run goes on. The images are those both models classify correctly, every model
    gets its rows; with one of the paper's five the several-model claims are not testable."""
    import warnings

    import robustlab.paper_b.classifiers as clf
    from helpers import save_tench_squeezenet
    from robustlab.core.errors import DataError

    wdir = tmp_path / "weights"
    save_tench_squeezenet(wdir)

    real = clf.pretrained

    def offline(name, weights="DEFAULT", **kw):
        if isinstance(weights, str) and (weights == "DEFAULT" or weights.startswith("IMAGENET")):
            raise DataError(f"cannot download the torchvision weights {weights} for {name} (offline)")
        return real(name, weights, **kw)

    monkeypatch.setattr(clf, "pretrained", offline)
    monkeypatch.setattr(clf, "_downloaded", lambda *a: False)
    clf._AVAILABLE.clear()
    cfg = resolve("t", {"profile": "tiny", "data_dir": str(shared_data), "cache_dir": str(cache_dir),
                        "results_dir": str(tmp_path / "r"), "n_images": 3, "n_repeats": 1,
                        "pixel_counts": [1, 64], "weights_dir": str(wdir),
                        "model_names": ["mobilenet_v2", "squeezenet1_1", "alexnet"]})
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        names, missing = pb.available(cfg)
    assert names == ["mobilenet_v2", "squeezenet1_1"] and set(missing) == {"alexnet"}
    assert "alexnet.pth" in missing["alexnet"] and any("AlexNet" in str(x.message) for x in w)
    assert pb.primary(cfg) == "mobilenet_v2"
    sel = pb.select_correct(cfg)
    x, y = pb.selected_images(cfg, sel)
    # the selection is made for the paper's five among the models (here SqueezeNet); MobileNetV2 is an extra
    assert (y == 0).all() and sel["models"] == ["squeezenet1_1"] and set(sel["top1_checked"]) == {"squeezenet1_1"}
    for n in sel["models"]:  # every selected image is right for every model it was selected for
        assert (pb.predict(pb.load_model(cfg, n), x, 3).numpy() == y).all()
    table = pb.models_table(cfg, sel)
    assert list(table["model"]) == ["MobileNetV2", "SqueezeNet 1.1", "AlexNet"]
    assert table["ran"].iloc[2].startswith("no:") and table["torchvision's published top-1 [%]"].notna().all()
    e1 = pb.per_model(cfg, pb.experiment1)
    assert list(e1["model_name"]) == ["mobilenet_v2", "mobilenet_v2", "squeezenet1_1", "squeezenet1_1"]
    assert (e1[e1["model_name"] == "squeezenet1_1"]["wrong_rate"] == 0).all()  # it always answers tench
    v = {c.id: c for c in pb.claims_models(e1, sel["top1_checked"], missing)}
    # one of the paper's five ran (SqueezeNet 1.1; MobileNetV2 is an extra): the several-model claims cannot
    # be judged, and they name the model left out for want of weights
    assert v["B-model-ranking"].verdict == "not testable here" and "AlexNet" in v["B-model-ranking"].why
    assert "MobileNetV2" in v["B-model-ranking"].ours and "extra" in v["B-model-ranking"].ours
    assert v["B-pi-ranking"].verdict == "not testable here"  # a rank correlation needs three of the five
    assert "Left out for want of weights" in pb.describe_run(cfg)
