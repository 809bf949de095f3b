"""Chapter 12 (robustlab.beyond): the augmentation primitives, paper A's registry and trainer hook, the
paired comparisons, and our claims' rules — each rule with a constructed input where it must say
*yes* and one where it must say *no*."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from robustlab.beyond import claims as xcl
from robustlab.beyond.cifar import compare
from robustlab.beyond.registry import CIFAR_VARIANTS, NOISE_REFERENCE, REFERENCE, imagenet_variants
from robustlab.core.errors import ParameterError
from robustlab.core.params import resolve
from robustlab.core.stats import Estimate, bootstrap
from robustlab.data import augment_ops
from robustlab.paper_a import augmentations as aug


def _g(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _x(n: int = 6, size: int = 8) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=_g(1)) * 2 - 1


# --- primitives ----------------------------------------------------------------------------
def test_crop_flip_without_padding_only_flips_and_with_padding_shifts():
    x = _x()
    y = augment_ops.crop_flip(x, 0, _g())
    for a, b in zip(x, y):
        assert torch.equal(a, b) or torch.equal(a.flip(2), b)
    assert any(not torch.equal(a, b) for a, b in zip(x, y))  # some image was flipped
    z = augment_ops.crop_flip(x, 2, _g(3))
    assert z.shape == x.shape and torch.equal(z, augment_ops.crop_flip(x, 2, _g(3)))
    assert (z == 0).any()  # a shifted crop shows the zero padding


def test_random_pixels_changes_exactly_k_pixels_on_the_8bit_grid():
    x = _x(5, 32)
    for k in (0, 1, 5):
        y = augment_ops.random_pixels(x, k, _g(k), lo=-1.0, hi=1.0)
        changed = (y != x).any(1).flatten(1).sum(1)
        assert (changed <= k).all() and (changed >= max(0, k - 1)).all()  # (a new value may equal the old)
        new = y[(y != x)]
        np.testing.assert_allclose(((new + 1) * 127.5).numpy(), np.round(((new + 1) * 127.5).numpy()), atol=1e-4)
    with pytest.raises(ParameterError, match="k="):
        augment_ops.random_pixels(x, 32 * 32 + 1, _g())


def test_rotation_erasing_noise_are_identities_at_zero_and_seeded():
    x = _x()
    torch.testing.assert_close(augment_ops.rotate(x, 0.0, _g()), x, atol=1e-5, rtol=0)
    assert not torch.allclose(augment_ops.rotate(x, 15.0, _g()), x)
    assert torch.equal(augment_ops.random_erasing(x, _g(), p=0.0), x)
    e = augment_ops.random_erasing(x, _g(), p=1.0, lo=-1.0, hi=1.0)
    assert ((e != x).any(1).flatten(1).sum(1) > 0).all()
    assert torch.equal(augment_ops.gaussian_noise(x, 0.0, _g(), -1, 1), x)
    n1, n2 = (augment_ops.gaussian_noise(x, 0.1, _g(4), -1, 1) for _ in range(2))
    assert torch.equal(n1, n2) and not torch.equal(n1, x)
    with pytest.raises(ParameterError, match="float tensor"):
        augment_ops.rotate(torch.zeros(3, 8, 8, dtype=torch.uint8), 5.0, _g())


# --- paper A's registry and the trainer hook -------------------------------------------------
def test_registry_declares_the_issue_augmentations_with_paper_b_share():
    assert aug.few_pixel_k(1) == 1 and aug.few_pixel_k(4) == 5  # 64·32²/224² = 1.31 → 1; ×4 = 5.22 → 5
    assert set(aug.AUGMENTATIONS) == {"crop-flip", "rotation", "pixels-1", "pixels-5"}
    assert aug.AUGMENTATIONS["crop-flip"].params == {"pad": 4}
    assert aug.AUGMENTATIONS["rotation"].params == {"max_deg": 15.0}
    names = [v.name for v in CIFAR_VARIANTS]
    assert names[0] == REFERENCE and names[-1] == NOISE_REFERENCE and set(aug.AUGMENTATIONS) <= set(names)
    with pytest.raises(ParameterError, match="not registered"):
        aug.check_augmentation("cutout")
    cfg = resolve("t", {"profile": "tiny"})
    iv = [v.name for v in imagenet_variants(cfg)]
    assert iv[0] == "k=0 (control)" and {"gaussian noise", "random erasing", "crop + flip"} <= set(iv)


def test_training_with_an_augmentation_is_seeded_and_differs_from_none(one_thread):
    from robustlab.paper_a.nets import build
    from robustlab.paper_a.training import train

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, 64)

    def fit(a):
        torch.manual_seed(0)
        m = build("resnet", width=0.0625)
        train(m, x, y, kind="noise", sigma=0.0, epochs=1, batch_size=32, lr=0.05, progress=False, augmentation=a)
        return torch.cat([p.flatten() for p in m.parameters()])

    a1, a2, none = fit("rotation"), fit("rotation"), fit(None)
    assert torch.equal(a1, a2) and not torch.equal(a1, none)
    with pytest.raises(ParameterError, match="not registered"):
        fit("cutout")


# --- paired comparisons -------------------------------------------------------------------
def test_compare_pairs_delta_over_images_broken_in_both():
    a = {"delta": np.array([2.0, 3.0, np.nan, 4.0])}
    b = {"delta": np.array([1.0, np.nan, 1.0, 2.0])}
    value, est = compare(a, b, "delta")
    assert value == pytest.approx(3.0)  # a's own mean over its broken images
    assert est.value == pytest.approx(1.5)  # (2 − 1 + 4 − 2) / 2: the images broken in both
    v2, e2 = compare({"noise": np.ones(50)}, {"noise": np.zeros(50)}, "noise")
    assert v2 == 1.0 and e2.value == 1.0 and e2.lo == 1.0
    _, e3 = compare({"pixels": np.zeros(0), "pi_scale": 16.0}, {"pixels": np.zeros(0), "pi_scale": 16.0}, "pi")
    assert not np.isfinite(e3.value)


# --- the rules ------------------------------------------------------------------------------
def _est(v: float, half: float) -> Estimate:
    return Estimate(v, v - half, v + half, "constructed", 100)


def test_premise_rule_yes_no_partly():
    zero = {"noise": _est(0.0, 0.02), "erasing": _est(0.01, 0.02)}
    assert xcl.premise_verdict(zero, _est(0.15, 0.05)) == "yes"
    # a traditional augmentation clearly helps (outside ±5 pts even by value): the premise fails
    assert xcl.premise_verdict({**zero, "crop": _est(0.12, 0.03)}, _est(0.15, 0.05)) == "no"
    # the few-pixel model does not beat the control even by value
    assert xcl.premise_verdict(zero, _est(-0.02, 0.03)) == "no"
    # everything by value only
    assert xcl.premise_verdict({"noise": _est(0.03, 0.05)}, _est(0.05, 0.08)) == "partly"
    assert xcl.premise_verdict({}, _est(0.1, 0.01)) == "not testable here"


def _effects_table(trad: dict[str, tuple[float, float]], few: tuple[float, float]) -> pd.DataFrame:
    rows = [{"model": m, "kind": "transform", "n_pixels": 64, "estimate": _est(*e)} for m, e in trad.items()]
    rows += [{"model": "k=64", "kind": "pixels", "n_pixels": 64, "estimate": _est(*few)},
             {"model": "k=64", "kind": "pixels", "n_pixels": 1, "estimate": _est(0.5, 0.01)}]
    return pd.DataFrame(rows)


def test_premise_claim_reads_the_largest_pixel_count():
    yes = xcl.claim_premise(_effects_table({"gaussian noise": (0.0, 0.01)}, (0.2, 0.05)), "k=64")
    no = xcl.claim_premise(_effects_table({"gaussian noise": (0.3, 0.05)}, (0.2, 0.05)), "k=64")
    assert yes.verdict == "yes" and no.verdict == "no"
    assert yes.id == "X-premise-B" and yes.unit == "pts" and yes.value == pytest.approx(20.0)
    assert "±5 pts" in yes.why


def test_beats_noise_rule_yes_no():
    yes = {"rotation": {"resnet": (_est(0.05, 0.01), _est(0.3, 0.1))},
           "crop-flip": {"resnet": (_est(-0.05, 0.01), _est(0.3, 0.1))}}
    assert xcl.beats_noise_verdict(yes) == ("yes", "rotation")
    no = {"rotation": {"resnet": (_est(0.05, 0.01), _est(-0.3, 0.1))},
          "crop-flip": {"resnet": (_est(-0.05, 0.01), _est(0.3, 0.1))}}
    assert xcl.beats_noise_verdict(no)[0] == "no"
    # ahead on both by value only, or on one architecture of two: partly
    assert xcl.beats_noise_verdict({"rotation": {"resnet": (_est(0.01, 0.05), _est(0.1, 0.5))}})[0] == "partly"
    two = {"rotation": {"resnet": (_est(0.05, 0.01), _est(0.3, 0.1)), "inception": (_est(-0.05, 0.01),
                                                                                  _est(0.3, 0.1))}}
    assert xcl.beats_noise_verdict(two)[0] == "partly"
    assert xcl.claim_beats_noise(yes).verdict == "yes" and xcl.claim_beats_noise(no).verdict == "no"
    nan = Estimate(float("nan"), float("nan"), float("nan"))
    assert xcl.beats_noise_verdict({"rotation": {"resnet": (_est(0.1, 0.01), nan)}})[0] == "not testable here"


def test_pixels_a_rule_yes_no_from_paired_arrays():
    rng = np.random.default_rng(0)
    ref = (rng.random(300) < 0.5).astype(float)
    better = np.where(rng.random(300) < 0.6, 0.0, ref)  # the augmented model gets many of them right
    diff = lambda a, b: bootstrap(lambda x, y: float(np.mean(x) - np.mean(y)), a, b)  # noqa: E731
    yes = xcl.claim_pixels_a({"resnet": diff(ref, better)}, "pixels-5", 64)
    no = xcl.claim_pixels_a({"resnet": diff(better, ref)}, "pixels-5", 64)
    assert yes.verdict == "yes" and no.verdict == "no"
    assert yes.interval is not None and yes.interval[0] > 0


def test_our_claims_are_in_the_checklist_as_ours():
    from robustlab.book.checklist import entry

    for cid in ("X-premise-B", "X-beats-noise-A", "X-pixels-A"):
        e = entry(cid)
        assert e["paper"] == "ours" and e["notebook"] == "12_beyond"


# --- what a profile leaves out (issue 29's cost target) ---------------------------------------
def test_profile_cost_cuts_are_parameters_and_named_on_the_page():
    from robustlab.beyond import cifar as xc
    from robustlab.beyond import imagenet as xi
    from robustlab.beyond.registry import cifar_variants

    full = resolve("t", {"profile": "paper"})
    assert cifar_variants(full) == CIFAR_VARIANTS and xc.pixel_counts(full) == list(full.pixel_counts)
    assert xi.pixel_counts(full) == sorted({*full.grid_pixel_counts, min(full.pixel_counts), max(full.pixel_counts)})
    assert "Left out" not in xc.describe(full)
    cut = resolve("t", {"profile": "tiny", "beyond_augmentations": ["crop-flip", "pixels-5"],
                        "beyond_pixel_counts": [64]})
    names = [v.name for v in cifar_variants(cut)]
    assert names == [REFERENCE, "crop-flip", "pixels-5", NOISE_REFERENCE]
    assert xc.pixel_counts(cut) == [64] and xi.pixel_counts(cut) == [64]
    text = xc.describe(cut)
    assert "Left out by this profile" in text and "rotation, pixels-1" in text and "random pixels 64 ×" in text
    # the rules read what ran: an augmentation left out is not compared
    m = {"noise": np.ones(20), "delta": np.ones(20)}
    vs = xc.versus_noise({"resnet": {n: m for n in names}})
    assert set(vs) == {"crop-flip", "pixels-5"}
    with pytest.raises(ParameterError, match="beyond_augmentations"):
        resolve("t", {"profile": "tiny", "beyond_augmentations": ["cutout"]})
    with pytest.raises(ParameterError, match="beyond_pixel_counts"):
        resolve("t", {"profile": "tiny", "beyond_pixel_counts": [2000]})
    quick = resolve("t", {"profile": "quick"})
    assert "pixels-1" not in [v.name for v in cifar_variants(quick)] and xc.pixel_counts(quick) == [64]
