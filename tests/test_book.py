"""The book: the summary table logic, the runner and the strict site build (the notebooks: test_notebooks.py)."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from robustlab.book import runner as book
from robustlab.book.checklist import CHECKLIST, claims_table, entry, record_claims, summary_rows, with_text
from robustlab.core.claims import Claim, graded, verdict
from robustlab.core.errors import ParameterError

REPO = Path(__file__).resolve().parents[1]


# --- the summary table logic --------------------------------------------------------------
def test_summary_rows_overlay_checklist():
    records = {
        "01_data": {"claims": [{"id": "A-data", "paper": "A", "section": "§2.1", "claim": "c", "paper_value": "p",
                                "ours": "o", "verdict": "yes", "why": "w"}]},
        "03_noise_training": {"claims": [{"paper": "A", "section": "Figure 4", "claim": "first fig-4 claim",
                                          "ours": "x", "verdict": "partly", "why": "y"},
                                         {"paper": "A", "section": "Fig. 99", "claim": "extra", "ours": "z",
                                          "verdict": "no", "why": "q"}]},
    }
    rows = summary_rows(records)
    by_id = dict(zip([c["id"] for c in CHECKLIST], rows))
    assert by_id["A-data"]["verdict"] == "yes" and by_id["A-data"]["ours"] == "o"
    assert by_id["A-noise-001"]["claim"] == "first fig-4 claim"  # section match "Figure 4" == "Fig. 4"
    assert by_id["A-noise-diagonal"]["verdict"] == "not recorded"  # 03 ran but did not record it
    assert by_id["B-magnitude"]["verdict"] == "not run yet" and by_id["B-magnitude"]["ours"] == "—"
    assert rows[-1]["claim"] == "extra" and len(rows) == len(CHECKLIST) + 1


def test_claim_records_take_their_text_from_the_checklist(tmp_path):
    from robustlab.book.provenance import read_records
    from robustlab.core.params import resolve

    assert verdict([True, True]) == "yes" and verdict([True, False]) == "partly" and verdict([False]) == "no"
    assert verdict([]) == "not testable here" and graded(False, True) == "partly"
    assert graded(True, testable=False) == "not testable here"
    with pytest.raises(ValueError):
        Claim("A-data", "x", "maybe")
    c = Claim("A-data", "50,000 / 10,000", "yes", "counted", value=50000)
    assert c.record() == {"id": "A-data", "ours": "50,000 / 10,000", "verdict": "yes", "why": "counted",
                          "value": 50000.0}
    cfg = resolve("01_data", {"profile": "tiny", "results_dir": str(tmp_path)})
    record_claims(cfg, [c])
    (rec,) = read_records(cfg)["claims"]
    assert rec["claim"] == entry("A-data")["claim"] and rec["paper"] == "A" and rec["ours"] == c.ours
    row = summary_rows({"01_data": {"claims": [rec]}})[0]
    assert row["claim"] == entry("A-data")["claim"] and row["verdict"] == "yes"
    assert claims_table([c]).loc[0, "paper's value"] == entry("A-data")["paper_value"]
    with pytest.raises(KeyError, match="no entry"):
        claims_table([Claim("A-nonexistent", "x", "no")])


# --- the runner -------------------------------------------------------------------------
def _write_nb(path: Path, *cells: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('profile = "quick"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def test_placeholders_for_missing_chapters(tmp_path):
    (tmp_path / "notebooks").mkdir()
    book.run_book(profile="tiny", root=tmp_path, build=False)
    out = tmp_path / "book" / "executed"
    pages = sorted(p.stem for p in out.glob("*.md") if p.stem not in ("profiles_table", "headline"))
    assert pages == sorted(book.chapters())
    assert "| training epochs |" in (out / "profiles_table.md").read_text()  # included by the intro
    text = (out / "06_pixel_count.md").read_text()
    assert text.startswith("# 06. ") and "Not yet written" in text


def test_toc_lists_every_chapter_in_order():
    import yaml

    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    notebooks = sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb"))
    # every notebook, in numeric order, then the back matter (the bibliography)
    assert files == [f"book/executed/{n}" for n in notebooks] + ["book/references"]
    ch = book.chapters()
    assert list(ch) == notebooks and ch["03_noise_training"] == ("Training on noisy images", "paper A §3, Fig. 4")
    cfg = yaml.safe_load((REPO / "_config.yml").read_text())
    assert cfg["execute"]["execute_notebooks"] == "off" and cfg["only_build_toc_files"] is True


@pytest.mark.parametrize("args, words", [
    (["--param", "epochz=5"], ["epochz", "epochs"]),
    (["--param", "epochs=0"], ["epochs", "0", ">= 1"]),
    (["--param", "sigmas=[0.1, -1]"], ["sigmas", "-1", ">= 0"]),
    (["--profile", "huge"], ["profile", "huge", "quick"]),
    (["--only", "99_nope"], ["99_nope", "01_data"]),
])
def test_bad_parameters_stop_before_any_notebook_runs(tmp_path, capsys, args, words):
    marker = tmp_path / "ran.txt"
    _write_nb(tmp_path / "notebooks" / "01_data.ipynb", f"open({str(marker)!r}, 'w').write('x')")
    rc = book.main(args + ["--root", str(tmp_path), "--no-build"])
    err = capsys.readouterr().err
    assert rc == 2 and not marker.exists()
    for w in words:
        assert w in err, (w, err)


def test_parse_param_reads_yaml_values():
    assert book.parse_param("epochs=5") == ("epochs", 5)
    assert book.parse_param("sigmas=[0, 0.1]") == ("sigmas", [0, 0.1])
    assert book.parse_param("model_name=resnet101") == ("model_name", "resnet101")
    with pytest.raises(ParameterError, match="KEY=VALUE"):
        book.parse_param("epochs")


@pytest.mark.slow
def test_failing_notebook_stops_the_run_and_names_the_cell(tmp_path, capsys):
    nbs, out = tmp_path / "notebooks", tmp_path / "book" / "executed"
    marker = tmp_path / "02_ran.txt"
    _write_nb(nbs / "01_data.ipynb", "x = 1", "raise ValueError('boom in cell two')", "y = 2")
    _write_nb(nbs / "02_architectures.ipynb", f"open({str(marker)!r}, 'w').write('x')")
    out.mkdir(parents=True)
    (out / "01_data.ipynb").write_text("{}")  # a stale copy from an earlier, successful run
    old_records = tmp_path / "res" / "tiny" / "records" / "01_data.json"
    old_records.parent.mkdir(parents=True)
    old_records.write_text('{"claims": []}')  # values of an earlier run
    rc = book.main(["--profile", "tiny", "--root", str(tmp_path), "--no-build",
                    "--param", f"results_dir={tmp_path / 'res'}"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "01_data" in err and "cell 2" in err and "raise ValueError('boom in cell two')" in err
    assert "ValueError: boom in cell two" in err
    assert not (out / "01_data.ipynb").exists()  # never published
    assert not list(out.glob(".*.running.ipynb"))
    assert "failed in cell 2" in (out / "01_data.md").read_text()
    assert (tmp_path / "_build" / "failed" / "01_data.ipynb").exists()
    assert not marker.exists()  # the run stopped at the failing notebook
    assert not old_records.exists()  # the summary cannot pick up a failed or earlier run's values


# --- the strict site build ----------------------------------------------------------------
@pytest.fixture(scope="module")
def built_site(tmp_path_factory, shared_data, cache_dir):
    """A copy of the book (config, intro, references, notebooks 01, 03, 06 and 13) run with profile tiny
    and built strictly: 01, 03 and 06 carry the three kinds of static controls, 13 the summary."""
    root = tmp_path_factory.mktemp("site")
    for f in ("_config.yml", "_toc.yml", "book/intro.md", "book/references.md", "book/references.bib",
              "book/_ext/robustlab_sphinx.py", "book/_static/robustlab.css",
              "notebooks/01_data.ipynb", "notebooks/03_noise_training.ipynb", "notebooks/06_pixel_count.ipynb",
              "notebooks/13_summary.ipynb"):
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / f, root / f)
    timings = book.run_book(profile="tiny", root=root, params={
        "data_dir": str(shared_data), "cache_dir": str(cache_dir), "results_dir": str(root / "results")})
    return root, timings


@pytest.mark.slow
def test_runner_builds_strict_site_with_chapters_and_images(built_site):
    root, timings = built_site
    assert list(timings) == ["01_data", "03_noise_training", "06_pixel_count", "13_summary"]
    assert all(t > 0 for t in timings.values())
    html = root / "_build" / "html"
    assert (html / "index.html").exists()  # a redirect to book/intro.html
    index = (html / "book" / "intro.html").read_text()
    from robustlab.core.params import profile_values

    epochs = [profile_values(p)["epochs"] for p in ("tiny", "quick", "cpu", "paper")]
    assert re.search(r"training epochs</p></td>\s*" + r"\s*".join(f"<td><p>{e}</p></td>" for e in epochs), index)
    text = {}
    for name, (title, _) in book.chapters().items():
        page = html / "book" / "executed" / f"{name}.html"
        assert page.exists(), name
        text[name] = page.read_text()
        shown = text[name].replace("&#8212;", "—").replace("&amp;", "&").replace("&#8217;", "'").replace("’", "'")
        assert f"{name[:2]}. {title}" in shown
        assert re.search(r'<(script|link|img)[^>]+(src|href)="https?://', text[name]) is None  # offline-safe
        assert text[name].count("const THEBE_JS_URL") <= 1
    imgs = [s for s in re.findall(r'<img[^>]+src="([^"]+)"', text["01_data"]) if not s.startswith("data:")]
    assert len(imgs) >= 4  # counts, Fig. 1, noise grid, blur grid (the widget's frames are inline)
    for src in imgs:
        assert (html / "book" / "executed" / src).resolve().is_file()
    assert "Provenance of this page" in text["01_data"] and "Provenance of this page" in text["13_summary"]
    assert "Not yet written" in text["07_pixel_magnitude"]
    assert "not run yet" in text["13_summary"]
    assert json.loads((root / "book" / "executed" / "timings.json").read_text())["01_data"]["profile"] == "tiny"


def _main_html(page: str) -> str:
    """The article of a built page (without the theme's navigation and header)."""
    m = re.search(r'<article class="bd-article"[^>]*>(.*)</article>', page, re.S)
    assert m, "no article in the page"
    return m.group(1)


@pytest.mark.slow
def test_pages_hide_parameters_fold_code_and_number_every_figure(built_site):
    root, _ = built_site
    html = root / "_build" / "html"
    for name in ("01_data", "03_noise_training", "06_pixel_count"):
        page = (html / "book" / "executed" / f"{name}.html").read_text()
        art = _main_html(page)
        # the parameters cells (kept in the .ipynb) are not on the page
        assert "data_dir = None" not in art and "injected-parameters" not in art, name
        nb = nbformat.read(str(root / "book" / "executed" / f"{name}.ipynb"), as_version=4)
        assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)
        # every code cell is folded: its input sits in a closed <details> toggle
        n_code = sum(c.cell_type == "code" and "remove-cell" not in c.metadata.get("tags", []) for c in nb.cells)
        assert art.count('<details class="admonition hide above-input">') == n_code, name
        assert art.count('class="cell tag_hide-input') == n_code, name
        # every image outside the static controls is a numbered figure with a caption
        widgetless = re.sub(r'<div class="robustlab-static-widget".*?</script></div>', "", art, flags=re.S)
        figures = re.findall(r"<figure[^>]*>(.*?)</figure>", widgetless, re.S)
        assert figures, name
        n_img = len(re.findall(r"<img ", widgetless))
        assert n_img == sum(f.count("<img ") for f in figures), f"{name}: an image outside a numbered figure"
        for f in figures:
            assert re.search(r'<span class="caption-number">Figure \d+ </span>', f), f[:300]
            assert re.search(r'<span class="caption-text">\S', f), f[:300]
        # numbers in the prose come from the run: no unresolved glue or reference is left
        assert "glue:" not in art and "??" not in art
    art = _main_html((html / "book" / "executed" / "03_noise_training.html").read_text())
    assert re.search(r'<a class="reference internal" href="#fig-03-curves"><span class="std std-numref">Figure \d+',
                     art)
    # a number in the caption pasted from the run (rl.book.page.text in the notebook)
    assert re.search(r'Clean accuracy of the σ = 0 models: <span class="pasted-text">\w+ \d+\.\d %', art)


