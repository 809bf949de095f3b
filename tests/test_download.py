"""The public download path (issue 25), without internet: a loopback HTTP server (127.0.0.1 only,
started and stopped here) serves archives in torchvision's formats, built from the shared data, and
the ``ROBUSTLAB_URL_*`` mirror variables of :mod:`robustlab.data.download` point the downloads at it
(they reach papermill's kernels, being environment variables). Checked: a fresh machine builds the
tiny chapters 01 and 06 from an empty data folder; an interrupted download is never used and is
resumed; a corrupt one is downloaded again; with the server down the error is the clear offline one."""
from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import socket
import tarfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import robustlab.data as D
from robustlab.core.errors import DataError
from robustlab.data import download as dl

REPO = Path(__file__).resolve().parents[1]
CIFAR_TRAIN_PER_CLASS, CIFAR_TEST_PER_CLASS = 20, 10  # a subset: the loader takes any batch size
NETTE_VAL_PER_CLASS, NETTE_TRAIN_PER_CLASS = 6, 3


# --- archives in torchvision's formats, from the shared data -----------------------------------
def _cifar_python_tar(shared: Path, dest: Path) -> dict[str, np.ndarray]:
    """``cifar-10-python.tar.gz`` as torchvision downloads it (cifar-10-batches-py/data_batch_1..5,
    test_batch, batches.meta; rows of 3,072 bytes = R, G, B planes), from the first images of each class
    of the shared JPEG tar. Returns the images and labels it holds, per split."""
    want = {"train": CIFAR_TRAIN_PER_CLASS, "test": CIFAR_TEST_PER_CLASS}
    got: dict[str, dict[str, list]] = {"train": {}, "test": {}}
    with tarfile.open(shared / "cifar10" / "cifar10-jpeg.tar.gz") as tf:
        for m in tf:
            parts = m.name.lstrip("./").split("/")
            if not m.isfile() or len(parts) < 3 or parts[-3] not in want:
                continue
            split, cls = parts[-3], parts[-2]
            if len(got[split].setdefault(cls, [])) < want[split]:
                got[split][cls].append((parts[-1], np.asarray(Image.open(io.BytesIO(tf.extractfile(m).read()))
                                                              .convert("RGB"), dtype=np.uint8)))
    classes = sorted(got["train"])
    truth = {}
    for split in ("train", "test"):
        items = [(ci, x) for ci, c in enumerate(classes) for _, x in sorted(got[split][c], key=lambda t: t[0])]
        truth[f"{split}_x"] = np.stack([x for _, x in items])
        truth[f"{split}_y"] = np.asarray([ci for ci, _ in items], dtype=np.int64)
    files = {"batches.meta": {b"label_names": [c.encode() for c in classes], b"num_vis": 3072}}
    x, y = truth["train_x"], truth["train_y"]
    for k, idx in enumerate(np.array_split(np.arange(len(y)), 5)):
        files[f"data_batch_{k + 1}"] = {b"batch_label": f"training batch {k + 1} of 5".encode(),
                                        b"labels": y[idx].tolist(), b"filenames": [b"x.png"] * len(idx),
                                        b"data": x[idx].transpose(0, 3, 1, 2).reshape(len(idx), 3072)}
    files["test_batch"] = {b"batch_label": b"testing batch 1 of 1", b"labels": truth["test_y"].tolist(),
                           b"filenames": [b"x.png"] * len(truth["test_y"]),
                           b"data": truth["test_x"].transpose(0, 3, 1, 2).reshape(-1, 3072)}
    with tarfile.open(dest, "w:gz") as out:
        for name, obj in files.items():
            data = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return truth


def _imagenette_tgz(shared: Path, dest: Path) -> None:
    """``imagenette2-320.tgz`` in torchvision's layout (imagenette2-320/{train,val}/<wnid>/*.JPEG),
    from the first images of each class of the shared Imagenette tars."""
    with tarfile.open(dest, "w:gz") as out:
        for split, per_class in (("val", NETTE_VAL_PER_CLASS), ("train", NETTE_TRAIN_PER_CLASS)):
            picked: dict[str, list[tuple[str, bytes]]] = {}
            with tarfile.open(shared / "imagenet" / f"imagenette-{split}.tar.gz") as tf:
                for m in tf:
                    parts = m.name.lstrip("./").split("/")
                    if m.isfile() and len(parts) >= 3 and parts[-3] == split:
                        lst = picked.setdefault(parts[-2], [])
                        if len(lst) < per_class:
                            lst.append((parts[-1], tf.extractfile(m).read()))
            for wnid, files in sorted(picked.items()):
                for name, data in files:
                    info = tarfile.TarInfo(f"imagenette2-320/{split}/{wnid}/{name}")
                    info.size = len(data)
                    out.addfile(info, io.BytesIO(data))


