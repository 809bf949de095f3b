"""robustlab.paper_b.classifiers.pretrained: the paper's five architectures and the real MobileNetV2."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from robustlab.core.errors import CheckpointError, DataError, ParameterError
from robustlab.data import to_unit
from robustlab.paper_b.classifiers import IMAGENET_ARCHS, Normalize, pretrained

PAPER_FIVE = ["resnet101", "densenet121", "vgg16", "alexnet", "squeezenet1_1"]


@pytest.mark.parametrize("name", PAPER_FIVE)
def test_paper_architectures_random_weights(name):
    torch.manual_seed(0)
    m = pretrained(name, weights=None)
    assert isinstance(m, torch.nn.Sequential) and isinstance(m[0], Normalize)
    assert not m.training
    x = torch.rand(2, 3, 64, 64)  # small input (adaptive pooling): keeps the test fast
    with torch.inference_mode():
        out = m(x)
    assert out.shape == (2, 1000) and torch.isfinite(out).all()


def test_normalize_layer_matches_imagenet_stats():
    m = pretrained("squeezenet1_1", weights=None)
    x = torch.rand(1, 3, 8, 8)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    ref = (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    assert torch.allclose(m[0](x), ref)
    bare = pretrained("squeezenet1_1", weights=None, normalize=False)
    assert not isinstance(bare, torch.nn.Sequential)


def test_unknown_name_and_enum():
    with pytest.raises(ParameterError, match="name"):
        pretrained("resnet9000", weights=None)
    with pytest.raises(ParameterError, match="NOT_A_WEIGHT"):
        pretrained("alexnet", weights="NOT_A_WEIGHT")


def test_offline_default_is_a_clear_data_error(monkeypatch, tmp_path):
    # force the download to fail the way it does without internet, whatever this machine has
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    import torch.hub

    def no_net(*a, **k):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_net)
    with pytest.raises(DataError, match="internet.*state_dict"):
        pretrained("squeezenet1_1", weights="DEFAULT")


def test_bad_files_name_the_path(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(DataError, match="nope.pth"):
        pretrained("squeezenet1_1", weights=str(missing))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="junk.pth"):
        pretrained("squeezenet1_1", weights=str(junk))
    wrong = tmp_path / "alexnet.pth"
    torch.save(pretrained("alexnet", weights=None, normalize=False).state_dict(), wrong)
    with pytest.raises(CheckpointError, match="alexnet.pth.*squeezenet1_1"):
        pretrained("squeezenet1_1", weights=str(wrong))


def test_local_state_dict_roundtrip(tmp_path):
    torch.manual_seed(1)
    a = pretrained("squeezenet1_1", weights=None, normalize=False)
    p = tmp_path / "sq.pth"
    torch.save(a.state_dict(), p)
    b = pretrained("squeezenet1_1", weights=p)
    x = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        assert torch.allclose(b[1](x), a.eval()(x))


def test_real_mobilenet_classifies_samples(shared_data, cache_dir):
    from robustlab.data import load_imagenet

    m = pretrained("mobilenet_v2", weights=shared_data / "imagenet" / "mobilenet_v2-imagenet-dequantized.pth")
    s = load_imagenet("sample", shared_data, cache_dir=cache_dir, progress=False)
    idx = np.arange(0, 1000, 125)  # 8 images of 8 different classes
    with torch.inference_mode():
        pred = m(to_unit(s.images[idx])).argmax(1).numpy()
    # README: 84.2 % top-1 on these samples; random weights would get ~0 of 8
    assert (pred == s.labels[idx]).sum() >= 5
    assert "mobilenet_v2" in IMAGENET_ARCHS