@pytest.mark.slow
def test_static_controls_hold_their_frames(built_site):
    """Chapters 01 (σ slider and noise/blur), 03 (architecture) and 06 (pixel count) carry every
    pre-rendered frame of their static controls, distinct PNGs, and the script that swaps them."""
    import base64

    from robustlab.core.params import resolve

    root, _ = built_site
    html = root / "_build" / "html" / "book" / "executed"
    expected = {"01_data": None, "03_noise_training": None, "06_pixel_count": None}
    cfg1, cfg3, cfg6 = (resolve(n, {"profile": "tiny"}) for n in expected)
    expected = {"01_data": ({"sigma": len(cfg1.sigmas), "kind": 2}),
                "03_noise_training": {"arch": len(cfg3.archs)},
                "06_pixel_count": {"n_pixels": len(set(cfg6.pixel_counts) | {64})}}
    for name, controls in expected.items():
        art = _main_html((html / f"{name}.html").read_text())
        blocks = re.findall(r'<div class="robustlab-static-widget" id="rlw-\w+" data-frames="(\d+)">'
                            r'(.*?)</script></div>', art, re.S)
        assert len(blocks) == 1, name
        n, block = int(blocks[0][0]), blocks[0][1]
        data = json.loads(re.search(r'<script type="application/json" class="rlw-data">(.*?)</script>', block,
                                    re.S).group(1))
        assert {k: len(v) for k, v in data["labels"].items()} == controls, name
        want = 1
        for v in controls.values():
            want *= v
        assert n == want == len(data["frames"]), name
        pngs = [base64.b64decode(f) for f in data["frames"].values()]
        assert all(p.startswith(b"\x89PNG") for p in pngs) and len(set(pngs)) == len(pngs), name
        for k in controls:  # one input per control, wired by the inline script
            assert f'data-control="{k}"' in block
        assert "addEventListener" in block and "http" not in block.split("rlw-data")[0].split("<img")[0]