def _md5(p: Path) -> str:
    return hashlib.md5(p.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def mirror(shared_data, tmp_path_factory):
    """The mirror's files: {"dir", "cifar_truth", and per source its file name and checksum}."""
    d = tmp_path_factory.mktemp("mirror")
    truth = _cifar_python_tar(shared_data, d / "cifar-10-python.tar.gz")
    _imagenette_tgz(shared_data, d / "imagenette2-320.tgz")
    w = (shared_data / "imagenet" / "mobilenet_v2-imagenet-dequantized.pth").read_bytes()
    wname = f"mobilenet_v2-{hashlib.sha256(w).hexdigest()[:8]}.pth"  # torch.hub's name-<sha256 prefix>
    (d / wname).write_bytes(w)
    return {"dir": d, "cifar_truth": truth, "weights": wname,
            "cifar_md5": _md5(d / "cifar-10-python.tar.gz"), "nette_md5": _md5(d / "imagenette2-320.tgz")}


# --- the loopback server -----------------------------------------------------------------------------
class _Handler(SimpleHTTPRequestHandler):
    """Serves the mirror folder; honours ``Range: bytes=N-``; ``server.cut[name] = n`` sends the full
    Content-Length but closes the connection after ``n`` bytes (an interrupted download)."""

    def log_message(self, *a):  # keep the test output quiet; requests are recorded instead
        pass

    def do_GET(self):
        name = self.path.lstrip("/").split("?")[0]
        path = Path(self.directory) / name
        self.server.requests.append((name, self.headers.get("Range")))
        if "/" in name or not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = self.server.cut.get(name)
        try:
            self.wfile.write(body[:cut] if cut is not None else body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        if cut is not None:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def server(mirror):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(mirror["dir"])))
    httpd.requests, httpd.cut = [], {}
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    t.join(timeout=5)


def _point_at(monkeypatch, base: str, mirror: dict, torch_home: Path) -> None:
    """The mirror variables (they reach papermill's kernels: they are environment variables)."""
    monkeypatch.delenv(dl.OFFLINE_ENV, raising=False)
    monkeypatch.setenv("ROBUSTLAB_URL_CIFAR10", f"{base}/cifar-10-python.tar.gz#md5={mirror['cifar_md5']}")
    monkeypatch.setenv("ROBUSTLAB_URL_IMAGENETTE", f"{base}/imagenette2-320.tgz#md5={mirror['nette_md5']}")
    monkeypatch.setenv("ROBUSTLAB_URL_MOBILENET_V2", f"{base}/{mirror['weights']}")
    monkeypatch.setenv("TORCH_HOME", str(torch_home))  # the hub cache of this "fresh machine"
    monkeypatch.delenv("ROBUSTLAB_WEIGHTS", raising=False)


