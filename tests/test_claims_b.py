"""robustlab.paper_b.claims: every paper-B verdict follows from a number with its interval, and can go
each way — constructed inputs where each claim must say "yes", "no" (and "partly" where it exists).

Per-image values are built *nested*: with a rate r, the first round(r·n) images of a fixed order are
wrong, so a setting with a higher rate is wrong on a superset of the images of a lower one (the
usual picture: some images are fragile). Paired differences then have tight intervals at large n,
and wide ones at small n.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import robustlab.paper_b as pb
from robustlab.core.claims import NOT_TESTABLE
from robustlab.paper_b.augment import CONTROL, augmentation_effects, augmentation_tables
from robustlab.paper_b.pixel_index import fgsm_pixel_index, pixel_index

ORDER = np.random.default_rng(0).permutation(100_000)


@pytest.fixture(autouse=True)
def uncapped(monkeypatch, request):
    """The augmentation rules themselves, without the one-fine-tuning-run cap (tested on its own)."""
    import robustlab.paper_b.claims as claims

    if "one_run" not in request.node.name:
        monkeypatch.setattr(claims, "_one_run", lambda c: c)


@pytest.fixture(autouse=True)
def fewer_resamples(monkeypatch):
    """400 bootstrap resamples instead of 2,000: the constructed cases are far from the verdicts' edges,
    and the tests stay fast on a busy machine."""
    import functools

    import robustlab.core.stats as stats
    import robustlab.paper_b.claims as claims
    import robustlab.paper_b.experiments as experiments

    quick = functools.partial(stats.bootstrap, n_boot=400)
    for mod in (stats, claims, experiments):
        monkeypatch.setattr(mod, "bootstrap", quick)


def nested(rate: float, n: int) -> np.ndarray:
    """Per-image values (0/1) of a rate: the first round(rate·n) images of a fixed order are wrong."""
    out = np.zeros(n)
    out[ORDER[ORDER < n][: round(rate * n)]] = 1.0
    return out


def disjoint(rate: float, n: int, shift: int) -> np.ndarray:
    """Per-image values of a rate on images that start ``shift`` places later in the fixed order."""
    out = np.zeros(n)
    idx = ORDER[ORDER < n]
    out[np.roll(idx, -shift)[: round(rate * n)]] = 1.0
    return out


def rows(settings, n, **const):
    """A pixel_rows-like table: ``settings`` = [(dict of columns, per-image array)]."""
    out = []
    for cols, v in settings:
        out.append({"magnitude": "any", "area": 224, **const, **cols, "images": n, "wrong_rate": float(v.mean()),
                    "wrong_mean": float(v.sum()), "wrong_rate_std": 0.0, "repeats": 1, "per_image": v})
    return pd.DataFrame(out)


def exp1(rates, counts=(1, 2, 4, 8, 16, 32, 64), n=2000):
    return rows([({"n_pixels": p}, nested(r, n)) for p, r in zip(counts, rates)], n)


def verdicts(claims):
    return {c.id: c.verdict for c in claims}


# --- experiment 1 -------------------------------------------------------------------------------
def test_exp1_yes():
    c = pb.claims_exp1(exp1([0.0, 0.002, 0.01, 0.02, 0.03, 0.04, 0.05]))
    v = verdicts(c)
    assert v["B-more-pixels"] == "yes"
    assert v["B-64px-range"] == NOT_TESTABLE  # best ≈ 3.5 % and worst ≈ 14 % need two of the five
    assert v["B-resnet-4-64"] == "partly"  # agrees, but MobileNetV2 is not ResNet: partly at best
    assert v["B-64px-10pct"] == "no"  # 5 %
    assert "B-model-ranking" not in v  # a claim about several models: claims_models
    by = {x.id: x for x in c}
    assert "contradict" not in by["B-64px-10pct"].why and "§4 names no model" in by["B-64px-10pct"].why
    assert "MobileNetV2 is not ResNet-101" not in by["B-resnet-4-64"].why
    assert "this is MobileNetV2" in by["B-resnet-4-64"].why
    assert by["B-64px-10pct"].value == pytest.approx(5.0) and by["B-64px-10pct"].unit == "%"
    lo, hi = by["B-64px-10pct"].interval
    assert lo < 5.0 < hi and "bootstrap over 2000 images" == by["B-64px-10pct"].method
    # the same numbers from ResNet-101, the model §6.1.1 names: no cap, no sentence about other weights
    r = {x.id: x for x in pb.claims_exp1(exp1([0.0, 0.002, 0.01, 0.02, 0.03, 0.04, 0.05]), "ResNet-101")}
    assert r["B-resnet-4-64"].verdict == "yes" and "cannot be had" not in r["B-resnet-4-64"].why
    assert "on ResNet-101, the model §6.1.1 names" in r["B-resnet-4-64"].why


def test_exp1_no():
    v = verdicts(pb.claims_exp1(exp1([0.3, 0.2, 0.2, 0.1, 0.1, 0.0, 0.0])))
    assert v["B-more-pixels"] == "no" and v["B-64px-range"] == NOT_TESTABLE
    assert v["B-64px-10pct"] == "no" and v["B-resnet-4-64"] == "no"


def test_exp1_partly_and_the_10_percent_side():
    # a significant drop between neighbours lowers the trend to partly; 10 % at 64 px: §4's "about 10 %"
    c = pb.claims_exp1(exp1([0.01, 0.05, 0.02, 0.03, 0.04, 0.06, 0.10]))
    v = verdicts(c)
    assert v["B-more-pixels"] == "partly" and v["B-resnet-4-64"] == "no"
    assert v["B-64px-10pct"] == "partly"  # MobileNetV2 is not one of the five: partly at best
    v = verdicts(pb.claims_exp1(exp1([0.01, 0.05, 0.02, 0.03, 0.04, 0.06, 0.10]), "VGG-16"))
    assert v["B-64px-10pct"] == "yes"  # one of the five near 10 %
    # few images: the value near 1 % / 5 %, the interval not
    v = verdicts(pb.claims_exp1(exp1([0.0, 0.04], counts=(1, 64), n=100)))
    assert v["B-resnet-4-64"] == "partly"


# --- experiments 2 and 3 --------------------------------------------------------------------------
def exp2(rates, mags=(10, 40, 127), n=1000, p=64):
    return rows([({"n_pixels": p, "magnitude": m}, nested(r, n)) for m, r in zip(mags, rates)], n)


def test_exp2_yes_no_partly():
    assert pb.claims_exp2(exp2([0.0, 0.02, 0.06]))[0].verdict == "yes"
    assert pb.claims_exp2(exp2([0.06, 0.03, 0.0]))[0].verdict == "no"
    assert pb.claims_exp2(exp2([0.01, 0.012], mags=(10, 127), n=500))[0].verdict == "partly"
    c = pb.claims_exp2(exp2([0.0, 0.02, 0.06]))[0]
    assert c.unit == "pts" and c.value == pytest.approx(6.0) and c.interval[0] > 0


def exp3(rates_by_count, areas=(224, 160, 56), n=1000, make=None):
    make = make or (lambda r, n, i: nested(r, n))
    return rows([({"n_pixels": p, "area": a}, make(r, n, i)) for p, rates in rates_by_count.items()
                 for i, (a, r) in enumerate(zip(areas, rates))], n)


def test_exp3_yes():
    e3 = exp3({8: [0.01, 0.01, 0.01], 32: [0.04, 0.04, 0.04], 64: [0.05, 0.05, 0.05]})
    v = verdicts(pb.claims_exp3(e3, exp2([0.0, 0.02, 0.06])))
    assert v == {"B-area": "yes", "B-area-fig10": "yes", "B-magnitude-vs-area": "yes"}


def test_exp3_no():
    e3 = exp3({8: [0.05, 0.10, 0.20], 32: [0.05, 0.10, 0.20], 64: [0.05, 0.10, 0.20]})
    v = verdicts(pb.claims_exp3(e3, exp2([0.0, 0.02, 0.06])))
    assert v == {"B-area": "no", "B-area-fig10": "no", "B-magnitude-vs-area": "no"}


def test_exp3_window_margin_is_relative_to_the_rate():
    # rates below 2 %: 1 point apart is within an absolute ±2 pts, but three times the whole image's rate
    e3 = exp3({8: [0.005, 0.015, 0.015], 32: [0.005, 0.015, 0.015]}, n=4000)
    c = {x.id: x for x in pb.claims_exp3(e3)}
    assert c["B-area"].verdict == "no" and c["B-area-fig10"].verdict == "no"
    assert c["B-area"].unit == "%" and c["B-area"].value == pytest.approx(200.0)
    e3 = exp3({8: [0.010, 0.011, 0.010], 32: [0.010, 0.010, 0.011]}, n=4000)
    v = verdicts(pb.claims_exp3(e3))
    assert v["B-area"] == "yes" and v["B-area-fig10"] == "yes"
    # no wrong image on the whole image: a ratio to 0 is not testable
    assert verdicts(pb.claims_exp3(exp3({8: [0.0, 0.01, 0.01]})))["B-area"] == NOT_TESTABLE


def test_exp3_partly_and_not_testable():
    # equal rates on different images, few images: the value is inside ±2 pts, the interval is not
    e3 = exp3({8: [0.05, 0.05, 0.05], 32: [0.05, 0.05, 0.05]}, n=200, make=lambda r, n, i: disjoint(r, n, 7 * i))
    v = verdicts(pb.claims_exp3(e3))
    assert v == {"B-area": "partly", "B-area-fig10": "partly"}
    # magnitude range 1 pt vs windows 0, few images: the value above 0, the interval not
    e3 = exp3({64: [0.05, 0.05, 0.05]}, n=200)
    v = verdicts(pb.claims_exp3(e3, exp2([0.05, 0.055], mags=(10, 127), n=200)))
    assert v == {"B-area": NOT_TESTABLE, "B-area-fig10": NOT_TESTABLE, "B-magnitude-vs-area": "partly"}


# --- experiment 4 ---------------------------------------------------------------------------------
def exp4(restored, n):
    t = exp1([1 - restored[0], 1 - restored[1]], counts=(1, 64), n=n)
    return t.assign(restored_rate=1 - t["wrong_rate"])


def test_exp4():
    s = {"eps": 2.0}
    assert pb.claims_exp4(exp4([0.1, 0.5], 400), s)[0].verdict == "yes"
    assert pb.claims_exp4(exp4([0.01, 0.05], 400), s)[0].verdict == "no"
    assert pb.claims_exp4(exp4([0.1, 0.22], 100), s)[0].verdict == "partly"
    assert pb.claims_exp4(pd.DataFrame(), s)[0].verdict == NOT_TESTABLE
    c = pb.claims_exp4(exp4([0.1, 0.5], 400), s)[0]
    assert c.value == pytest.approx(50.0) and "FGSM examples" in c.method


def eps_sweep(restored: dict[float, float], n=400, decides=2.0):
    """An experiment4_eps_sweep() table: {ε: share restored at 64 px} (None: FGSM fooled nothing)."""
    rows = []
    for e, r in restored.items():
        w = np.zeros(0) if r is None else nested(1 - r, n)
        rows.append({"eps": e, "decides": e == decides, "images": 500, "fooled": 0 if r is None else n,
                     "fgsm_success_rate": 0.0 if r is None else n / 500, "n_pixels": 64,
                     "restored_rate": np.nan if r is None else r, "per_image": w})
    return pd.DataFrame(rows)


def test_exp4_eps_sweep_yes_the_same_at_every_step():
    sw = eps_sweep({0.5: 0.6, 2.0: 0.5, 8.0: 0.4})
    v = pb.exp4_eps_verdicts(sw)
    assert list(v["verdict"]) == ["yes", "yes", "yes"] and list(v["decides"]) == [False, True, False]
    c = pb.claims_exp4(exp4([0.1, 0.5], 400), {"eps": 2.0}, sw)[0]
    assert c.verdict == "yes" and "the same verdict at every ε" in c.why and "2/255 yes (decides)" in c.why


def test_exp4_eps_sweep_no_the_verdict_moves_but_is_decided_at_fgsm_eps():
    sw = eps_sweep({0.5: None, 2.0: 0.5, 8.0: 0.05})
    v = pb.exp4_eps_verdicts(sw).set_index("eps")["verdict"]
    assert v[0.5] == NOT_TESTABLE and v[2.0] == "yes" and v[8.0] == "no"
    c = pb.claims_exp4(exp4([0.1, 0.5], 400), {"eps": 2.0}, sw)[0]
    assert c.verdict == "yes"  # decided at the profile's ε, the sweep only named beside it
    assert "depends on ε" in c.why and "8/255 no" in c.why
    assert pb.claims_exp4(exp4([0.1, 0.5], 400), {"eps": 2.0})[0].why == \
        pb.claims_exp4(exp4([0.1, 0.5], 400), {"eps": 2.0}, pd.DataFrame())[0].why  # no sweep, nothing added


# --- §6.2 augmentation ----------------------------------------------------------------------------
def aug(wrong64, clean=None, still=None, n=400, n_fgsm=300, models=("base", CONTROL, "k=4", "k=64"),
        unsel=None, wrong4=None, model="mobilenet_v2"):
    """An augmentation() result: ``wrong64``/``clean``/``still``/``unsel`` (clean on the unselected
    held-out images; default 10 % for every model)/``wrong4`` (optional 4-px rates) = {model: rate}."""
    clean = clean or {}
    unsel = unsel or {}
    e = []
    for m in models:
        for p, r in ((0, clean.get(m, 0.0)), *(((4, wrong4[m]),) if wrong4 else ()), (64, wrong64[m])):
            v = nested(r, n)
            e.append({"model": m, "n_pixels": p, "images": n, "wrong_rate": float(v.mean()), "wrong_rate_lo": np.nan,
                      "wrong_rate_hi": np.nan, "wrong_rate_std": 0.0, "accuracy": 1 - float(v.mean()),
                      "per_image": v})
    f = []
    for m, r in (still or {}).items():
        v = nested(r, n_fgsm)
        f.append({"model": m, "fgsm_examples": n_fgsm, "still_fooling_rate": float(v.mean()),
                  "still_fooling_lo": np.nan, "still_fooling_hi": np.nan, "restored_rate": 1 - float(v.mean()),
                  "per_example": v, "per_example_restored": 1 - v})
    u = [{"model": m, "images": n, "wrong_rate": unsel.get(m, 0.10), "per_image": nested(unsel.get(m, 0.10), n)}
         for m in models]
    return {"exp1": pd.DataFrame(e), "fgsm": pd.DataFrame(f), "train_images": 100, "test_images": n,
            "fgsm_fooled_base": n_fgsm, "clean_unselected": pd.DataFrame(u), "model": model}


def test_augmentation_yes():
    res = aug({"base": 0.18, CONTROL: 0.20, "k=4": 0.05, "k=64": 0.12},
              still={"base": 1.0, CONTROL: 0.6, "k=4": 0.3, "k=64": 0.4})
    c = pb.claims_augmentation(res)
    assert verdicts(c) == {"B-aug-random": "yes", "B-aug-small-k": "yes", "B-aug-clean": "yes", "B-aug-fgsm": "yes",
                           "B-aug-fgsm-most": "yes"}
    by = {x.id: x for x in c}
    assert by["B-aug-random"].value == pytest.approx(15.0)  # k=4 vs the control at 64 px
    assert by["B-aug-fgsm"].value == pytest.approx(-30.0) and by["B-aug-fgsm"].interval[1] < 0
    eff = augmentation_effects(res)
    assert set(eff["model"]) == {"base", "k=4", "k=64"}
    assert eff.set_index(["model", "n_pixels"]).loc[("k=4", 64), "effect"] == pytest.approx(0.15)
    t10, t11 = augmentation_tables(res)
    assert list(t10.index) == ["base", CONTROL, "k=4", "k=64"] and list(t10.columns) == ["clean (%)", "64 px (%)"]
    assert t11.loc[CONTROL, "vs control (pts) [95 % interval]"] == "—"
    assert t11.loc["k=4", "vs control (pts) [95 % interval]"].startswith("-30.0 [")


def test_augmentation_no():
    # both k models no better than the control, k=64 better than k=4, clean accuracy lost, FGSM worse
    res = aug({"base": 0.18, CONTROL: 0.20, "k=4": 0.25, "k=64": 0.20},
              unsel={"k=4": 0.20, "k=64": 0.20}, still={"base": 1.0, CONTROL: 0.6, "k=4": 0.7})
    v = verdicts(pb.claims_augmentation(res))
    assert v == {"B-aug-random": "no", "B-aug-small-k": "no", "B-aug-clean": "no", "B-aug-fgsm": "no",
                 "B-aug-fgsm-most": "no"}


def test_augmentation_partly_and_not_testable():
    res = aug({"base": 0.18, CONTROL: 0.20, "k=4": 0.10, "k=64": 0.25}, unsel={"k=4": 0.11, "k=64": 0.11}, n=100,
              still={"base": 1.0, CONTROL: 0.6, "k=4": 0.58}, n_fgsm=50)
    v = verdicts(pb.claims_augmentation(res))
    assert v["B-aug-random"] == "partly"  # k=4 better than the control, k=64 worse
    assert v["B-aug-clean"] == "partly"  # 1 % of 100: inside ±2 pts, the interval is not
    assert v["B-aug-fgsm"] == "partly"  # 2 pts fewer, the interval reaches above 0
    assert v["B-aug-fgsm-most"] == "no"  # 42 % restored
    res = aug({"base": 0.18, CONTROL: 0.20, "k=4": 0.10, "k=64": 0.25}, still={"base": 1.0, CONTROL: 0.6, "k=4": 0.46},
              n_fgsm=50)
    c = {x.id: x for x in pb.claims_augmentation(res)}["B-aug-fgsm-most"]
    assert c.verdict == "partly" and c.value == pytest.approx(54.0)  # most, but the interval reaches below 50 %
    one_k = aug({"base": 0.1, CONTROL: 0.2, "k=4": 0.1}, models=("base", CONTROL, "k=4"))
    assert verdicts(pb.claims_augmentation(one_k))["B-aug-small-k"] == NOT_TESTABLE
    no_control = aug({"base": 0.1, "k=4": 0.1}, models=("base", "k=4"))
    assert set(verdicts(pb.claims_augmentation(no_control)).values()) == {NOT_TESTABLE}


def test_aug_clean_uses_images_no_model_selected():
    # on the selected images every model is right (0 % wrong); on unselected ones the k models lose 10 points
    res = aug({"base": 0.18, CONTROL: 0.20, "k=4": 0.05, "k=64": 0.12}, unsel={"k=4": 0.20, "k=64": 0.20})
    c = {x.id: x for x in pb.claims_augmentation(res)}["B-aug-clean"]
    assert c.verdict == "no" and "400 held-out images no model selected" in c.ours
    res = aug({"base": 0.18, CONTROL: 0.20, "k=4": 0.05, "k=64": 0.12}, unsel={"base": 0.0})
    assert {x.id: x for x in pb.claims_augmentation(res)}["B-aug-clean"].verdict == "yes"
    old = aug({"base": 0.18, CONTROL: 0.20, "k=4": 0.05, "k=64": 0.12})
    del old["clean_unselected"]
    assert {x.id: x for x in pb.claims_augmentation(old)}["B-aug-clean"].verdict == NOT_TESTABLE


def test_aug_small_k_judges_both_readings():
    # (a) training k: k=4 better than k=64; (b) test count: k models remove a larger share of errors at 4 px
    res = aug({"base": 0.18, CONTROL: 0.20, "k=4": 0.05, "k=64": 0.12}, n=2000,
              wrong4={"base": 0.04, CONTROL: 0.04, "k=4": 0.0, "k=64": 0.01})
    c = {x.id: x for x in pb.claims_augmentation(res)}["B-aug-small-k"]
    assert c.verdict == "yes" and "(reading b: yes)" in c.ours and "this decides" in c.why
    # (b) says no (a smaller share removed at 4 px than at 64) while (a) says yes: the verdict follows (a)
    res = aug({"base": 0.18, CONTROL: 0.20, "k=4": 0.05, "k=64": 0.12}, n=2000,
              wrong4={"base": 0.10, CONTROL: 0.10, "k=4": 0.06, "k=64": 0.09})
    c = {x.id: x for x in pb.claims_augmentation(res)}["B-aug-small-k"]
    assert c.verdict == "yes" and "(reading b: no)" in c.ours
    res = aug({"base": 0.18, CONTROL: 0.20, "k=4": 0.12, "k=64": 0.05})
    c = {x.id: x for x in pb.claims_augmentation(res)}["B-aug-small-k"]
    assert c.verdict == "no" and "(reading b: not testable here)" in c.ours


def test_aug_one_run_caps_and_fgsm_text_follows_the_model():
    res = aug({"base": 0.18, CONTROL: 0.20, "k=4": 0.05, "k=64": 0.12},
              still={"base": 1.0, CONTROL: 0.6, "k=4": 0.3, "k=64": 0.4})
    c = {x.id: x for x in pb.claims_augmentation(res)}
    capped = {k: x for k, x in c.items() if k != "B-aug-fgsm-most"}  # a level of one model: not capped
    assert {x.verdict for x in capped.values()} == {"partly"} and all(x.why.startswith("one fine-tuning run")
                                                                    for x in capped.values())
    assert c["B-aug-fgsm-most"].verdict == "yes"
    assert "MobileNetV2, not ResNet-101" in c["B-aug-fgsm"].why
    res["model"] = "resnet101"
    c = {x.id: x for x in pb.claims_augmentation(res)}
    assert "not ResNet-101" not in c["B-aug-fgsm"].why and "the paper's model" in c["B-aug-fgsm"].why
    bad = aug({"base": 0.18, CONTROL: 0.20, "k=4": 0.25, "k=64": 0.20}, unsel={"k=4": 0.2, "k=64": 0.2})
    assert verdicts(pb.claims_augmentation(bad))["B-aug-random"] == "no"  # no stays no


# --- §5 Pixel-index ---------------------------------------------------------------------------------
def pi_inputs(fooled_rate, random_rate, n=2000, eps=2.0):
    summary = {"eps": eps, "fooled_per_image": nested(fooled_rate, n).astype(bool),
               "changed_share_per_image": np.full(n, 0.99)}
    return summary, exp1([random_rate], counts=(64,), n=n)


def test_fgsm_pixel_index_uses_the_same_formula():
    summary, e1 = pi_inputs(0.8, 0.01)
    table, diff = fgsm_pixel_index(summary, e1)
    f, r = table.iloc[0], table.iloc[1]
    assert f["Pi"] == pytest.approx(pixel_index(0.8 * 2000, 2000, 0.99 * 224 * 224, 224, 4))
    assert r["Pi"] == pytest.approx(pixel_index(0.01 * 2000, 2000, 64, 224, 255))
    assert diff.value == pytest.approx(f["Pi"] - r["Pi"]) and f["Pi_lo"] < f["Pi"] < f["Pi_hi"]


def test_pixel_index_claims():
    pi = pd.DataFrame({"Pi": [50.0], "Pi_lo": [40.0], "Pi_hi": [60.0], "n_pixels": [64], "images": [200]})
    # "Pi suits adversarial examples" states no test: our interpretation is shown, the verdict is not testable
    c = {x.id: x for x in pb.claims_pixel_index(pi, 98.30, fgsm_pixel_index(*pi_inputs(0.8, 0.01)))}
    assert c["B-pi-example"].verdict == "yes" and c["B-pi-adversarial"].verdict == NOT_TESTABLE
    assert "our interpretation (Pi(FGSM) > Pi(random)) would say: yes" in c["B-pi-adversarial"].ours
    c = {x.id: x for x in pb.claims_pixel_index(pi, 98.34, fgsm_pixel_index(*pi_inputs(0.05, 0.01)))}
    assert c["B-pi-example"].verdict == "no" and c["B-pi-adversarial"].verdict == NOT_TESTABLE
    assert "would say: no" in c["B-pi-adversarial"].ours and "OUR interpretation" in c["B-pi-adversarial"].why
    c = {x.id: x for x in pb.claims_pixel_index(pi, 98.30, fgsm_pixel_index(*pi_inputs(0.13, 0.01, n=500)))}
    assert "would say: partly" in c["B-pi-adversarial"].ours
    c = pb.claims_pixel_index(pi, 98.30)
    assert [x.id for x in c] == ["B-pi-example"]


def test_every_claim_has_checklist_text_and_shows_its_interval():
    from robustlab.book.checklist import TABLE_COLUMNS, claims_table

    res = aug({"base": 0.18, CONTROL: 0.20, "k=4": 0.05, "k=64": 0.12},
              still={"base": 1.0, CONTROL: 0.6, "k=4": 0.3, "k=64": 0.4})
    claims = (pb.claims_exp1(exp1([0.0, 0.002, 0.01, 0.02, 0.03, 0.04, 0.05]))
              + pb.claims_exp3(exp3({8: [0.01] * 3, 32: [0.04] * 3, 64: [0.05] * 3}), exp2([0.0, 0.02, 0.06]))
              + pb.claims_exp2(exp2([0.0, 0.02, 0.06])) + pb.claims_exp4(exp4([0.1, 0.5], 400), {"eps": 2.0})
              + pb.claims_augmentation(res))
    table = claims_table(claims)
    assert list(table.columns) == TABLE_COLUMNS and table["claim"].str.len().min() > 0
    for c in claims:
        if c.verdict != NOT_TESTABLE:
            assert c.value is not None and c.interval is not None and c.method.startswith("bootstrap"), c
            assert "[" in c.ours, c  # the interval is in the words too


# --- several models (§1, Table 6, Table 5) --------------------------------------------------------
def models_exp1(rates: dict[str, float], n: int = 2000) -> pd.DataFrame:
    """A per_model experiment-1 table at 64 px: one row per model, nested per-image values."""
    t = rows([({"n_pixels": 64, "model_name": m, "model": m}, nested(r, n)) for m, r in rates.items()], n)
    return t


TOP1 = {"densenet121": 0.74, "resnet101": 0.77, "vgg16": 0.72, "alexnet": 0.57, "squeezenet1_1": 0.58}


MODEL_IDS = {"B-64px-10pct", "B-64px-range", "B-model-ranking", "B-pi-ranking"}


def test_model_claims_yes():
    rates = {"densenet121": 0.035, "resnet101": 0.07, "vgg16": 0.08, "alexnet": 0.10, "squeezenet1_1": 0.14}
    v = verdicts(pb.claims_models(models_exp1(rates), TOP1))
    assert v == dict.fromkeys(MODEL_IDS, "yes")
    # MobileNetV2 is an extra: listed, never deciding (a 50 % rate would break every claim)
    c = {x.id: x for x in pb.claims_models(models_exp1({**rates, "mobilenet_v2": 0.5}), TOP1)}
    assert {k: x.verdict for k, x in c.items()} == dict.fromkeys(MODEL_IDS, "yes")
    assert all("extra, not one of the paper's five (decides nothing): MobileNetV2 50.0" in x.ours for x in c.values())
    assert "published top-1" in c["B-pi-ranking"].ours and "77.4 %" in c["B-pi-ranking"].ours


def test_model_claims_range_needs_best_near_3_5_and_worst_near_14():
    # both inside 3.5-14 % (the old rule's yes), but the best is 5.5 %, not ≈ 3.5 %, and the worst 6 %, not ≈ 14 %
    rates = {"densenet121": 0.055, "resnet101": 0.058, "vgg16": 0.06, "squeezenet1_1": 0.06}
    assert verdicts(pb.claims_models(models_exp1(rates), TOP1))["B-64px-range"] == "no"
    rates = {"densenet121": 0.035, "squeezenet1_1": 0.06}  # the best ≈ 3.5 %, the worst not ≈ 14 %
    assert verdicts(pb.claims_models(models_exp1(rates), TOP1))["B-64px-range"] == "partly"


def test_model_claims_no():
    # DenseNet the least robust, SqueezeNet the most; Pi rises with accuracy; 1 % and 30 % are not 3.5 / 14 %
    rates = {"densenet121": 0.30, "resnet101": 0.25, "vgg16": 0.20, "alexnet": 0.05, "squeezenet1_1": 0.01}
    v = verdicts(pb.claims_models(models_exp1(rates), TOP1))
    assert v == dict.fromkeys(MODEL_IDS, "no")


def test_model_claims_partly_and_not_testable():
    # DenseNet the most robust, but SqueezeNet not the least: partly
    rates = {"densenet121": 0.02, "resnet101": 0.10, "squeezenet1_1": 0.05}
    assert verdicts(pb.claims_models(models_exp1(rates), TOP1))["B-model-ranking"] == "partly"
    # one model, not of the five: not testable, and the page names the missing weights
    c = pb.claims_models(models_exp1({"mobilenet_v2": 0.05}), {"mobilenet_v2": 0.7},
                         {"resnet101": "no file /w/resnet101.pth"})
    assert {x.id: x.verdict for x in c} == dict.fromkeys(("B-64px-range", "B-model-ranking", "B-pi-ranking"),
                                                         NOT_TESTABLE)
    assert all("ResNet-101" in x.why for x in c)
    # MobileNetV2 and one of the five: still fewer than two of the five
    v = verdicts(pb.claims_models(models_exp1({"mobilenet_v2": 0.05, "squeezenet1_1": 0.14}), TOP1))
    assert v["B-64px-range"] == NOT_TESTABLE and v["B-model-ranking"] == NOT_TESTABLE
    # neither DenseNet nor SqueezeNet ran: the ranking is not testable, the range still is
    v = verdicts(pb.claims_models(models_exp1({"vgg16": 0.035, "alexnet": 0.14}), TOP1))
    assert v["B-model-ranking"] == NOT_TESTABLE and v["B-64px-range"] == "yes"


def test_merge_claims_replaces_by_id():
    one = pb.claims_exp1(exp1([0.0, 0.002, 0.01, 0.02, 0.03, 0.04, 0.05]))
    many = pb.claims_models(models_exp1({"densenet121": 0.30, "squeezenet1_1": 0.01, "vgg16": 0.2}), TOP1)
    merged = pb.merge_claims(one, many)
    ids = [c.id for c in merged]
    assert len(ids) == len(set(ids)) and {"B-model-ranking", "B-pi-ranking"} <= set(ids)
    assert next(c for c in merged if c.id == "B-64px-range").verdict == "no"  # the several-model one


def test_within_counts_an_exact_margin_tie_inside():
    from robustlab.core.claims import within
    from robustlab.core.stats import Estimate
    from robustlab.paper_b.claims import SAME

    # 23 % − 21 % of 100 images is 0.020000000000000018 in floating point: exactly the ±2-pt margin
    assert within(Estimate(0.23 - 0.21, 0.0, 0.05), SAME) == "partly"
    assert within(Estimate(0.23 - 0.21, 0.0, 0.23 - 0.21), SAME) == "yes"
    assert within(Estimate(0.025, 0.0, 0.05), SAME) == "no"


def aug_sweep(still: dict[float, dict[str, float]], n_fgsm=300, decides=2.0) -> pd.DataFrame:
    """An augmentation_fgsm_sweep() table: {ε: {model: share still fooling}}."""
    rows = []
    for e, by in still.items():
        for m, r in by.items():
            v = nested(r, n_fgsm)
            rows.append({"eps": e, "decides": e == decides, "model": m, "fgsm_examples": n_fgsm,
                         "still_fooling_rate": float(v.mean()), "still_fooling_lo": np.nan, "still_fooling_hi": np.nan,
                         "restored_rate": 1 - float(v.mean()), "per_example": v, "per_example_restored": 1 - v})
    return pd.DataFrame(rows)


def test_aug_eps_sweep_yes_at_every_step():
    good = {"base": 1.0, CONTROL: 0.6, "k=4": 0.3, "k=64": 0.4}
    sw = aug_sweep({1.0: good, 2.0: good, 8.0: {"base": 1.0, CONTROL: 0.7, "k=4": 0.35, "k=64": 0.5}})
    v = pb.augmentation_eps_verdicts(sw).set_index("eps")
    assert set(v["B-aug-fgsm"]) == {"yes"} and set(v["B-aug-fgsm-most"]) == {"yes"}  # (the cap: its own test)
    res = aug({"base": 0.18, CONTROL: 0.20, "k=4": 0.05, "k=64": 0.12}, still=good)
    c = {x.id: x for x in pb.claims_augmentation(res, sw)}
    assert c["B-aug-fgsm"].verdict == "yes" and "B-aug-fgsm over the FGSM step" in c["B-aug-fgsm"].why
    assert "the same verdict at every ε" in c["B-aug-fgsm-most"].why
    t = pb.augmentation_sweep_table(sw)
    assert list(t.index) == ["1/255", "2/255 (decides)", "8/255"] and t.iloc[0, 0] == 300


def test_aug_eps_sweep_keeps_the_one_run_cap():
    good = {"base": 1.0, CONTROL: 0.6, "k=4": 0.3, "k=64": 0.4}
    v = pb.augmentation_eps_verdicts(aug_sweep({1.0: good, 2.0: good}))
    assert set(v["B-aug-fgsm"]) == {"partly"} and set(v["B-aug-fgsm-most"]) == {"yes"}  # a level: not capped


def test_aug_eps_sweep_no_the_verdict_moves_with_the_step():
    sw = aug_sweep({1.0: {"base": 1.0, CONTROL: 0.6, "k=4": 0.3}, 2.0: {"base": 1.0, CONTROL: 0.6, "k=4": 0.3},
                    8.0: {"base": 1.0, CONTROL: 0.6, "k=4": 0.8}})
    v = pb.augmentation_eps_verdicts(sw).set_index("eps")
    assert v.loc[8.0, "B-aug-fgsm"] == "no" and v.loc[8.0, "B-aug-fgsm-most"] == "no"
    assert v.loc[2.0, "B-aug-fgsm-most"] == "yes"
    res = aug({"base": 0.18, CONTROL: 0.20, "k=4": 0.05}, still={"base": 1.0, CONTROL: 0.6, "k=4": 0.3},
              models=("base", CONTROL, "k=4"))
    c = {x.id: x for x in pb.claims_augmentation(res, sw)}
    assert c["B-aug-fgsm-most"].verdict == "yes" and "depends on ε" in c["B-aug-fgsm-most"].why
    no_ctl = aug_sweep({2.0: {"base": 1.0, "k=4": 0.3}})
    assert set(pb.augmentation_eps_verdicts(no_ctl)[["B-aug-fgsm", "B-aug-fgsm-most"]].iloc[0]) == {NOT_TESTABLE}


# --- experiments 1–4 judged on every model --------------------------------------------------------
def test_per_model_yes_when_every_model_agrees():
    args = {"mobilenet_v2": (exp2([0.0, 0.02, 0.06]),), "vgg16": (exp2([0.0, 0.03, 0.08]),)}
    c = pb.judge_per_model(pb.claims_exp2, args, "mobilenet_v2")[0]
    assert c.id == "B-magnitude" and c.verdict == "yes"
    assert c.value == pb.claims_exp2(exp2([0.0, 0.02, 0.06]))[0].value  # the headline is the primary model's
    assert "per model (the headline is MobileNetV2)" in c.why and "VGG-16 yes" in c.why and "agree" in c.why
    e4 = {"mobilenet_v2": (exp4([0.1, 0.5], 400), {"eps": 2.0}), "vgg16": (exp4([0.1, 0.4], 400), {"eps": 2.0})}
    assert pb.judge_per_model(pb.claims_exp4, e4, "mobilenet_v2")[0].verdict == "yes"
    # one model: unchanged
    one = pb.judge_per_model(pb.claims_exp2, {"mobilenet_v2": args["mobilenet_v2"]}, "mobilenet_v2")
    assert one == pb.claims_exp2(exp2([0.0, 0.02, 0.06]))


def test_per_model_no_more_than_partly_when_models_disagree():
    args = {"mobilenet_v2": (exp2([0.0, 0.02, 0.06]),), "vgg16": (exp2([0.06, 0.03, 0.0]),)}
    c = pb.judge_per_model(pb.claims_exp2, args, "mobilenet_v2")[0]
    assert c.verdict == "partly" and "VGG-16 no" in c.why and "disagree" in c.why
    # the primary model's no stays no; a model-specific claim (B-resnet-4-64) is not judged per model
    c = pb.judge_per_model(pb.claims_exp2, args, "vgg16")[0]
    assert c.verdict == "no"
    e1 = {"mobilenet_v2": (exp1([0.01, 0.05], counts=(4, 64)), "MobileNetV2"),
          "vgg16": (exp1([0.05, 0.01], counts=(4, 64)), "VGG-16")}
    by = {x.id: x for x in pb.judge_per_model(pb.claims_exp1, e1, "mobilenet_v2")}
    assert by["B-more-pixels"].verdict == "partly" and "per model" not in by["B-resnet-4-64"].why