@pytest.mark.slow
def test_bibliography_download_and_launch_links(built_site):
    root, _ = built_site
    html = root / "_build" / "html"
    refs = (html / "book" / "references.html").read_text()
    for key in ("Bartschat", "Zhang", "Goodfellow", "Moosavi-Dezfooli", "Pintor", "Krizhevsky", "Deng", "Sandler"):
        assert key in refs, key
    intro = (html / "book" / "intro.html").read_text()
    assert intro.count('href="references.html#id') >= 10  # the intro cites the papers, data, models, methods
    for name in ("01_data", "03_noise_training", "06_pixel_count", "13_summary"):
        page = (html / "book" / "executed" / f"{name}.html").read_text()
        assert 'href="../references.html#id' in page, name  # each chapter cites its paper
        m = re.search(r'href="([^"]*_sources/book/executed/' + name + r'\.ipynb)"', page)
        assert m, f"{name}: no download link for its notebook"
        assert (html / "book" / "executed" / m.group(1)).resolve().is_file()
        assert "launch-buttons" not in page and "mybinder.org" not in page  # no repository URL set here
    # the intro opens with the verdicts at a glance and one figure per paper
    head = _main_html(intro).split("What this book is")[0]
    assert "At a glance" in head and "paper A" in head and "paper B" in head
    assert len(re.findall(r"<figure", head)) == 2


