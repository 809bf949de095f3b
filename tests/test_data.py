"""Data sources (issue 2 item 7): every CIFAR-10 / ImageNet source from small files the tests write,
the error messages, and the real shared CIFAR-10 tar."""
from __future__ import annotations

import pickle
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import robustlab.data as D
from robustlab.core.errors import CheckpointError, DataError

CLASSES = list(D.CIFAR10_CLASSES)


def _imgs(n, seed, size=32):
    return np.random.default_rng(seed).integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


# --- writers ---------------------------------------------------------------------------
def write_batches(folder: Path, per_batch=4, seed=0) -> dict[str, np.ndarray]:
    """A fake official ``cifar-10-batches-py`` (pickle format, rows of 3072 = R, G, B planes)."""
    folder.mkdir(parents=True)
    out = {"train_x": [], "train_y": [], "test_x": [], "test_y": []}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for k, name in enumerate(names):
        x = _imgs(per_batch, seed + k)
        y = [(k + j) % 10 for j in range(per_batch)]
        d = {b"batch_label": name.encode(), b"labels": y,
             b"data": x.transpose(0, 3, 1, 2).reshape(per_batch, 3072), b"filenames": [b"f"] * per_batch}
        (folder / name).write_bytes(pickle.dumps(d))
        split = "test" if name == "test_batch" else "train"
        out[f"{split}_x"].append(x)
        out[f"{split}_y"] += y
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [c.encode() for c in CLASSES]}))
    return {k: np.concatenate(v) if k.endswith("_x") else np.asarray(v) for k, v in out.items()}


def write_image_folder(root: Path, n_train=2, n_test=1, ext=".png", classes=CLASSES, size=32) -> dict:
    truth = {}
    for split, n in (("train", n_train), ("test", n_test)):
        xs, ys = [], []
        for ci, c in enumerate(sorted(classes)):
            (root / split / c).mkdir(parents=True, exist_ok=True)
            x = _imgs(n, hash((split, c)) % 1000, size)
            for j in range(n):
                Image.fromarray(x[j]).save(root / split / c / f"{j:04d}{ext}")
            xs.append(x)
            ys += [ci] * n
        truth[split] = (np.concatenate(xs), np.asarray(ys))
    return truth


def tar_folder(src: Path, dest: Path, mode="w:gz") -> Path:
    with tarfile.open(dest, mode) as tf:
        for p in sorted(src.rglob("*")):
            tf.add(p, arcname=str(p.relative_to(src.parent)), recursive=False)
    return dest


# --- CIFAR-10 ----------------------------------------------------------------------------
def test_official_batches_folder(tmp_path):
    truth = write_batches(tmp_path / "data" / "cifar-10-batches-py")
    s = D.load_cifar10(tmp_path / "data", "train", cache_dir=tmp_path / "cache", progress=False)
    assert s.images.shape == (20, 32, 32, 3) and s.images.dtype == np.uint8 and s.labels.dtype == np.int64
    np.testing.assert_array_equal(np.asarray(s.images), truth["train_x"])  # channel order and layout
    np.testing.assert_array_equal(s.labels, truth["train_y"])
    assert s.classes == CLASSES
    t = D.load_cifar10(tmp_path / "data" / "cifar-10-batches-py", "test", cache_dir=tmp_path / "cache", progress=False)
    np.testing.assert_array_equal(np.asarray(t.images), truth["test_x"])


def test_official_batches_in_a_tar(tmp_path):
    truth = write_batches(tmp_path / "src" / "cifar-10-batches-py")
    tar = tar_folder(tmp_path / "src" / "cifar-10-batches-py", tmp_path / "cifar-10-python.tar.gz")
    s = D.load_cifar10(tar, "test", cache_dir=tmp_path / "cache", progress=False)
    np.testing.assert_array_equal(np.asarray(s.images), truth["test_x"])


def test_image_folder_png(tmp_path):
    truth = write_image_folder(tmp_path / "cifar")
    s = D.load_cifar10(tmp_path / "cifar", "train", cache_dir=tmp_path / "cache", progress=False)
    np.testing.assert_array_equal(np.asarray(s.images), truth["train"][0])  # PNG is lossless
    np.testing.assert_array_equal(s.labels, truth["train"][1])
    assert s.classes == sorted(CLASSES) and len(s.names) == 20


