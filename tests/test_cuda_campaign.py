"""The campaign on CUDA (skipped without a GPU): a tiny campaign stopped at deadlines resumes to the
same results as an uninterrupted one (accuracy-level: cuDNN's autotuned kernels are not bit-exact)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_cuda_campaign_resumes_across_deadlines(shared_data, cache_dir, tmp_path, monkeypatch):
    from robustlab.core.params import resolve
    from robustlab.ops import campaign
    from robustlab.paper_a import grid

    monkeypatch.setenv("ROBUSTLAB_DATA", str(shared_data))
    monkeypatch.setenv("ROBUSTLAB_CACHE", str(cache_dir))
    monkeypatch.setenv("TQDM_DISABLE", "1")

    def cfg(root):
        return resolve("campaign", {"profile": "tiny", "device": "cuda", "results_dir": str(root),
                                    "stack_models": "on", "epochs": 2})

    ref, cut = tmp_path / "ref", tmp_path / "cut"
    rep = campaign.run(cfg(ref), campaign.select_units(campaign.units(cfg(ref)), "paper-a"))
    assert not rep["left"]
    pauses, calls = 0, 0
    while True:
        calls += 1
        assert calls < 200
        c = cfg(cut)
        rep = campaign.run(c, campaign.select_units(campaign.units(c), "paper-a"), until=0.0 if calls < 4 else 2.0,
                           out=lambda *_: None)
        pauses += rep["partial"] is not None
        if not rep["left"]:
            break
    assert pauses >= 2
    for arch in cfg(ref).archs:
        for kind in ("noise", "blur"):
            a = grid.accuracy_matrix(cfg(ref), arch, kind, progress=False)
            b = grid.accuracy_matrix(cfg(cut), arch, kind, progress=False)
            assert np.isfinite(a).all() and np.isfinite(b).all()
            assert np.abs(a - b).max() <= 0.1, (arch, kind, a, b)  # 50 test images: 5 images of slack
    log = campaign.read_log(cut / "tiny")
    device = log["units"]["a-train-resnet-noise"]["device"]
    assert "CUDA" in device or "H100" in device