def test_launch_links_come_from_the_repository_url():
    import importlib.util

    spec = importlib.util.spec_from_file_location("robustlab_sphinx", REPO / "book" / "_ext" / "robustlab_sphinx.py")
    ext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ext)
    services = {"binderhub_url": "https://mybinder.org", "colab_url": "https://colab.research.google.com",
                "jupyterhub_url": "https://hub.example.org"}
    assert ext.launch_links("", "main", "notebooks/01_data.ipynb", services) == []  # unset: no buttons
    links = {b["text"]: b["url"] for b in ext.launch_links("https://github.com/o/robustlab", "main",
                                                            "notebooks/01_data.ipynb", services)}
    assert links["Binder"] == "https://mybinder.org/v2/gh/o/robustlab/main?urlpath=lab%2Ftree%2Fnotebooks%2F01_data.ipynb"
    assert links["Colab"] == "https://colab.research.google.com/github/o/robustlab/blob/main/notebooks/01_data.ipynb"
    assert links["JupyterHub"].startswith("https://hub.example.org/hub/user-redirect/git-pull?repo=https%3A%2F%2F")
    assert "urlpath=lab%2Ftree%2Frobustlab%2Fnotebooks%2F01_data.ipynb" in links["JupyterHub"]
    # a non-GitHub repository gets no Binder/Colab (they need GitHub), an unset hub no JupyterHub
    assert ext.launch_links("https://gitlab.com/o/r", "main", "notebooks/x.ipynb",
                            {**services, "jupyterhub_url": ""}) == []


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (.ci/run installs it)")
def test_pages_load_in_headless_chromium_without_console_errors(built_site):
    import subprocess

    root, _ = built_site
    html = root / "_build" / "html"
    for page in ("index.html", "book/executed/01_data.html", "book/executed/13_summary.html"):
        proc = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-extensions",
             "--host-resolver-rules=MAP * ~NOTFOUND",  # any fetch from the internet would fail and be logged
             "--enable-logging=stderr", "--v=0", "--virtual-time-budget=3000", "--dump-dom",
             (html / page).as_uri()], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        console = [ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln]
        bad = [ln for ln in console if re.search(r"Uncaught|Failed to load|net::ERR_|is not defined|TypeError", ln)]
        assert bad == [], bad
        assert "</html>" in proc.stdout and "robustlab" in proc.stdout
        if page.endswith("01_data.html"):
            assert proc.stdout.count("<img") >= 5 and "Provenance of this page" in proc.stdout


