"""Every chapter notebook under papermill (profile tiny), checked on the values it records.

All of them are slow; they share one results folder per session (the ``run_notebook`` and
``nb_results`` fixtures in conftest.py), so later chapters reuse the models earlier ones trained and
the summary (last) sees every chapter's records.
"""
from __future__ import annotations

import numpy as np
import pytest

from robustlab.book.checklist import CHECKLIST, VERDICTS, norm_section
from robustlab.book.plots.images import FIG1_CLASSES

pytestmark = [pytest.mark.slow, pytest.mark.notebook]


# --- paper A ------------------------------------------------------------------------------
def test_notebook_01_data_records(run_notebook):
    rec = run_notebook("01_data")
    assert rec["n_train"] == 50000 and rec["n_test"] == 10000
    assert rec["train_per_class"] == [5000] * 10 and rec["test_per_class"] == [1000] * 10
    assert rec["image_shape"] == [32, 32, 3]
    assert rec["classes"][0] == "airplane" and rec["classes"][-1] == "truck"
    assert rec["example_classes"] == list(FIG1_CLASSES)
    assert len(set(rec["example_indices"])) == 5
    sig = np.array(rec["sigmas"])
    noise = np.array(rec["noise_mean_abs_change"])
    assert noise[sig == 0].tolist() == [0.0] * int((sig == 0).sum())
    pos = sig > 0
    np.testing.assert_allclose(noise[pos], sig[pos] * np.sqrt(2 / np.pi), rtol=0.05)
    blur = np.array(rec["blur_mean_abs_change"])
    assert (blur[sig == 0] == 0).all() and (blur[sig >= 0.5] > 0).all()
    assert rec["blur_identity_sigmas"] == [s for s in rec["sigmas"] if s < 0.125]
    if rec["jpeg_recompressed"]:  # the shared tar: error ≈ 5.9 / 127.5 on [-1, 1]
        assert rec["jpeg_mae_pm1"] == pytest.approx(0.046, abs=0.001)
    (claim,) = rec["claims"]
    assert claim["id"] == "A-data" and claim["verdict"] == ("partly" if rec["jpeg_recompressed"] else "yes")
    prov = rec["provenance"]
    assert prov["profile"] == "tiny" and prov["notebook"] == "01_data"
    assert "md5" in prov["data"][0]


def test_paper_a_notebooks_run_and_record(run_notebook):
    """Notebooks 02-04 run under papermill (profile tiny) and record what the summary needs."""
    r2 = run_notebook("02_architectures")
    assert r2["conv_weights"] == {"resnet": 69_632, "inception": 192_512, "resnext": 70_144}
    for name in ("03_noise_training", "04_blur_training"):
        r = run_notebook(name)
        n = len(r["sigmas"])
        assert all(np.asarray(m).shape == (n, n) for m in r["matrices"].values())
        assert set(r["clean_acc_sigma0"]) == set(r["matrices"])
        assert r["claims"] and all(c["verdict"] in VERDICTS and c["paper"] == "A" for c in r["claims"])
        assert r["n_seeds"] == 1
        assert all(np.asarray(m).shape == (1, n, n) for m in r["matrices_by_seed"].values())
        for c in r["claims"]:  # every reached verdict carries its number and its interval
            if c["verdict"] != "not testable here":
                assert c.get("value") is not None and len(c.get("interval", [])) == 2, c
        assert "provenance" in r
    ids = {c["id"] for c in r["claims"]}
    assert {"A-blur-05", "A-blur-inception", "A-blur-archs"} <= ids
    # Fig. 6's full cross matrix: every model on every level of the other kind, and the caption's reading
    assert set(r["cross_matrices"]) == {"blur on noise", "noise on blur"}
    assert all(np.asarray(m).shape == (n, n) for ms in r["cross_matrices"].values() for m in ms.values())
    assert set(r["claims_caption_reading"]) == {"A-blur-05", "A-blur-inception", "A-blur-archs"}


def test_notebook_05_tiny(run_notebook):
    rec = run_notebook("05_adversarial_delta")
    # tiny models are near chance (100 images, 1 epoch): a few of their correctly classified images sit
    # far from any boundary; the attack's strength is tested against references in test_attack_references
    assert rec["success_rate"] >= 0.5
    # tiny: 3 archs × (3 noise σ + 2 blur σ): blur 0.1 px is the identity, the σ = 0 model, not attacked again
    assert rec["n_models"] == 15
    ids = {c["id"] for c in rec["claims"]}
    assert {"A-adv-noise", "A-adv-blur", "A-adv-archs", "A-adv-small", "A-adv-low-acc", "A-conclusion-01",
            "A-conclusion-01-both"} <= ids
    assert all(c["verdict"] in ("yes", "partly", "no", "not testable here") for c in rec["claims"])
    # a verdict on the minimal change is never decided by a model at chance: the page names those left out
    for c in rec["claims"]:
        if c["id"].startswith("A-adv") and c["verdict"] == "not testable here":
            assert any(w in (c["ours"] + c["why"]).lower() for w in ("left out", "no model", "fewer than")), c


