"""The benchmark runs end to end on CPU (smoke test; figures only, no timing thresholds)."""
from __future__ import annotations

import json
import math

import pytest
import torch

from robustlab import bench
from robustlab.paper_a.nets import build

pytestmark = pytest.mark.usefixtures("one_thread")


def _pos(v) -> bool:
    return isinstance(v, float) and math.isfinite(v) and v > 0


def test_forward_flops_counts_convolutions():
    f = bench.forward_flops(build("resnet", width=1 / 16))
    assert f > 0
    assert bench.forward_flops(build("resnet", width=1 / 8)) > 2 * f  # ~quadratic in the width


def test_peak_table():
    assert bench.peak_bf16_tflops(torch.device("cpu")) is None
    names = dict(bench.PEAK_BF16_TFLOPS)
    assert names["H100"] == 989 and names["H100 PCIe"] == 756 and names["A100"] == 312


def test_quick_bench_returns_sane_figures(capsys, tmp_path):
    js = tmp_path / "b.json"
    out = bench.main(["--quick", "--device", "cpu", "--archs", "resnet", "--images", "64", "--batch-size", "32",
                      "--json", str(js)])
    text = capsys.readouterr().out
    assert "device:" in text and "projected paper-A campaign" in text and "n/a" in text
    r = out["archs"]["resnet"]
    assert _pos(r["gflop_per_image"]) and _pos(r["eval"]) and _pos(r["best"])
    for p in ("baseline", "single", "wide"):
        row = r["paths"][p]
        assert _pos(float(row["images_per_s"])) and _pos(row["tflops"]) and _pos(row["ratio_to_baseline"]), p
        assert row["tflops"] == pytest.approx(3 * r["gflop_per_image"] * 1e9 * row["images_per_s"] / 1e12)
        assert row["pct_peak"] is None  # CPU: no bf16 peak
    for p in ("single_compiled", "wide_compiled"):  # CUDA only
        assert r["paths"][p]["images_per_s"] is None
    camp = out["campaign"]
    assert camp["models"] == 30 and _pos(out["projected_campaign_s"])
    assert _pos(out["attack"]) and _pos(out["paperb_forward"]) and _pos(out["paperb_fgsm"])
    stored = json.loads(js.read_text())
    wide = r["paths"]["wide"]["images_per_s"]
    assert stored["archs"]["resnet"]["paths"]["wide"]["images_per_s"] == pytest.approx(wide)


def test_cpu_mode_prints_today_beside_new_with_ratios(capsys, tmp_path):
    js = tmp_path / "c.json"
    out = bench.main(["--cpu", "--quick", "--archs", "resnet", "--json", str(js)])
    text = capsys.readouterr().out
    assert "CPU:" in text and "ratio" in text and "MobileNetV2" in text
    kinds = [r["kind"] for r in out["rows"]]
    assert kinds.count("train") == 2 and "eval" in kinds and "mobilenet" in kinds
    for r in out["rows"]:
        assert _pos(r["today"]) and _pos(r["new"]) and r["ratio"] == pytest.approx(r["new"] / r["today"])
    assert out["new_precision"] in ("fp32", "bf16")
    assert json.loads(js.read_text())["rows"][0]["what"] == out["rows"][0]["what"]
