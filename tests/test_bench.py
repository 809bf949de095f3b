"""The benchmark runs end to end on CPU (smoke test; figures only, no timing thresholds)."""
from __future__ import annotations

import math

import pytest
import torch

from robustlab import bench
from robustlab.models import build


pytestmark = pytest.mark.usefixtures("one_thread")


def _pos(v) -> bool:
    return isinstance(v, float) and math.isfinite(v) and v > 0


def test_forward_flops_counts_convolutions():
    f = bench.forward_flops(build("resnet", width=1 / 16))
    assert f > 0
    assert bench.forward_flops(build("resnet", width=1 / 8)) > 2 * f  # ~quadratic in the width


def test_quick_bench_returns_sane_figures(capsys):
    out = bench.main(["--quick", "--device", "cpu", "--archs", "resnet", "--images", "64", "--batch-size", "32"])
    text = capsys.readouterr().out
    assert "device:" in text and "projected paper grid" in text
    r = out["archs"]["resnet"]
    for k in ("fast", "stacked", "baseline", "eval", "tflops_fast", "tflops_stacked", "ratio", "gflop_per_image"):
        assert _pos(float(r[k])), (k, r[k])
    assert r["tflops_fast"] == pytest.approx(3 * r["gflop_per_image"] * 1e9 * r["fast"] / 1e12)
    assert _pos(out["projected_grid_s"]) and _pos(out["attack"])
    assert _pos(out["paperb_forward"]) and _pos(out["paperb_fgsm"])
