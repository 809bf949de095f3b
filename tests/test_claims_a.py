"""Paper A's verdicts (robustlab.paper_a.claims) follow from numbers with intervals and go every way.

Inputs are synthetic: correctness grids drawn with fixed per-cell probabilities (paired: the images
share most of their randomness across cells, as the same test images and corruption draws do) and
delta tables with chosen mean changes; each claim gets an input where it must say "yes", one where it
must say "no", and "partly" where the rule has one.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from robustlab.core.claims import NOT_TESTABLE
from robustlab.paper_a import claims as pac

SIG = [0.0, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0]
ARCHS = ["resnet", "inception", "resnext"]
N_TEST = 1500
#: Two architectures where a test is not about architectures (fewer resamples to draw).
TWO = ["resnet", "inception"]
#: Paper-like Fig. 4 accuracies, σ_train (rows) × σ_eval (columns).
NOISE = np.array([
    [.80, .80, .78, .70, .30, .15, .10],
    [.80, .80, .78, .71, .31, .15, .10],
    [.80, .80, .79, .74, .33, .16, .10],
    [.79, .79, .79, .79, .40, .18, .10],
    [.60, .60, .61, .62, .65, .40, .12],
    [.45, .45, .46, .47, .52, .55, .15],
    [.20, .20, .20, .20, .22, .25, .30]])
#: Paper-like Fig. 6 accuracies at the distinct blur levels 0, 0.5, 1, 5 (0.01–0.1 are identity blurs).
BLUR4 = np.array([[.80, .70, .40, .15], [.79, .72, .45, .16], [.65, .66, .60, .20], [.30, .30, .30, .35]])
_B = [0, 0, 0, 0, 1, 2, 3]  # SIG index → BLUR4 index
#: Paper-like mean change (8-bit) per model, and the accuracy behind each model.
DN = {0.0: 2.0, .01: 2.1, .05: 2.15, .1: 2.2, .5: 2.0, 1.0: 1.6, 5.0: 1.0}
DB = {0.0: 2.0, .5: 2.02, 1.0: 1.6, 5.0: 1.2}
ACC = {**{("noise", s): NOISE[i, 0] for i, s in enumerate(SIG)},
       **{("blur", s): BLUR4[i, 0] for i, s in enumerate([0.0, .5, 1.0, 5.0])}}


@pytest.fixture(autouse=True)
def _few_resamples(monkeypatch, request):
    monkeypatch.setattr(pac, "N_BOOT", 100)
    if "one_seed" not in request.node.name:  # the rules themselves; the one-seed cap has its own tests
        monkeypatch.setattr(pac, "one_seed_cap", lambda claims, n_seeds: claims)


# ------------------------------------------------------------------------------ synthetic inputs
def grid(P, n_seeds=1, n_test=N_TEST, seed=0, shared=0.98, images=None):
    """bool (n_seeds, S, S, n_test): cell (i, j) correct with probability P[i, j]; a test image's
    uniform draw ``images`` (one per image, the same for every architecture) is used by a cell with
    probability ``shared``, an independent one otherwise: the images are paired across cells and models."""
    rng = np.random.default_rng(seed)
    P = np.asarray(P, float)
    shape = (n_seeds, *P.shape, n_test)
    img = np.random.default_rng(99).random(n_test) if images is None else images
    u = np.where(rng.random(shape) < shared, img, rng.random(shape))
    return u < np.clip(P, 0, 1)[None, :, :, None]


def grids(P, archs=ARCHS, shift=None, n_test=N_TEST, **kw):
    img = np.random.default_rng(99).random(n_test)
    return {a: grid(np.asarray(P) + (shift or {}).get(a, 0.0), seed=k, n_test=n_test, images=img, **kw)
            for k, a in enumerate(archs)}


def blur_matrix(b4=BLUR4):
    return np.asarray(b4)[np.ix_(_B, _B)]


def clean(acc=ACC, archs=ARCHS, n_seeds=1, n_test=2000, override=None):
    """clean_correct {(arch, kind, σ): bool (n_seeds, n_test)} with the given accuracies."""
    rng = np.random.default_rng(7)
    out = {}
    for a in archs:
        for (k, s), p in acc.items():
            p = (override or {}).get((a, k, s), p)
            out[(a, k, s)] = rng.random((n_seeds, n_test)) < p
    return out


def delta_df(dn=DN, db=DB, acc=ACC, archs=ARCHS, n_seeds=1, n_img=128, scale=None, override=None, seed=0,
             p_success=0.995, hard_by_easy=None):
    """A run_all-like table: every model's attacked images (correct with its accuracy, ``p_success`` of
    those attacked successfully) with a change drawn around the model's mean, times a per-image factor
    shared by every model (some images need larger changes for every model, as in real runs; or
    ``hard_by_easy(easy)``, tied to how easily the image is classified)
    (``override``: (arch, kind, σ) → (Δ, accuracy))."""
    rng = np.random.default_rng(seed)
    easy = rng.random(n_img)
    hard = np.exp(0.3 * rng.standard_normal(n_img)) if hard_by_easy is None else hard_by_easy(easy)
    frames = []
    models = [("noise", s, d) for s, d in dn.items()] + [("blur", s, d) for s, d in db.items()]
    for a in archs:
        for k, s, d in models:
            d, p = (override or {}).get((a, k, s), (d, acc[(k, s)]))
            for r in range(n_seeds):
                corr = easy < p
                succ = corr & (rng.random(n_img) < p_success)
                val = d * (scale or {}).get(a, 1.0) * hard * np.exp(0.1 * rng.standard_normal(n_img))
                f = pd.DataFrame({"arch": a, "kind": k, "sigma_train": s, "seed": r, "image": 100 + np.arange(n_img),
                                  "correct": corr, "success": succ, "mean_abs_8bit": np.where(succ, val / 4, np.nan),
                                  "linf_8bit": np.where(succ, val, np.nan),
                                  # an L2 table's l2 whose per-pixel RMS (8-bit) is the drawn change
                                  "l2": np.where(succ, val * np.sqrt(pac.D_IN) / 127.5, np.nan)})
                frames.append(f)
    return pd.concat(frames, ignore_index=True)


def by_id(claims):
    return {c.id: c for c in claims}


def verdicts(claims):
    return {c.id: c.verdict for c in claims}


# ------------------------------------------------------------------------------ Fig. 4
FIG4_IDS = ["A-noise-001", "A-noise-diagonal", "A-noise-drop", "A-noise-small-helps", "A-noise-archs",
            "A-noise-at-least"]
#: A Fig. 4 whose models trained with σ ≥ 0.1 are lower everywhere (overall and clean) and the models
#: below 0.1 the same as σ 0: "the overall accuracy starts to drop at 0.1" on both readings.
NOISE_DROP = NOISE.copy()
NOISE_DROP[1] = NOISE_DROP[2] = NOISE[0]
NOISE_DROP[3:] = NOISE[0] - np.array([0.05, 0.10, 0.20, 0.40])[:, None]


def test_fig4_paperlike_all_yes_with_intervals():
    cs = pac.fig4_claims(grids(NOISE), SIG, ARCHS)
    assert [c.id for c in cs] == FIG4_IDS
    # the σ 0.1 model's overall accuracy (mean over every σ_eval) rises: the two readings of "overall" disagree
    assert verdicts(cs) == {**dict.fromkeys(FIG4_IDS, "yes"), "A-noise-drop": "partly"}
    for c in cs:  # the headline number with its interval, shown in ours
        assert c.interval is not None and c.interval[0] <= c.value <= c.interval[1], c
        assert c.unit == "pts" and c.method == f"bootstrap over {N_TEST} images" and "[" in c.ours
        assert "3 accuracy points" in c.why or "3 pts" in c.why


def test_fig4_each_claim_can_say_no():
    P = NOISE.copy()
    P[1] -= 0.10  # the σ 0.01 model is 10 points worse everywhere, and so is every model at σ_eval 0.01
    P[:, 1] -= 0.10
    assert verdicts(pac.fig4_claims(grids(P, TWO), SIG, TWO))["A-noise-001"] == "no"
    # every row's best column is σ_eval 0, the diagonal 10 points below it
    P = NOISE.copy()
    for i in range(3, 7):
        P[i, i] = P[i, 0] - 0.10
    assert verdicts(pac.fig4_claims(grids(P, TWO), SIG, TWO))["A-noise-diagonal"] == "no"
    P = NOISE.copy()
    P[3:] = P[0] + 0.05  # the σ_train ≥ 0.1 models are better, clean and overall: no drop on either reading
    assert verdicts(pac.fig4_claims(grids(P, TWO), SIG, TWO))["A-noise-drop"] == "no"
    P = NOISE.copy()
    P[3] = P[0] - 0.10  # σ_train 0.1 harms clean data and gains nothing
    assert verdicts(pac.fig4_claims(grids(P, TWO), SIG, TWO))["A-noise-small-helps"] == "no"
    # more training noise is worse everywhere: the matched model never beats the less noisy ones
    P = np.repeat((0.8 - 0.1 * np.arange(7))[:, None], 7, axis=1)
    assert verdicts(pac.fig4_claims(grids(P, TWO), SIG, TWO))["A-noise-at-least"] == "no"
    two = pac.fig4_claims(grids(NOISE, ARCHS[:2], shift={"inception": 0.10}), SIG, ARCHS[:2])
    assert verdicts(two)["A-noise-archs"] == "no"


def test_noise_drop_reads_overall_and_clean_from_sigma_01():
    c = by_id(pac.fig4_claims(grids(NOISE_DROP, TWO), SIG, TWO))["A-noise-drop"]
    assert c.verdict == "yes" and "overall σ_train 0 − 0.1" in c.ours and "clean σ_train 0 − 0.1" in c.ours
    assert "verdict yes) and its clean accuracy (σ_eval 0; verdict yes)" in c.why
    # the drop starts only after 0.1 (the old rule's reading): σ_train 0.1 still flat → no
    P = NOISE_DROP.copy()
    P[3] = NOISE[0] + 0.02
    assert verdicts(pac.fig4_claims(grids(P, TWO), SIG, TWO))["A-noise-drop"] == "no"
    # clean drops from 0.1, the overall accuracy rises: the readings disagree → partly
    P = NOISE_DROP.copy()
    P[3, 1:] = NOISE[0, 1:] + 0.10
    c = by_id(pac.fig4_claims(grids(P, TWO), SIG, TWO))["A-noise-drop"]
    assert c.verdict == "partly" and "verdict no) and its clean accuracy (σ_eval 0; verdict yes)" in c.why


def test_fig4_partly():
    P = NOISE.copy()
    P[1] -= 0.10  # as a model, σ 0.01 differs from σ 0; as evaluation data it does not
    assert verdicts(pac.fig4_claims(grids(P, TWO), SIG, TWO))["A-noise-001"] == "partly"
    P = NOISE_DROP.copy()
    P[2] = NOISE[0] - 0.10  # the accuracy drops already at σ 0.05: a drop, but not starting at 0.1
    assert verdicts(pac.fig4_claims(grids(P, TWO), SIG, TWO))["A-noise-drop"] == "partly"
    P = NOISE.copy()
    P[3, 1:5] = P[0, 1:5] - 0.05  # σ 0.1: no harm on clean data, but a loss on noisy data
    assert verdicts(pac.fig4_claims(grids(P, TWO), SIG, TWO))["A-noise-small-helps"] == "partly"
    three = pac.fig4_claims(grids(NOISE, shift={"inception": 0.10}), SIG, ARCHS)
    assert verdicts(three)["A-noise-archs"] == "partly"  # resnet ≈ resnext, inception apart
    P = NOISE.copy()
    P[6, 6] = 0.05  # σ_eval 5: the σ 5 model no better than the less noisy ones
    assert verdicts(pac.fig4_claims(grids(P, TWO), SIG, TWO))["A-noise-at-least"] == "partly"


def test_fig4_one_architecture_and_missing_levels():
    v = verdicts(pac.fig4_claims(grids(NOISE_DROP, ["resnet"]), SIG, ["resnet"]))
    assert v["A-noise-archs"] == NOT_TESTABLE and v["A-noise-drop"] == "yes"
    sig = [0.0, 0.1, 1.0]  # no σ 0.01 in this run: nothing before the start to be flat
    P = NOISE_DROP[np.ix_([0, 3, 5], [0, 3, 5])]
    v = verdicts(pac.fig4_claims(grids(P, ["resnet"]), sig, ["resnet"]))
    assert v["A-noise-001"] == NOT_TESTABLE and v["A-noise-drop"] == "partly"


def test_fig4_two_seeds_give_t_intervals():
    cs = pac.fig4_claims(grids(NOISE, n_seeds=2, n_test=1000), SIG, ARCHS)
    assert {c.method for c in cs} == {"t over 2 seeds"}


# ------------------------------------------------------------------------------ Fig. 6
FIG6_IDS = ["A-blur-05", "A-blur-inception", "A-blur-archs"]


def test_fig6_paperlike_yes():
    v = verdicts(pac.fig6_claims(grids(blur_matrix()), SIG, ARCHS))
    # all alike: ResNet ≈ ResNeXt holds, "Inception is best" does not
    assert v == {"A-blur-05": "yes", "A-blur-inception": "partly", "A-blur-archs": "yes"}
    cs = by_id(pac.fig6_claims(grids(blur_matrix(), shift={"inception": 0.05}), SIG, ARCHS))
    assert cs["A-blur-inception"].verdict == "yes" and cs["A-blur-archs"].verdict == "partly"
    assert "identity blurs σ 0.01, 0.05, 0.1" in cs["A-blur-05"].why


def test_fig6_no_and_partly():
    b = BLUR4.copy()
    b[1, 0], b[2, 0], b[3, 0] = 0.70, 0.85, 0.85  # σ 0.5 loses 10 points, σ 1 and 5 gain: neither half
    assert verdicts(pac.fig6_claims(grids(blur_matrix(b)), SIG, ARCHS))["A-blur-05"] == "no"
    b = BLUR4.copy()
    b[2, 0], b[3, 0] = 0.85, 0.85  # flat up to 0.5, but no drop above
    assert verdicts(pac.fig6_claims(grids(blur_matrix(b)), SIG, ARCHS))["A-blur-05"] == "partly"
    # Inception worst, ResNet and ResNeXt 10 points apart
    v = verdicts(pac.fig6_claims(grids(blur_matrix(), shift={"inception": -0.05, "resnet": 0.10}), SIG, ARCHS))
    assert v["A-blur-inception"] == "no" and v["A-blur-archs"] == "no"
    # Inception best, but ResNet and ResNeXt apart: partly
    v = verdicts(pac.fig6_claims(grids(blur_matrix(), shift={"inception": 0.20, "resnet": 0.10}), SIG, ARCHS))
    assert v["A-blur-inception"] == "partly"
    one = verdicts(pac.fig6_claims(grids(blur_matrix(), ["resnet"]), SIG, ["resnet"]))
    assert one["A-blur-inception"] == NOT_TESTABLE and one["A-blur-archs"] == NOT_TESTABLE


def _caption_grids(boost: float):
    """Blur models on *noise* levels (Fig. 6's caption): Inception ``boost`` points better only at σ_eval
    0.01–0.1, which are real noise levels but identity blurs."""
    img = np.random.default_rng(99).random(N_TEST)
    out = {}
    for k, a in enumerate(ARCHS):
        P = blur_matrix().copy()
        if a == "inception":
            P[:, 1:4] += boost
        out[a] = grid(P, seed=k, images=img)
    return out


def test_fig6_caption_reading_yes_counts_every_noise_level():
    g = _caption_grids(0.3)
    text = verdicts(pac.fig6_claims(g, SIG, ARCHS))  # as blur levels, σ_eval 0.01–0.1 are the clean column
    caption = by_id(pac.fig6_claims(g, SIG, ARCHS, eval_kind="noise"))
    assert text["A-blur-inception"] == "partly" and caption["A-blur-inception"].verdict == "yes"
    assert "blur models on noise levels" in caption["A-blur-inception"].why
    assert caption["A-blur-05"].verdict == text["A-blur-05"]  # clean accuracy: the same column in both readings
    txt = pac.readings_sentence(pac.fig6_claims(g, SIG, ARCHS), list(caption.values()))
    assert "the verdicts move: A-blur-inception partly → yes" in txt and "A-blur-05" in txt


def test_fig6_caption_reading_no():
    g = _caption_grids(-0.3)
    v = verdicts(pac.fig6_claims(g, SIG, ARCHS, eval_kind="noise"))
    assert v["A-blur-inception"] == "partly" and v["A-blur-archs"] == "partly"  # Inception worst; ResNet ≈ ResNeXt
    v = verdicts(pac.fig6_claims(grids(blur_matrix(), shift={"inception": -0.05, "resnet": 0.10}), SIG, ARCHS,
                                 eval_kind="noise"))
    assert v["A-blur-inception"] == "no" and v["A-blur-archs"] == "no"
    same = pac.fig6_claims(g, SIG, ARCHS)
    assert "every Fig. 6 verdict is the same" in pac.readings_sentence(same, same)


def test_fig6_duplicates_never_count():
    P = blur_matrix()
    g = grids(P)
    junk = {a: c.copy() for a, c in g.items()}
    rng = np.random.default_rng(1)
    for c in junk.values():  # identity-blur rows and columns filled with noise: never read
        c[:, 1:4] = rng.random(c[:, 1:4].shape) < 0.3
        c[:, :, 1:4] = rng.random(c[:, :, 1:4].shape) < 0.3
    assert pac.fig6_claims(g, SIG, ARCHS) == pac.fig6_claims(junk, SIG, ARCHS)
    # "flat" is never automatic: with only identity blurs at or below 0.5 it cannot be tested
    sig = [0.0, 0.01, 0.05, 0.1, 1.0]
    Q = blur_matrix()[np.ix_([0, 1, 2, 3, 5], [0, 1, 2, 3, 5])]
    c = by_id(pac.fig6_claims(grids(Q), sig, ARCHS))["A-blur-05"]
    assert c.verdict == "partly" and "σ_train 1" in c.ours and "σ_train 0.01" not in c.ours


# ------------------------------------------------------------------------------ Figs. 5 and 7
DELTA_IDS = ["A-adv-noise", "A-adv-noise-high", "A-adv-blur", "A-adv-archs", "A-adv-small", "A-conclusion-01",
             "A-adv-low-acc"]
#: The opposite of the paper everywhere: small noise and σ 0.1 lower, high σ higher, blur 0.5 lower,
#: low-accuracy models harder to trick, architectures twice apart, changes of ~4 % of the range.
DN_OPP = {0.0: 8.0, .01: 6.4, .05: 6.4, .1: 6.4, .5: 8.8, 1.0: 10.0, 5.0: 12.0}
DB_OPP = {0.0: 8.0, .5: 5.6, 1.0: 10.0, 5.0: 12.0}


def test_delta_paperlike_all_yes():
    cs = pac.delta_claims(delta_df(), clean())
    assert [c.id for c in cs] == DELTA_IDS
    assert verdicts(cs) == dict.fromkeys(DELTA_IDS, "yes")
    for c in cs:
        assert c.interval is not None and c.interval[0] <= c.value <= c.interval[1], c
        assert "[" in c.ours and "No model left out" in c.why
    assert by_id(cs)["A-adv-low-acc"].method == "bootstrap over 128 attacked and 2000 test images"
    assert by_id(cs)["A-adv-noise"].method == "bootstrap over 128 attacked images"


def test_delta_opposite_all_no():
    v = verdicts(pac.delta_claims(delta_df(DN_OPP, DB_OPP, scale={"inception": 2.0}), clean()))
    assert v == dict.fromkeys(DELTA_IDS, "no")


def test_delta_partly():
    # σ 1 drops, σ 5 does not
    v = verdicts(pac.delta_claims(delta_df({**DN, 5.0: 2.6}), clean()))
    assert v["A-adv-noise-high"] == "partly"
    # blur: flat, but no drop at σ ≥ 1
    assert verdicts(pac.delta_claims(delta_df(db={**DB, 1.0: 2.5, 5.0: 2.5}), clean()))["A-adv-blur"] == "partly"
    # σ 0.1 above σ 0 but 20 % below σ 0.05
    assert verdicts(pac.delta_claims(delta_df({**DN, .05: 2.75}), clean()))["A-conclusion-01"] == "partly"
    # architectures 35 % apart: value above the 25 % margin → no; 20 % apart with a wide interval → partly or yes
    assert verdicts(pac.delta_claims(delta_df(scale={"inception": 1.35}), clean()))["A-adv-archs"] == "no"


def _own_image_means(df):
    from robustlab.paper_a.delta import model_means

    return model_means(df).groupby(level=["kind", "sigma_train"]).mean()


def test_delta_comparisons_are_paired_on_common_images():
    # the images only the accurate models get right need *small* changes, those every model gets right
    # large ones: a low-accuracy model's own images are the robust ones, so its own-image mean is high
    df = delta_df(hard_by_easy=lambda e: np.exp(5 * (0.5 - e)))
    own = _own_image_means(df)
    assert own[("noise", 5.0)] > own[("noise", 0.1)]  # unpaired, σ 5 would look *more* robust
    c = by_id(pac.delta_claims(df, clean()))["A-adv-noise-high"]
    assert c.verdict == "yes"  # paired, on the same images, σ ≥ 1 needs less
    assert "each σ on the images it and the small-noise models all classify correctly and move" in c.ours
    # beside it, the Δ = 0 variant over all images (less the few where an attack on a correct image failed)
    assert "the same with Δ = 0 for an image a model already misclassifies (over 12" in c.ours
    assert " of 128 images): σ 1 " in c.ours
    assert "this decides" in c.why
    # the reverse: σ ≥ 1 needs 20 % *more* on the same images, but its own images are the fragile ones
    df = delta_df({**DN, 1.0: 2.6, 5.0: 2.6}, hard_by_easy=lambda e: np.exp(5 * (e - 0.5)))
    own = _own_image_means(df)
    assert own[("noise", 5.0)] < own[("noise", 0.1)]  # unpaired, σ 5 would look less robust
    assert by_id(pac.delta_claims(df, clean()))["A-adv-noise-high"].verdict == "no"


def test_delta_comparison_needs_enough_common_images():
    # every attack fails on half the images, independently per model: σ 5 (20 % accurate) and the
    # small-noise models share fewer than 10 moved images
    c = by_id(pac.delta_claims(delta_df(p_success=0.5), clean()))["A-adv-low-acc"]
    assert c.verdict == NOT_TESTABLE


def test_chance_model_is_left_out_and_named():
    # resnet's σ 5 noise model is at chance (10 %) with a tiny Δ: it must not make σ ≥ 1 "drop"
    dn = {**DN, 1.0: 2.5}  # σ 1 no lower than the small-noise models
    ov = {("resnet", "noise", 5.0): (0.3, 0.10)}
    cs = by_id(pac.delta_claims(delta_df(dn, override=ov), clean(override={("resnet", "noise", 5.0): 0.10})))
    high = cs["A-adv-noise-high"]
    assert high.verdict == "no" and "σ 5" not in high.ours  # decided by σ 1 alone
    assert "resnet noise σ 5 (clean accuracy" in high.why and "not clearly above chance" in high.why
    # the other architectures' σ 5 models are kept but out of every mean over architectures
    assert "Kept but not for every architecture (out of the means): inception noise σ 5, resnext noise σ 5" \
        in high.why
    assert all("resnet noise σ 5" in c.why for c in cs.values())
    # with the model at chance kept (old behaviour) the verdict would have been "partly"
    kept = by_id(pac.delta_claims(delta_df(dn, override={("resnet", "noise", 5.0): (0.3, 0.2)}), clean()))
    assert kept["A-adv-noise-high"].verdict == "partly"


def test_few_successes_are_left_out_and_archs_use_the_common_set():
    # inception's blur σ 5 model: 4 % accuracy on the attacked images (≈ 5 successes) and a huge Δ
    ov = {("inception", "blur", 5.0): (20.0, 0.04)}
    cs = by_id(pac.delta_claims(delta_df(override=ov), clean()))
    assert "inception blur σ 5 (" in cs["A-adv-archs"].why and "successful attacks (< 10)" in cs["A-adv-archs"].why
    assert cs["A-adv-archs"].verdict == "yes" and "blur σ 5" not in cs["A-adv-archs"].ours


def test_delta_duplicates_and_missing_seed_column():
    base = pac.delta_claims(delta_df(), clean())
    # σ 0 only once (under noise) and no seed column: the same numbers
    df = delta_df()
    once = df[~((df["kind"] == "blur") & (df["sigma_train"] == 0))].drop(columns="seed")
    assert pac.delta_claims(once, clean()) == base
    # identity-blur rows (the σ 0 model) with other numbers, and their clean correctness: never counted
    dup = df[(df["kind"] == "noise") & (df["sigma_train"] == 0.05)].assign(kind="blur", mean_abs_8bit=50.0)
    cc = clean()
    cc.update({(a, "blur", 0.05): cc[(a, "noise", 5.0)] for a in ARCHS})
    assert pac.delta_claims(pd.concat([df, dup], ignore_index=True), cc) == base


def test_delta_two_seeds_give_t_intervals():
    cs = pac.delta_claims(delta_df(n_seeds=2), clean(n_seeds=2))
    assert {c.method for c in cs} == {"t over 2 seeds"}
    assert verdicts(cs)["A-adv-small"] == "yes"


def test_delta_not_testable_when_everything_is_left_out():
    cs = pac.delta_claims(delta_df(n_img=4), clean())  # 4 attacked images: never 10 successes
    assert set(verdicts(cs).values()) == {NOT_TESTABLE}
    assert "resnet σ 0 (" in cs[0].why


# ------------------------------------------------------------------------------ §3/§4 and the helpers
def _both(*a, **k):
    return by_id(pac.conclusion_claims(*a, **k))["A-conclusion-01-both"]


def test_conclusion_both_measures():
    noise = grids(NOISE)
    cc = pac.clean_correctness({"noise": noise, "blur": grids(blur_matrix())}, SIG)
    cs = pac.conclusion_claims(noise, SIG, ARCHS, delta_df(), cc)
    assert [x.id for x in cs] == ["A-conclusion-01-both", "A-conclusion-archs"]
    c = cs[0]
    assert c.id == "A-conclusion-01-both" and c.verdict == "yes" and c.unit == "pts" and "[" in c.ours
    P = NOISE.copy()
    P[3] = P[0] - 0.05
    worse = grids(P)
    assert _both(worse, SIG, ARCHS, delta_df({**DN, .1: 1.6}), cc).verdict == "no"
    assert _both(noise, SIG, ARCHS, delta_df({**DN, .1: 1.6}), cc).verdict == "partly"  # accuracy better, Δ lower


def test_conclusion_archs_covers_noise_blur_and_delta():
    noise, blur = grids(NOISE), grids(blur_matrix())
    cc = pac.clean_correctness({"noise": noise, "blur": blur}, SIG)
    c = by_id(pac.conclusion_claims(noise, SIG, ARCHS, delta_df(), cc, blur_correct=blur))["A-conclusion-archs"]
    assert c.verdict == "yes" and "noise matrix:" in c.ours and "blur matrix:" in c.ours and "Δ largest" in c.ours
    # alike on noise, but the blur matrices and the Δ apart: no longer a copy of A-noise-archs
    far = grids(blur_matrix(), shift={"inception": 0.10})
    cs = by_id(pac.conclusion_claims(noise, SIG, ARCHS, delta_df(scale={"inception": 1.35}), cc, blur_correct=far))
    assert cs["A-conclusion-archs"].verdict == "partly"
    two = grids(NOISE, ARCHS[:2], shift={"inception": 0.10})
    cc2 = pac.clean_correctness({"noise": two}, SIG)
    cs = by_id(pac.conclusion_claims(two, SIG, ARCHS[:2], delta_df(archs=ARCHS[:2], scale={"inception": 1.5}),
                                     cc2, blur_correct=grids(blur_matrix(), ARCHS[:2], shift={"inception": 0.10})))
    assert cs["A-conclusion-archs"].verdict == "no"
    # without the blur grid: at most partly (a part cannot be tested)
    c = by_id(pac.conclusion_claims(noise, SIG, ARCHS, delta_df(), cc))["A-conclusion-archs"]
    assert c.verdict == "partly" and "blur matrix: not given" in c.ours


def test_one_seed_caps_model_comparisons():
    one = verdicts(pac.fig4_claims(grids(NOISE_DROP, TWO), SIG, TWO))
    two = verdicts(pac.fig4_claims(grids(NOISE_DROP, TWO, n_seeds=2, n_test=1000), SIG, TWO))
    assert two["A-noise-drop"] == "yes" and one["A-noise-drop"] == "partly"
    # one model's own row: not a comparison of trained models, so not capped
    assert verdicts(pac.fig4_claims(grids(NOISE, TWO), SIG, TWO))["A-noise-diagonal"] == "yes"
    c = by_id(pac.fig4_claims(grids(NOISE_DROP, TWO), SIG, TWO))["A-noise-drop"]
    assert c.why.startswith("one training seed")
    d = verdicts(pac.delta_claims(delta_df(), clean()))
    assert d["A-adv-noise"] == "partly" and d["A-adv-small"] == "yes"
    assert verdicts(pac.delta_claims(delta_df(DN_OPP, DB_OPP), clean()))["A-adv-noise"] == "no"  # no stays no


def test_module_claims_inception_by_construction():
    rows = [{"arch": "resnet", "ours": 69632, "paper": 69632}, {"arch": "inception", "ours": 192512, "paper": 192512},
            {"arch": "resnext", "ours": 70000, "paper": 70144}]
    v = verdicts(pac.module_claims(rows))
    assert v == {"A-params-resnet": "yes", "A-params-inception": "by construction", "A-params-resnext": "no"}
    v = verdicts(pac.module_claims([{"arch": "inception", "ours": 192000, "paper": 192512}]))
    assert v == {"A-params-inception": "no"}


def test_rms_from_l2():
    df = pd.DataFrame({"l2": [np.sqrt(pac.D_IN) * 2 / 255]})
    assert pac.with_rms(df)["rms_8bit"].iloc[0] == pytest.approx(1.0)


def test_delta_claims_decided_on_both_norms():
    lin = delta_df()
    same = by_id(pac.delta_claims(lin, clean(), df_l2=delta_df(seed=1)))
    assert {c.verdict for c in same.values()} == {"yes"}
    c = same["A-adv-noise"]
    assert "L∞ of the L∞-minimal change:" in c.ours and "per-pixel RMS of the L2-minimal change:" in c.ours
    assert c.why.startswith("decided on both norms (linf: yes; l2: yes)")
    # the L2 change says the opposite everywhere: every verdict depends on the norm → partly
    opp = by_id(pac.delta_claims(lin, clean(), df_l2=delta_df(DN_OPP, DB_OPP, scale={"inception": 2.0})))
    assert opp["A-adv-noise"].verdict == "partly" and "l2: no" in opp["A-adv-noise"].why
    assert opp["A-adv-small"].verdict == "partly"
    # both say no: no
    both = by_id(pac.delta_claims(delta_df(DN_OPP, DB_OPP), clean(), df_l2=delta_df(DN_OPP, DB_OPP)))
    assert both["A-adv-noise"].verdict == "no"
    noise, blur = grids(NOISE), grids(blur_matrix())
    cc = pac.clean_correctness({"noise": noise, "blur": blur}, SIG)
    cs = by_id(pac.conclusion_claims(noise, SIG, ARCHS, lin, cc, blur_correct=blur,
                                     df_l2=delta_df({**DN, .1: 1.6})))
    assert cs["A-conclusion-01-both"].verdict == "partly" and "l2: partly" in cs["A-conclusion-01-both"].why


def test_adv_small_uses_the_papers_2_5_of_255():
    # a mean change of ≈ 3 of 255 (1.2 %): below the old 2 % cap, above the paper's 2.5 of 255
    v = verdicts(pac.delta_claims(delta_df({s: 3.0 for s in DN}, {s: 3.0 for s in DB}), clean()))
    assert v["A-adv-small"] == "no"
    v = verdicts(pac.delta_claims(delta_df({s: 1.5 for s in DN}, {s: 1.5 for s in DB}), clean()))
    assert v["A-adv-small"] == "yes"


def test_clean_correctness_from_the_grids():
    noise, blur = grids(NOISE, n_seeds=2, n_test=100), grids(blur_matrix(), n_seeds=2, n_test=100)
    cc = pac.clean_correctness({"noise": noise, "blur": blur}, SIG)
    assert ("resnet", "noise", 0.01) in cc and ("resnet", "blur", 0.01) not in cc  # identity blur: the σ 0 model
    assert len(cc) == 3 * (7 + 4)
    np.testing.assert_array_equal(cc[("inception", "blur", 0.5)], blur["inception"][:, 4, 0, :])
    assert cc[("resnet", "noise", 1.0)].shape == (2, 100)