def test_image_folder_tar_and_cifar10_subfolder(tmp_path):
    truth = write_image_folder(tmp_path / "src" / "cifar10-img", ext=".jpg")
    (tmp_path / "data" / "cifar10").mkdir(parents=True)
    tar_folder(tmp_path / "src" / "cifar10-img", tmp_path / "data" / "cifar10" / "cifar10-jpeg.tar.gz")
    s = D.load_cifar10(tmp_path / "data", "test", cache_dir=tmp_path / "cache", progress=False)
    assert s.images.shape == (10, 32, 32, 3)
    np.testing.assert_array_equal(s.labels, truth["test"][1])
    src = tmp_path / "src" / "cifar10-img" / "test"
    direct = np.stack([np.asarray(Image.open(src / c / "0000.jpg").convert("RGB")) for c in sorted(CLASSES)])
    np.testing.assert_array_equal(np.asarray(s.images), direct)  # the JPEGs' own decoded pixels


def test_env_var_is_the_default_root(tmp_path, monkeypatch):
    write_image_folder(tmp_path / "d" / "cifar10")
    monkeypatch.setenv("ROBUSTLAB_DATA", str(tmp_path / "d"))
    s = D.load_cifar10(split="test", cache_dir=tmp_path / "cache", progress=False)
    assert len(s) == 10


def test_cache_is_memory_mapped_and_follows_the_source(tmp_path):
    write_image_folder(tmp_path / "c")
    a = D.load_cifar10(tmp_path / "c", "train", cache_dir=tmp_path / "cache", progress=False)
    b = D.load_cifar10(tmp_path / "c", "train", cache_dir=tmp_path / "cache", progress=False)
    assert isinstance(b.images, np.memmap)
    np.testing.assert_array_equal(np.asarray(a.images), np.asarray(b.images))
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "c" / "train" / "cat" / "0000.png")
    c = D.load_cifar10(tmp_path / "c", "train", cache_dir=tmp_path / "cache", progress=False)
    assert c.images[c.labels == sorted(CLASSES).index("cat")][0].max() == 0  # a changed source is decoded again


def test_damaged_cache_is_rebuilt(tmp_path):
    write_image_folder(tmp_path / "c")
    D.load_cifar10(tmp_path / "c", "test", cache_dir=tmp_path / "cache", progress=False)
    for p in (tmp_path / "cache").glob("*test.images.npy"):
        p.write_bytes(p.read_bytes()[:100])
    with pytest.warns(UserWarning, match="unusable"):
        s = D.load_cifar10(tmp_path / "c", "test", cache_dir=tmp_path / "cache", progress=False)
    assert len(s) == 10