def _dead_url() -> str:
    """A loopback URL on which nothing listens (the server is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- the download module ---------------------------------------------------------------------------------
def test_interrupted_download_is_never_used_and_is_resumed(server, mirror, tmp_path, monkeypatch):
    _point_at(monkeypatch, server.base, mirror, tmp_path / "torch")
    data, size = tmp_path / "data", (mirror["dir"] / "cifar-10-python.tar.gz").stat().st_size
    server.cut["cifar-10-python.tar.gz"] = size // 2
    with pytest.raises(DataError, match=r"stopped after .* resumed next time; nothing was extracted") as e:
        D.find_cifar10(data)
    assert "CIFAR-10 not found" in str(e.value) and str(data) in str(e.value)
    part = data / ".cifar-10-python.tar.gz.part"
    assert part.stat().st_size == size // 2
    assert not (data / "cifar-10-batches-py").exists() and not (data / "cifar-10-python.tar.gz").exists()
    with pytest.raises(DataError, match="CIFAR-10 not found"):  # the part is no source
        D.load_cifar10(data, "train", cache_dir=tmp_path / "cache", download=False, progress=False)

    del server.cut["cifar-10-python.tar.gz"]
    server.requests.clear()
    src = D.find_cifar10(data)
    assert server.requests == [("cifar-10-python.tar.gz", f"bytes={size // 2}-")]  # resumed, not redone
    assert src == data / "cifar-10-batches-py" and not part.exists()
    assert not (data / "cifar-10-python.tar.gz").exists()  # extracted and recorded: the archive is gone
    info = dl.source_info(src)
    assert info["url"] == f"{server.base}/cifar-10-python.tar.gz" and info["md5"] == mirror["cifar_md5"]
    assert D.describe_source(src) == f"{server.base}/cifar-10-python.tar.gz (md5 {mirror['cifar_md5']})"
    s = D.load_cifar10(data, "test", cache_dir=tmp_path / "cache", progress=False)
    np.testing.assert_array_equal(np.asarray(s.images), mirror["cifar_truth"]["test_x"])
    np.testing.assert_array_equal(s.labels, mirror["cifar_truth"]["test_y"])
    assert any(f"md5{mirror['cifar_md5']}" in p.name for p in (tmp_path / "cache").iterdir())  # keyed by checksum
    server.requests.clear()
    assert D.find_cifar10(data) == src and server.requests == []  # a second run downloads nothing


def test_a_part_that_fails_the_checksum_is_downloaded_again(server, mirror, tmp_path, monkeypatch):
    _point_at(monkeypatch, server.base, mirror, tmp_path / "torch")
    data = tmp_path / "data"
    data.mkdir()
    size = (mirror["dir"] / "imagenette2-320.tgz").stat().st_size
    (data / ".imagenette2-320.tgz.part").write_bytes(os.urandom(size))  # whole length, wrong bytes
    src, wnids = D.find_imagenet("val", data)
    assert src == data / "imagenette2-320" / "val" and wnids is None
    assert [r for _, r in server.requests] == [f"bytes={size}-", None]  # asked to resume, then whole again
    s = D.load_imagenet("val", data, cache_dir=tmp_path / "cache", progress=False)
    assert s.images.shape == (10 * NETTE_VAL_PER_CLASS, 224, 224, 3) and len(s.classes) == 1000
    names = D.read_wnids(D.imagenet_wnids_path())[0]  # ImageNet-1k indices from the package's wnids
    assert sorted(set(s.labels.tolist())) == sorted(names.index(w) for w in os.listdir(src))
    assert D.find_imagenet("train", data)[0] == data / "imagenette2-320" / "train"  # same archive, no download
    assert len(server.requests) == 2


def test_a_file_with_the_wrong_checksum_is_not_kept(server, mirror, tmp_path, monkeypatch):
    _point_at(monkeypatch, server.base, mirror, tmp_path / "torch")
    monkeypatch.setenv("ROBUSTLAB_URL_CIFAR10", f"{server.base}/cifar-10-python.tar.gz#md5={'0' * 32}")
    data = tmp_path / "data"
    with pytest.raises(DataError, match="does not match its checksum"):
        D.find_cifar10(data)
    assert list(data.iterdir()) == []  # neither the file nor a part of it
    monkeypatch.setenv("ROBUSTLAB_URL_CIFAR10", f"{server.base}/cifar-10-python.tar.gz")
    with pytest.raises(DataError, match="ROBUSTLAB_URL_CIFAR10.*md5="):  # a mirror must give its checksum
        D.find_cifar10(data)


def test_offline_errors_name_the_folder_the_sources_and_the_fix(mirror, tmp_path, monkeypatch):
    _point_at(monkeypatch, _dead_url(), mirror, tmp_path / "torch")
    data = tmp_path / "data"
    for find, what in ((D.find_cifar10, "CIFAR-10 not found"),
                       (partial(D.find_imagenet, "val"), "ImageNet split 'val' not found")):
        with pytest.raises(DataError) as e:
            find(data)
        msg = str(e.value)
        assert what in msg and f"Looked in: {data}" in msg  # the folder searched
        assert "127.0.0.1" in msg and "failed (URLError" in msg  # the source tried, and why
        assert "ROBUSTLAB_DATA=/path/to/data make book" in msg and "data_dir" in msg  # the fix
    monkeypatch.setenv(dl.OFFLINE_ENV, "1")
    with pytest.raises(DataError, match=r"Download: not downloaded from .*downloads are off \(ROBUSTLAB_OFFLINE=1\)"):
        D.find_cifar10(data)
    with pytest.raises(DataError, match="no public source has a 'sample' split"):
        D.find_imagenet("sample", data)
    from robustlab.paper_b.classifiers import pretrained

    with pytest.raises(DataError, match="ROBUSTLAB_OFFLINE=1.*state_dict"):
        pretrained("mobilenet_v2", "IMAGENET1K_V1")
    assert not data.exists() or not any(data.iterdir())  # nothing half-written was left


def test_weights_come_from_the_mirror_into_the_hub_cache(server, mirror, tmp_path, monkeypatch):
    import torch

    from robustlab.paper_b.classifiers import pretrained

    _point_at(monkeypatch, server.base, mirror, tmp_path / "torch")
    m = pretrained("mobilenet_v2", "IMAGENET1K_V1")
    cached = tmp_path / "torch" / "hub" / "checkpoints" / "mobilenet_v2-b0353104.pth"  # torchvision's name
    assert cached.is_file() and server.requests == [(mirror["weights"], None)]
    ref = torch.load(mirror["dir"] / mirror["weights"], weights_only=True)
    assert torch.equal(m[1].features[0][0].weight, ref["features.0.0.weight"])
    pretrained("mobilenet_v2", "IMAGENET1K_V1")
    assert len(server.requests) == 1  # cached: not downloaded twice


# --- a fresh machine builds the tiny chapters 01 and 06 ----------------------------------------------
@pytest.mark.slow
@pytest.mark.notebook
def test_fresh_machine_builds_chapters_01_and_06(server, mirror, tmp_path, monkeypatch):
    """A fresh clone: ROBUSTLAB_DATA, ROBUSTLAB_CACHE and ROBUSTLAB_WEIGHTS unset, so the data folder is
    ``./data`` of the working folder, which does not exist yet and has no ``../shared`` beside it; no
    weights in the hub cache. Chapters 01 and 06 (tiny) download CIFAR-10, Imagenette and MobileNetV2's
    torchvision weights from the loopback mirror and run under papermill."""
    import papermill as pm

    from robustlab.book.provenance import read_records

    clone = tmp_path / "clone"
    clone.mkdir()
    data, results = clone / "data", clone / "results"
    assert not (clone.parent / "shared").exists()
    _point_at(monkeypatch, server.base, mirror, tmp_path / "torch")
    for var in ("ROBUSTLAB_DATA", "ROBUSTLAB_CACHE", "ROBUSTLAB_RESULTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    recs = {}
    for name in ("01_data", "06_pixel_count"):
        pm.execute_notebook(str(REPO / "notebooks" / f"{name}.ipynb"), str(tmp_path / f"{name}.ipynb"),
                            parameters={"profile": "tiny"}, kernel_name="python3", cwd=str(clone),
                            progress_bar=False)
        recs[name] = read_records(results / "tiny" / "records" / f"{name}.json")
    r1, r6 = recs["01_data"], recs["06_pixel_count"]
    assert r1["source"] == "data/cifar-10-batches-py"  # ./data of the working folder
    assert r1["n_train"] == 10 * CIFAR_TRAIN_PER_CLASS and r1["n_test"] == 10 * CIFAR_TEST_PER_CLASS
    assert r1["provenance"]["data"] == [f"{server.base}/cifar-10-python.tar.gz (md5 {mirror['cifar_md5']})"]
    assert r6["selection"]["n_images"] == 8 and r6["selection"]["models"] == ["mobilenet_v2"]
    assert r6["selection"]["missing_weights"] == [] and set(r6["exp1_wrong_rate"]) == {"1", "64"}
    prov6 = "\n".join(r6["provenance"]["data"])
    assert f"{server.base}/imagenette2-320.tgz (md5 {mirror['nette_md5']})" in prov6
    assert "mobilenet_v2-b0353104.pth" in prov6  # torchvision's weights, not a dequantized file
    assert "dequantized" not in prov6 and "imagenette-val" not in prov6  # nothing of the shared data
    for folder in ("cifar-10-batches-py", "imagenette2-320"):
        assert json.loads((data / folder / dl.SOURCE_FILE).read_text())["url"].startswith(server.base)
    assert {n for n, _ in server.requests} == {"cifar-10-python.tar.gz", "imagenette2-320.tgz", mirror["weights"]}