# --- paper B ------------------------------------------------------------------------------
B_IDS = {"06_pixel_count": {"B-64px-range", "B-resnet-4-64", "B-64px-10pct", "B-more-pixels", "B-model-ranking",
                            "B-pi-ranking"},
         "07_pixel_magnitude": {"B-magnitude"},
         "08_pixel_area": {"B-area", "B-area-fig10", "B-magnitude-vs-area"},
         "09_fgsm_and_pixels": {"B-fgsm-restore"},
         "10_augmentation": {"B-aug-random", "B-aug-small-k", "B-aug-clean", "B-aug-fgsm", "B-aug-fgsm-most"},
         "11_pixel_index": {"B-pi-example", "B-pi-adversarial"}}


@pytest.mark.parametrize("name", ["06_pixel_count", "07_pixel_magnitude", "08_pixel_area", "09_fgsm_and_pixels",
                                  "10_augmentation", "11_pixel_index"])
def test_notebook_tiny(run_notebook, name):
    rec = run_notebook(name, cifar_models_pixels=False)
    claims = rec["claims"]
    assert claims and all(c["verdict"] in ("yes", "partly", "no", "not testable here") for c in claims)
    assert {c["id"] for c in claims} == B_IDS[name]
    for c in claims:  # every verdict that was reached carries its number, with its interval where one exists
        if c["verdict"] != "not testable here":
            assert c.get("value") is not None, c
            if c["id"] != "B-pi-example":  # exact arithmetic
                assert len(c.get("interval", [])) == 2 and "[" in c["ours"], c
    assert "provenance" in rec
    if name == "06_pixel_count":
        assert set(rec["exp1_wrong_rate"]) == {"1", "64"}
        for p, (lo, hi) in rec["exp1_wrong_rate_interval"].items():
            assert lo <= rec["exp1_wrong_rate"][p] <= hi
    if name == "08_pixel_area":  # Fig. 10's 8 and 32 px are run
        assert {"8px_area224", "32px_area224", "8px_area56", "32px_area56"} <= set(rec["exp3_wrong_rate"])
    if name == "09_fgsm_and_pixels":  # the ε sweep: tiny's two steps and fgsm_eps, one verdict each
        assert set(rec["exp4_eps_sweep_verdict"]) == {"1", "2", "8"}
        assert "over the FGSM step" in {c["id"]: c for c in claims}["B-fgsm-restore"]["why"] \
            or {c["id"]: c for c in claims}["B-fgsm-restore"]["verdict"] == "not testable here"
    if name == "10_augmentation":  # the ε sweep of Table 11: every step that fooled something, every model
        assert {k.split("|")[0] for k in rec["aug_eps_sweep_still_fooling"]} <= {"1", "2", "8"}
        # the N-class head: its own control, and the claims judged on it
        assert {"k=0 (control)|0", "k=4|64"} <= set(rec["aug_n_class_wrong_rate"])
        assert set(rec["aug_n_class_claims"]) == B_IDS["10_augmentation"]
    if name == "10_augmentation":  # both learning rates measured, accuracies are fractions; the control is there
        assert set(rec["aug_lr_check"]) == {"0.001"} and 0 <= rec["aug_lr_check"]["0.001"] <= 1
        assert {"k=0 (control)|0", "k=0 (control)|64", "k=4|64"} <= set(rec["aug_wrong_rate"])
        assert "k=4|64" in rec["aug_effect_vs_control"]
        assert set(rec["aug_base_by_model"]) == {"MobileNetV2|0", "MobileNetV2|64"}
    if name == "11_pixel_index":
        assert round(rec["pi_example"]["paper_rounding"], 2) == 98.30
        assert len(rec["pi_fgsm"]) == 2 and rec["pi_interval"][0] <= rec["pi"] <= rec["pi_interval"][1]