def test_data_fingerprint_names_the_data_not_the_machine(tmp_path):
    """Provenance names a data file by its folder and name (and MD5), never by the absolute path of the
    machine that built the book."""
    from robustlab.book.provenance import data_fingerprint

    f = tmp_path / "cifar10" / "data.tar.gz"
    f.parent.mkdir()
    f.write_bytes(b"x")
    text = data_fingerprint(f)
    assert text.startswith("cifar10/data.tar.gz (md5 ") and str(tmp_path) not in text
    assert data_fingerprint(f.parent) == "cifar10 (folder, 1 files)"


def test_pages_hide_parameter_cells_and_fold_code(tmp_path):
    import nbformat

    from robustlab.book.runner import prepare_page

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("profile = 'quick'\nseed = None", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("seed = 1", metadata={"tags": ["injected-parameters"]}),
                nbformat.v4.new_markdown_cell("# text"),
                nbformat.v4.new_code_cell("print(seed)"),
                nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["remove-input"]})]
    p = tmp_path / "n.ipynb"
    nbformat.write(nb, str(p))
    assert prepare_page(p) == {"remove-cell": 2, "hide-input": 1}
    assert prepare_page(p) == {"remove-cell": 0, "hide-input": 0}  # idempotent
    cells = nbformat.read(str(p), as_version=4).cells
    assert len(cells) == 5
    assert [c.metadata.get("tags", []) for c in cells] == [
        ["parameters", "remove-cell"], ["injected-parameters", "remove-cell"], [], ["hide-input"], ["remove-input"]]


def test_headline_counts_verdicts_per_paper(tmp_path):
    """The intro's headline counts each paper's verdicts from the records (a claim whose chapter did not
    run is "not run yet") and says so when nothing has run."""
    rec = tmp_path / "records"
    rec.mkdir()
    assert "No chapter has been run yet" in book.headline(tmp_path, tmp_path / "out")
    claims = [{"id": "A-data", "paper": "A", "verdict": "yes"},
              {"id": "A-params-resnet", "paper": "A", "verdict": "no"},
              {"id": "B-64px-10pct", "paper": "B", "verdict": "not testable here"}]
    (rec / "01_data.json").write_text(json.dumps({"claims": claims, "provenance": {"profile": "tiny", "seed": 0,
                                                                                  "device": "CPU (test)"}}))
    text = book.headline(tmp_path, tmp_path / "out")
    n_a = sum(e["paper"] == "A" for e in CHECKLIST)
    n_b = sum(e["paper"] == "B" for e in CHECKLIST)
    assert f"| **paper A** | 1 | 0 | 1 | 0 | 0 | {n_a - 2} | {n_a} |" in text  # yes partly no n.t. by-construction
    assert f"| **paper B** | 0 | 0 | 0 | 1 | 0 | {n_b - 1} | {n_b} |" in text
    assert "profile `tiny`, seed 0, computed on CPU (test)" in text
    assert "{figure}" not in text  # no executed chapter: no figure is claimed