def test_missing_data_error_names_folder_sources_and_env(tmp_path, monkeypatch):
    monkeypatch.delenv("ROBUSTLAB_DATA", raising=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as e:
        D.load_cifar10(empty, "train", cache_dir=tmp_path / "cache")
    msg = str(e.value)
    assert str(empty) in msg and "cifar-10-batches-py" in msg and "train/<class>" in msg and ".tar" in msg
    assert "ROBUSTLAB_DATA" in msg
    monkeypatch.setenv("ROBUSTLAB_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="nowhere"):
        D.load_cifar10(split="train", cache_dir=tmp_path / "cache")


def test_corrupt_image_is_reported_with_its_path(tmp_path):
    write_image_folder(tmp_path / "c")
    bad = tmp_path / "c" / "train" / "dog" / "0001.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    with pytest.raises(DataError, match=r"cannot decode image .*dog/0001\.png"):
        D.load_cifar10(tmp_path / "c", "train", cache_dir=tmp_path / "cache", progress=False)


def test_wrong_image_size_is_reported(tmp_path):
    write_image_folder(tmp_path / "c")
    Image.fromarray(_imgs(1, 0, 28)[0]).save(tmp_path / "c" / "test" / "ship" / "0000.png")
    with pytest.raises(DataError, match=r"ship/0000\.png is 28x28 pixels, expected 32x32"):
        D.load_cifar10(tmp_path / "c", "test", cache_dir=tmp_path / "cache", progress=False)


def test_grayscale_images_become_rgb(tmp_path):
    write_image_folder(tmp_path / "c")
    Image.fromarray(np.full((32, 32), 7, np.uint8), mode="L").save(tmp_path / "c" / "test" / "ship" / "0000.png")
    s = D.load_cifar10(tmp_path / "c", "test", cache_dir=tmp_path / "cache", progress=False)
    assert s.images.shape[-1] == 3 and (s.images[s.labels == sorted(CLASSES).index("ship")][0] == 7).all()


def test_missing_class_folder(tmp_path):
    write_image_folder(tmp_path / "c")
    for p in (tmp_path / "c" / "test" / "frog").iterdir():
        p.unlink()
    (tmp_path / "c" / "test" / "frog").rmdir()
    with pytest.raises(DataError, match=r"'test' lacks class folder\(s\) \['frog'\]"):
        D.load_cifar10(tmp_path / "c", "test", cache_dir=tmp_path / "cache", progress=False)


def test_wrong_number_of_classes(tmp_path):
    write_image_folder(tmp_path / "c", classes=CLASSES[:9])
    with pytest.raises(DataError, match="found 9 classes"):
        D.load_cifar10(tmp_path / "c", "test", cache_dir=tmp_path / "cache", progress=False)


def test_tar_that_ends_early(tmp_path):
    write_image_folder(tmp_path / "src" / "c")
    tar = tar_folder(tmp_path / "src" / "c", tmp_path / "cifar10.tar", mode="w")
    data = tar.read_bytes()
    tar.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cifar10\.tar is damaged or ends early"):
        D.load_cifar10(tar, "train", cache_dir=tmp_path / "cache", progress=False)


def test_gzip_that_ends_early(tmp_path):
    write_image_folder(tmp_path / "src" / "c")
    tar = tar_folder(tmp_path / "src" / "c", tmp_path / "cifar10.tar.gz")
    tar.write_bytes(tar.read_bytes()[:-200])
    with pytest.raises(DataError, match="damaged or ends early"):
        D.load_cifar10(tar, "train", cache_dir=tmp_path / "cache", progress=False)


def test_bad_split_name(tmp_path):
    from robustlab.core.errors import ParameterError

    with pytest.raises(ParameterError, match="split='val'"):
        D.load_cifar10(tmp_path, "val")


def test_balanced_indices():
    labels = np.repeat(np.arange(10), 30)
    idx = D.balanced_indices(labels, 25, seed=1)
    counts = np.bincount(labels[idx], minlength=10)
    assert len(idx) == 25 and counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(idx, D.balanced_indices(labels, 25, seed=1))
    assert len(D.balanced_indices(labels, None)) == 300


# --- ImageNet-style folders --------------------------------------------------------------
WNIDS = ["n01440764", "n02102040", "n02979186", "n03000684"]


def _imagenet(root: Path, split="val", wnids=WNIDS[1:3], n=2, size=(300, 260)):
    for w in wnids:
        (root / split / w).mkdir(parents=True, exist_ok=True)
        for j in range(n):
            x = np.random.default_rng(j).integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(x).save(root / split / w / f"ILSVRC2012_val_{j:08d}.JPEG", quality=90)


def test_imagenet_folder_with_wnids(tmp_path):
    _imagenet(tmp_path / "imagenet")
    (tmp_path / "imagenet" / "wnids.txt").write_text("\n".join(f"{w} name{i}" for i, w in enumerate(WNIDS)))
    s = D.load_imagenet("val", tmp_path, cache_dir=tmp_path / "cache", progress=False)
    assert s.images.shape == (4, 224, 224, 3) and s.images.dtype == np.uint8
    assert s.labels.tolist() == [1, 1, 2, 2] and s.classes == WNIDS  # ImageNet-1k indices from wnids.txt
    one = D.load_imagenet("val", tmp_path, per_class=1, cache_dir=tmp_path / "cache", progress=False)
    assert one.labels.tolist() == [1, 2]


def test_imagenet_without_wnids_uses_the_packaged_order(tmp_path):
    """No wnids.txt beside the data: ImageNet-1k wnids get their ImageNet-1k indices from the package's
    list (torchvision's class order: tench = 0, English springer = 217, cassette player = 482); other
    folder names get the ranks of their sorted names, with a warning."""
    wnids, names = D.read_wnids(D.imagenet_wnids_path())
    assert len(wnids) == 1000 and wnids[:2] == ["n01440764", "n01443537"] and names[0] == "tench"
    assert wnids.index("n02102040") == 217 and wnids.index("n02979186") == 482 and wnids[-1] == "n15075141"
    _imagenet(tmp_path / "src")
    (tmp_path / "data").mkdir()
    tar_folder(tmp_path / "src" / "val", tmp_path / "data" / "mini-val.tar.gz")
    s = D.load_imagenet("val", tmp_path / "data", cache_dir=tmp_path / "cache", progress=False)
    assert s.labels.tolist() == [217, 217, 482, 482] and s.classes == wnids
    assert D.find_wnids(tmp_path / "data") == D.imagenet_wnids_path()
    _imagenet(tmp_path / "other", wnids=["cats", "dogs"])
    with pytest.warns(UserWarning, match="not ImageNet-1k wnids"):
        s = D.load_imagenet("val", tmp_path / "other", cache_dir=tmp_path / "cache", progress=False)
    assert s.labels.tolist() == [0, 0, 1, 1] and s.classes == ["cats", "dogs"]


def test_torchvision_layouts_are_local_sources(tmp_path):
    """torchvision's own folders in the data folder (a CIFAR10(download=True) or an Imagenette download
    made elsewhere) are found without downloading anything."""
    write_batches(tmp_path / "cifar-10-batches-py")
    assert D.find_cifar10(tmp_path, download=False) == tmp_path / "cifar-10-batches-py"
    _imagenet(tmp_path / "imagenette2-320", split="train")
    assert D.find_imagenet("train", tmp_path, download=False)[0] == tmp_path / "imagenette2-320" / "train"
    s = D.load_imagenet("train", tmp_path, cache_dir=tmp_path / "cache", progress=False, download=False)
    assert s.labels.tolist() == [217, 217, 482, 482]
    assert D.image_sources(tmp_path) == [tmp_path / "imagenette2-320" / "train", D.imagenet_wnids_path()]


def test_imagenet_errors(tmp_path):
    with pytest.raises(DataError, match=r"ImageNet split 'val' not found.*ROBUSTLAB_DATA"):
        D.load_imagenet("val", tmp_path, cache_dir=tmp_path / "cache")
    _imagenet(tmp_path / "x")
    (tmp_path / "x" / "wnids.txt").write_text(WNIDS[0] + "\n")
    with pytest.raises(DataError, match="not in"):
        D.load_imagenet("val", tmp_path / "x", cache_dir=tmp_path / "cache", progress=False)
    (tmp_path / "x" / "wnids.txt").write_text("\n".join(WNIDS))
    (tmp_path / "x" / "val" / WNIDS[1] / "ILSVRC2012_val_00000000.JPEG").write_bytes(b"broken")
    with pytest.raises(DataError, match="ILSVRC2012_val_00000000.JPEG"):
        D.load_imagenet("val", tmp_path / "x", cache_dir=tmp_path / "cache", progress=False)


def test_pretrained_from_a_local_state_dict(tmp_path):
    torch = pytest.importorskip("torch")
    tvm = pytest.importorskip("torchvision.models")
    from robustlab.paper_b import classifiers as mi

    if not hasattr(mi, "pretrained"):
        pytest.skip("robustlab.paper_a.nets.pretrained not written yet")
    ref = tvm.squeezenet1_1(weights=None)
    path = tmp_path / "sq.pth"
    torch.save(ref.state_dict(), path)
    net = mi.pretrained("squeezenet1_1", weights=str(path), normalize=False)
    assert not net.training
    assert all(torch.equal(a, b) for a, b in zip(ref.state_dict().values(), net.state_dict().values()))
    path.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match=str(path)):
        mi.pretrained("squeezenet1_1", weights=str(path))
    with pytest.raises(DataError, match="no such file"):
        mi.pretrained("squeezenet1_1", weights=str(tmp_path / "missing.pth"))


# --- the real shared CIFAR-10 tar ------------------------------------------------------------
@pytest.mark.slow
def test_real_shared_cifar10_tar(shared_data, cache_dir):
    D.load_cifar10(shared_data, "train", cache_dir=cache_dir, progress=False)  # decodes once if needed
    t0 = time.perf_counter()
    train = D.load_cifar10(shared_data, "train", cache_dir=cache_dir, progress=False)
    test = D.load_cifar10(shared_data, "test", cache_dir=cache_dir, progress=False)
    n = int(np.asarray(train.images[::997]).sum() + np.asarray(test.images[::997]).sum())  # touch the data
    dt = time.perf_counter() - t0
    assert dt < 2.0, f"second load of all 60,000 images took {dt:.2f} s"
    assert n > 0
    assert train.images.shape == (50000, 32, 32, 3) and test.images.shape == (10000, 32, 32, 3)
    assert train.images.dtype == np.uint8 and train.labels.dtype == np.int64
    assert np.bincount(train.labels).tolist() == [5000] * 10 and np.bincount(test.labels).tolist() == [1000] * 10
    assert train.classes == CLASSES


def test_a_downloaded_imagenet_copy_keys_its_results_apart(tmp_path):
    """Results keyed on image indices must not be read for another copy of the images: a split from a
    public download adds its checksum to the keys (paper B's selection, pixel runs, fine-tuning); a
    local copy adds nothing, so every key computed before downloads existed stays the same."""
    import json

    from robustlab.data.download import SOURCE_FILE
    from robustlab.data.imagenet import source_key

    local = tmp_path / "local"
    (local / "val" / "n01440764").mkdir(parents=True)
    assert source_key(local) == {}
    dl = tmp_path / "dl"
    (dl / "imagenette2-320" / "val" / "n01440764").mkdir(parents=True)
    (dl / "imagenette2-320" / SOURCE_FILE).write_text(json.dumps({"url": "https://example.invalid/x.tgz",
                                                                  "md5": "abc123"}))
    assert source_key(dl) == {"image_sources": {"val": "md5abc123"}}
    assert source_key(dl, splits=("train",)) == {}