@pytest.mark.slow
def test_paper_b_chapters_with_two_models(run_notebook, tmp_path):
    """The same chapters with a second model from a local weights folder (a random SqueezeNet 1.1 that
    always answers "tench"): every model gets its rows and curves, the several-model claims see only
    the paper's models."""
    from helpers import save_tench_squeezenet

    save_tench_squeezenet(tmp_path / "w")
    two = {"model_names": ["mobilenet_v2", "squeezenet1_1"], "weights_dir": str(tmp_path / "w"),
           "results_dir": str(tmp_path / "r"), "cifar_models_pixels": False}
    rec = run_notebook("06_pixel_count", **two)
    # the images are selected for the paper's models only (SqueezeNet); MobileNetV2 is an extra
    assert rec["selection"]["models"] == ["squeezenet1_1"]
    assert set(rec["exp1_wrong_rate_by_model"]) == {"MobileNetV2", "SqueezeNet 1.1"}
    v = {c["id"]: c for c in rec["claims"]}
    # one of the paper's five: the several-model claims are not testable, and MobileNetV2 decides none
    assert v["B-model-ranking"]["verdict"] == "not testable here" and "SqueezeNet" in v["B-model-ranking"]["ours"]
    assert v["B-64px-range"]["verdict"] == "not testable here" and "MobileNetV2" in v["B-64px-range"]["ours"]
    # a rule that names no model is judged on both models (the headline: the primary one)
    assert "per model (the headline is" in v["B-more-pixels"]["why"] and "SqueezeNet 1.1" in v["B-more-pixels"]["why"]
    rec = run_notebook("07_pixel_magnitude", **two)
    assert "per model (the headline is" in {c["id"]: c for c in rec["claims"]}["B-magnitude"]["why"]
    rec = run_notebook("11_pixel_index", **two)
    assert set(rec["pi_by_model"]) == {"MobileNetV2", "SqueezeNet 1.1"}
    rec = run_notebook("10_augmentation", **two)  # MobileNetV2 is fine-tuned; both have their base rows
    assert {k.split("|")[0] for k in rec["aug_base_by_model"]} == {"MobileNetV2", "SqueezeNet 1.1"}


# --- beyond the papers ---------------------------------------------------------------------
def test_notebook_12_beyond_records(run_notebook):
    """Chapter 12 runs at tiny and records its table, the ImageNet comparison and our three claims."""
    rec = run_notebook("12_beyond")
    assert {c["id"] for c in rec["claims"]} == {"X-premise-B", "X-beats-noise-A", "X-pixels-A"}
    assert all(c["paper"] == "ours" and c["verdict"] in VERDICTS for c in rec["claims"])
    table = rec["cifar_table"]
    assert {r["variant"] for r in table} == {"none", "crop-flip", "rotation", "pixels-1", "pixels-5", "noise σ=0.1"}
    assert {r["measure"] for r in table} == {"clean", "noise", "blur", "delta", "pixels", "pi"}
    assert {r["arch"] for r in table} == {"resnet"}  # tiny: beyond_archs = [resnet]
    for r in table:
        if r["measure"] in ("clean", "noise", "blur"):
            assert 0 <= r["value"] <= 100
        if r["variant"] == "none" and r["diff"] is not None:
            assert r["diff"] == 0  # the reference against itself
    assert all(rec["cifar_train_s"][f"resnet|{n}"] > 0 for n in ("crop-flip", "rotation", "pixels-1", "pixels-5"))
    models = {k.split("|")[0] for k in rec["imagenet_wrong_rate"]}
    assert models >= {"k=0 (control)", "gaussian noise", "random erasing", "crop + flip"}
    assert {int(k.split("|")[1]) for k in rec["imagenet_wrong_rate"]} == {0, 1, 64}
    m = rec["imagenet_match"]
    assert m["mean_abs_noise_8bit"] == pytest.approx(m["mean_abs_pixels_8bit"], rel=0.1)


# --- the summary (last: it reads the records the chapters above left) ------------------------
def test_notebook_13_summary_records(run_notebook, nb_results):
    if not (nb_results / "tiny" / "records" / "01_data.json").exists():
        run_notebook("01_data")  # at least one chapter's records (normally left by the test above)
    rec = run_notebook("13_summary")
    chapters = rec["chapters_with_records"]
    assert "01_data" in chapters and "13_summary" not in chapters
    rows = rec["summary"]
    assert rec["n_claims"] == len(rows) >= len(CHECKLIST)
    allowed = set(VERDICTS) | {"not run yet", "not recorded"}
    assert {r["verdict"] for r in rows} <= allowed
    data_row = next(r for r in rows if r["paper"] == "A" and norm_section(r["section"]) == norm_section("§2.1"))
    assert data_row["verdict"] in ("yes", "partly") and data_row["notebook"] == "01_data"
    for r in rows:  # never faked: a chapter that did not run cannot have a verdict
        if r["notebook"] not in chapters:
            assert r["verdict"] == "not run yet", r
    assert sum(rec["verdict_counts"].values()) == len(rows)
    ours = [r for r in rows if r["paper"] == "ours"]  # chapter 12's claims, under their own heading
    assert {r["notebook"] for r in ours} == {"12_beyond"} and len(ours) >= 3