def test_headline_states_the_scale_from_the_records(tmp_path):
    """The intro states the run's scale in one line (issue 30): images, width, epochs, seeds and the
    σ = 0 clean accuracy of paper A (chapter 03's records), images and models of paper B (chapter 06's)."""
    rec = tmp_path / "records"
    rec.mkdir()
    prov = {"profile": "cpu", "seed": 0, "device": "CPU (test)",
            "parameters": {"train_subset": None, "test_subset": None, "width": 0.125, "epochs": 5, "n_seeds": 3}}
    (rec / "03_noise_training.json").write_text(json.dumps({"provenance": prov, "n_seeds": 3,
                                                            "clean_acc_sigma0": {"resnet": 0.712, "inception": 0.7}}))
    (rec / "06_pixel_count.json").write_text(json.dumps({"selection": {"n_images": 10000,
                                                                       "models": ["mobilenet_v2"]}}))
    text = book.headline(tmp_path, tmp_path / "out")
    assert ("Scale: paper A on 50,000 CIFAR-10 training and 10,000 test images, width 0.125, 5 epochs, 3 training "
            "seeds (σ = 0 clean accuracy: resnet 71.2 %, inception 70.0 %); paper B on 10,000 correctly classified "
            "ImageNet images, models mobilenet_v2.") in text
    (rec / "06_pixel_count.json").unlink()
    assert "paper B on" not in book.headline(tmp_path, tmp_path / "out")


@pytest.mark.slow
def test_launch_buttons_appear_once_the_repository_url_is_set(built_site, monkeypatch):
    """With the one setting given (here through ROBUSTLAB_REPOSITORY_URL), every executed chapter gets
    Binder and Colab buttons that open its source notebook; pages without a notebook get none.
    (Last in this module: it rebuilds the shared site.)"""
    root, _ = built_site
    monkeypatch.setenv("ROBUSTLAB_REPOSITORY_URL", "https://github.com/owner/robustlab")
    assert book.build_site(root) == 0
    html = root / "_build" / "html"
    page = (html / "book" / "executed" / "01_data.html").read_text()
    assert "launch-buttons" in page
    assert "https://mybinder.org/v2/gh/owner/robustlab/main?urlpath=lab%2Ftree%2Fnotebooks%2F01_data.ipynb" in page
    assert "https://colab.research.google.com/github/owner/robustlab/blob/main/notebooks/01_data.ipynb" in page
    assert "JupyterHub" not in page  # no hub configured
    assert "launch-buttons" not in (html / "book" / "executed" / "07_pixel_magnitude.html").read_text()  # placeholder
    assert "launch-buttons" not in (html / "book" / "intro.html").read_text()


def test_claims_display_one_headline_and_the_rest_folded():
    from robustlab.book.checklist import DISPLAY_COLUMNS, claims_display
    from robustlab.core.stats import Estimate

    long_ours = "; ".join(f"model {i}: 1.{i} [0.{i}, 2.{i}] % (yes)" for i in range(10)) + " <a & b>"
    c = [Claim.of("B-area", long_ours, "yes", "the rule", Estimate(1.25, 0.5, 2.0, "bootstrap over 10 images"),
                  100, "%"),
         Claim("A-data", "50,000 / 10,000", "yes", "counted"), Claim("B-magnitude", "—", "not testable here", "n/a")]
    d = claims_display(c)
    assert list(d.columns) == DISPLAY_COLUMNS
    assert list(d["ours: headline [95 % interval]"]) == ["125.0 [50.0, 200.0] %", "50,000 / 10,000", "—"]
    det = d.loc[0, "details"]
    assert det.startswith("<details>") and "model 9: 1.9 [0.9, 2.9] % (yes)" in det and "&lt;a &amp; b&gt;" in det
    assert "the rule" in det and "bootstrap over 10 images" in det  # nothing dropped
    rows = summary_rows({"08_pixel_area": {"claims": [with_text(c[0])]}})
    s = claims_display(rows)
    row = s[s["claim"] == entry("B-area")["claim"]].iloc[0]
    assert row["ours: headline [95 % interval]"] == "125.0 [50.0, 200.0] %" and row["notebook"] == "08_pixel_area"
    assert "model 9" in row["details"]
