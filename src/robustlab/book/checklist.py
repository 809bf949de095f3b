"""The checklist of every claim of both papers, and the summary table built from recorded claims.

Section notebooks record their comparisons with ``rl.provenance.record(cfg, "claims", [...])``;
each entry is a dict with ``paper`` ("A"/"B"), ``section`` (e.g. "Fig. 4"), ``claim``,
``paper_value``, ``ours``, ``verdict`` (yes / partly / no / not testable here) and ``why``, and may
carry the ``id`` of a :data:`CHECKLIST` entry for an exact match.

:func:`summary_rows` lays the recorded claims over the checklist: a checklist entry is filled by
the recorded claims with its ``id``, else by those of the same paper and section; an entry nobody
recorded stays "not run yet" (its notebook has not run) or "not recorded" (its notebook ran but
recorded nothing for it). Recorded claims that match no entry are listed too. Nothing is invented.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Mapping

__all__ = ["VERDICTS", "CHECKLIST", "norm_section", "collect_records", "summary_rows", "verdict_counts"]

VERDICTS = ("yes", "partly", "no", "not testable here")

#: (id, paper, section, claim as the paper states it, the paper's value, notebook that tests it)
CHECKLIST: list[dict[str, str]] = [dict(zip(("id", "paper", "section", "claim", "paper_value", "notebook"), row)) for row in [
    # ---- paper A: Bartschat et al. ------------------------------------------------------
    ("A-data", "A", "§2.1", "CIFAR-10: 60,000 RGB images of 32×32 pixels, 10 classes, evenly distributed, "
     "50,000 for training and 10,000 for validation", "50,000 / 10,000; 5,000 / 1,000 per class", "01_data"),
    ("A-params-resnet", "A", "Fig. 2", "the ResNet (bottleneck) module with 256 feature maps has 69,632 parameters",
     "69,632", "02_architectures"),
    ("A-params-inception", "A", "Fig. 2", "the Inception module has 192,512 parameters", "192,512", "02_architectures"),
    ("A-params-resnext", "A", "Fig. 2", "the ResNeXt module (32 paths of width 4) has 70,144 parameters",
     "70,144", "02_architectures"),
    ("A-noise-001", "A", "Fig. 4", "training and evaluating with σ = 0.01 behaves like no noise",
     "curves for σ 0 and 0.01 coincide", "03_noise_training"),
    ("A-noise-diagonal", "A", "Fig. 4", "from σ_train = 0.1 on, the evaluation set with the training σ gives the "
     "best accuracy", "best eval σ = train σ for σ_train ≥ 0.1", "03_noise_training"),
    ("A-noise-drop", "A", "Fig. 4", "the overall (clean) accuracy drops for models trained with σ ≥ 0.1",
     "decreasing clean accuracy", "03_noise_training"),
    ("A-noise-small-helps", "A", "Fig. 4", "a small training noise does not hurt noise-free accuracy but raises "
     "accuracy on slightly noisy data", "qualitative", "03_noise_training"),
    ("A-noise-archs", "A", "Fig. 4", "all three architectures behave similarly; none generalises particularly "
     "well against noise", "qualitative", "03_noise_training"),
    ("A-blur-05", "A", "Fig. 6", "with blur training, accuracy is unchanged up to σ = 0.5 and drops above",
     "flat to 0.5, then falling", "04_blur_training"),
    ("A-blur-inception", "A", "Fig. 6", "Inception models perform best (blur); ResNet and ResNeXt similar",
     "qualitative", "04_blur_training"),
    ("A-adv-noise", "A", "Fig. 5", "models trained with (small) noise need a slightly larger mean adversarial "
     "change than the noise-free model", "slightly higher Δ", "05_adversarial_delta"),
    ("A-adv-noise-high", "A", "Fig. 5", "for σ = 1 and 5 the required change drops again", "lower Δ at σ 1, 5",
     "05_adversarial_delta"),
    ("A-adv-archs", "A", "Fig. 5", "all architectures are fooled by a similar change in pixel values",
     "similar Δ", "05_adversarial_delta"),
    ("A-adv-small", "A", "§3", "a change of about 2.5 (of 255) per pixel, 1 % of the range, suffices: every model "
     "is easily fooled", "≈ 2.5 / 255", "05_adversarial_delta"),
    ("A-adv-blur", "A", "Fig. 7", "blur training has no effect on the required change; it drops for σ = 1 and 5",
     "flat, lower at σ 1, 5", "05_adversarial_delta"),
    ("A-conclusion-01", "A", "§4", "training with σ = 0.1 is beneficial (noise robustness and adversarial change)",
     "σ = 0.1", "05_adversarial_delta"),
    ("A-conclusion-archs", "A", "§4", "no significant performance difference between the three modules",
     "qualitative", "03_noise_training"),
    # ---- paper B: Zhang & Cai --------------------------------------------------------------
    ("B-64px-range", "B", "§1, Table 6", "changing about 0.12 % of the pixels (64) misclassifies 3.5 % (best model) "
     "to 14 % (worst model) of correctly classified images", "3.5 %–14 %", "06_pixel_count"),
    ("B-resnet-4-64", "B", "Table 6", "in ResNet, 4 changed pixels misclassify about 1 % and 64 pixels about 5 % of "
     "the images", "≈ 1 % / ≈ 5 %", "06_pixel_count"),
    ("B-more-pixels", "B", "Fig. 8", "the more pixels are changed, the more images are misclassified",
     "monotone increase", "06_pixel_count"),
    ("B-model-ranking", "B", "Table 6", "DenseNet is the most robust model, SqueezeNet the least",
     "DenseNet best, SqueezeNet worst", "06_pixel_count"),
    ("B-magnitude", "B", "Table 7", "larger change magnitudes ([−10, 10] … [−127, 127]) misclassify more images; "
     "the magnitude is an important factor", "monotone increase", "07_pixel_magnitude"),
    ("B-area", "B", "Table 8", "the area the pixels are drawn from has little effect when fewer than 64 pixels "
     "change", "similar counts for all areas", "08_pixel_area"),
    ("B-magnitude-vs-area", "B", "§6.1.4", "the magnitude of the change matters more than its position",
     "qualitative", "08_pixel_area"),
    ("B-fgsm-restore", "B", "Table 9", "changing a few pixels of FGSM adversarial examples returns a considerable "
     "share of them to the correct class", "considerable share", "09_fgsm_and_pixels"),
    ("B-aug-random", "B", "Table 10", "fine-tuning on few-pixel-changed images (1,000 images, lr 0.001, 20 "
     "iterations) improves accuracy under random pixel changes, most for small pixel counts", "higher accuracy",
     "10_augmentation"),
    ("B-aug-clean", "B", "§6.2", "the augmentation does not change the original recognition accuracy",
     "unchanged", "10_augmentation"),
    ("B-aug-fgsm", "B", "Table 11", "after the augmentation (ResNet101-4) only 24.9 % of FGSM examples keep their "
     "attack ability", "24.9 %", "10_augmentation"),
    ("B-pi-example", "B", "§5, eq. 12", "worked example: w = 10 %, p = 64/224², r = 100 %, a = 200²/224² gives "
     "Pi = 98.30", "98.30", "11_pixel_index"),
    ("B-pi-ranking", "B", "Table 5", "a smaller Pi goes with better robustness and higher accuracy",
     "qualitative", "11_pixel_index"),
]]


def norm_section(s: str) -> str:
    """Normalised section label: "Figure 4" == "Fig. 4" == "fig4"; "Table 6" == "Tab. 6"."""
    s = str(s).lower().replace("figure", "fig").replace("figs", "fig").replace("table", "tab")
    return re.sub(r"[^a-z0-9§]", "", s)


def collect_records(records_dir: str | Path) -> dict[str, dict[str, Any]]:
    """{notebook: its records} for every ``<records_dir>/*.json`` (see robustlab.book.provenance)."""
    from robustlab.book.provenance import read_records

    d = Path(records_dir)
    return {p.stem: read_records(p) for p in sorted(d.glob("*.json"))} if d.is_dir() else {}


def _row(entry: Mapping[str, Any], rec: Mapping[str, Any] | None, notebook: str, status: str | None = None) -> dict:
    src = rec or {}
    return {
        "paper": src.get("paper", entry.get("paper", "")),
        "section": src.get("section", entry.get("section", "")),
        "claim": src.get("claim", entry.get("claim", "")),
        "paper's value": src.get("paper_value", entry.get("paper_value", "")),
        "ours": src.get("ours", "—") if rec else "—",
        "verdict": status or str(src.get("verdict", "")),
        "why": src.get("why", "") if rec else "",
        "notebook": notebook,
    }


def summary_rows(records: Mapping[str, Mapping[str, Any]], checklist: Iterable[Mapping[str, str]] = CHECKLIST) -> list[dict]:
    """One row per claim: recorded claims laid over the checklist (see module docstring)."""
    recorded = []  # (notebook, claim dict)
    for nb, rec in records.items():
        for c in rec.get("claims", []) or []:
            if isinstance(c, Mapping):
                recorded.append((nb, c))
    used: set[int] = set()
    rows = []
    for entry in checklist:
        hits = [i for i, (_, c) in enumerate(recorded) if c.get("id") == entry["id"]]
        if not hits:
            hits = [i for i, (_, c) in enumerate(recorded) if i not in used and not c.get("id")
                    and str(c.get("paper", "")).upper() == entry["paper"]
                    and norm_section(c.get("section", "")) == norm_section(entry["section"])]
            # several checklist entries share a section: each recorded claim fills one entry only
            hits = hits[:1]
        if hits:
            for i in hits:
                used.add(i)
                rows.append(_row(entry, recorded[i][1], recorded[i][0]))
            continue
        nb = entry["notebook"]
        if nb in records:
            rows.append(_row(entry, None, nb, "not recorded"))
        else:
            rows.append(_row(entry, None, nb, "not run yet"))
    for i, (nb, c) in enumerate(recorded):
        if i not in used:
            rows.append(_row({}, c, nb))
    return rows


def verdict_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many rows have each verdict (including "not run yet" / "not recorded")."""
    out: dict[str, int] = {}
    for r in rows:
        out[r["verdict"]] = out.get(r["verdict"], 0) + 1
    return out
