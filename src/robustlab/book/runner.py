"""Run the notebooks with papermill and build the Jupyter Book: ``python -m robustlab.book``.

::

    python -m robustlab.book                         # quick profile, every notebook, then the site
    python -m robustlab.book --profile tiny --only 01_data,13_summary
    python -m robustlab.book --param epochs=5 --param sigmas=[0,0.1]
    python -m robustlab.book --build-only            # rebuild the site from the executed copies
    python -m robustlab.book --no-build              # execute only

What it does, in order:

1. Validates the profile and every ``--param`` with :func:`robustlab.core.params.resolve` *before*
   anything runs: an unknown name or a bad value stops here with the parameter, the value and
   what is allowed.
2. Executes each selected ``notebooks/NN_name.ipynb`` in reading order (:func:`chapters`, from ``_toc.yml``) with
   papermill (kernel ``python3``, working directory = the repository root, ``-p profile <p>`` plus
   the parameters) into ``book/executed/NN_name.ipynb``, printing each notebook's wall time. The
   copy is written under a temporary name and renamed only when the whole notebook succeeded.
3. A failing notebook stops the run. The message names the notebook, the failing cell (index in
   the source notebook and its first line) and the error; the failed copy is moved to
   ``_build/failed/`` (never published) and the chapter's page becomes a placeholder saying the
   last run failed. Nothing is built. A notebook's records (``<results>/records/<name>.json``)
   are deleted before it runs and again if it fails, so the summary page never shows values
   of an earlier or a failed run.
4. Every chapter without an executed notebook gets a placeholder page ("not yet written" / "not
   yet executed"), so ``_toc.yml`` can list all thirteen chapters and the book never fakes a page.
5. Builds the site strictly: ``jupyter-book build . --all -W -n --keep-going`` (warnings are
   errors; notebooks are *not* re-executed, ``execute_notebooks: off``) → ``_build/html/index.html``.

Exit status: 0 on success, 1 when a notebook or the build failed, 2 for bad arguments/parameters.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from robustlab.book.checklist import collect_records, summary_rows
from robustlab.book.page import BOOK_ENV
from robustlab.core.claims import VERDICTS
from robustlab.core.errors import ParameterError, RobustlabError
from robustlab.core.params import PROFILES, parse_param, profile_values, resolve
from robustlab.core.progress import PROGRESS_ENV, ProgressTail
from robustlab.core.results import atomic_write_text

__all__ = ["chapters", "NotebookFailed", "parse_param", "select_chapters", "execute_notebook", "prepare_page",
           "write_placeholder", "profiles_table", "headline", "glued_png", "run_book", "build_site", "main"]

#: The repository this package was installed from (editable install): its _toc.yml is the default.
REPO = Path(__file__).resolve().parents[3]


def chapters(root: str | os.PathLike | None = None) -> dict[str, tuple[str, str]]:
    """Every chapter in reading order, ``{name: (title, what it reproduces)}``.

    The order is ``_toc.yml``'s (the only place it is written; ``root``'s, else the repository's):
    its ``book/executed/<name>`` entries. Title and "what it reproduces" come from the first cell of
    ``notebooks/<name>.ipynb`` (``# NN. Title`` and its first ``**bold**`` phrase), so each is
    written once, in the chapter itself."""

    root = Path(root) if root is not None else REPO
    toc_path = root / "_toc.yml" if (root / "_toc.yml").exists() else REPO / "_toc.yml"
    toc = yaml.safe_load(toc_path.read_text())
    names = [Path(c["file"]).name for part in toc.get("parts", []) for c in part.get("chapters", [])
             if str(c.get("file", "")).startswith(EXECUTED.as_posix() + "/")]
    out: dict[str, tuple[str, str]] = {}
    for name in names:
        title, what = name, ""
        for nb_dir in (root / "notebooks", REPO / "notebooks"):
            nb = nb_dir / f"{name}.ipynb"
            if nb.exists():
                cells = json.loads(nb.read_text(encoding="utf-8")).get("cells", [])
                first = "".join(cells[0]["source"]) if cells else ""
                m = re.match(r"#\s*\d+\.\s*(.+)", first)
                title = m.group(1).strip() if m else title
                w = re.search(r"\*\*(.+?)\*\*", first)
                what = re.sub(r"^Reproduces\s+", "", w.group(1).strip().rstrip(".")) if w else ""
                break
        out[name] = (title, what)
    return out


EXECUTED = Path("book") / "executed"
FAILED = Path("_build") / "failed"


class NotebookFailed(RobustlabError):
    """A notebook raised during execution; names the notebook, the cell and the error."""

    def __init__(self, notebook: str, cell_index: int | None, first_line: str, error: str, copy: Path | None):
        self.notebook, self.cell_index, self.first_line, self.error, self.copy = (
            notebook, cell_index, first_line, error, copy)
        where = f"cell {cell_index} ({first_line!r})" if cell_index is not None else "before the first cell"
        msg = f"notebook {notebook} failed in {where}: {error}"
        if copy is not None:
            msg += f"\n  the failed executed copy (not published) is {copy}"
        super().__init__(msg)


# --------------------------------------------------------------------------------------
# arguments
# --------------------------------------------------------------------------------------
def select_chapters(only: str | Sequence[str] | None, notebooks_dir: Path) -> list[str]:
    """Chapters to execute, in reading order: every chapter whose notebook exists, or ``only``.

    An ``only`` name that is not a chapter, or whose notebook does not exist, is a ParameterError.
    """
    order = list(chapters(Path(notebooks_dir).parent))
    existing = [n for n in order if (notebooks_dir / f"{n}.ipynb").exists()]
    if only is None or only == "" or only == []:
        return existing
    names = [s.strip() for s in (only.split(",") if isinstance(only, str) else only) if s.strip()]
    for n in names:
        if n not in order:
            raise ParameterError(f"--only {n!r}: not a chapter; chapters are {order}")
        if n not in existing:
            raise ParameterError(f"--only {n!r}: {notebooks_dir / (n + '.ipynb')} is not written yet; "
                                 f"notebooks present: {existing}")
    return [n for n in order if n in names]


# --------------------------------------------------------------------------------------
# pages
# --------------------------------------------------------------------------------------
def _clear_page(out_dir: Path, name: str) -> None:
    for suffix in (".ipynb", ".md"):
        p = out_dir / f"{name}{suffix}"
        if p.exists():
            p.unlink()


def write_placeholder(out_dir: Path, name: str, reason: str, root: Path | None = None) -> Path:
    """Write ``<out_dir>/<name>.md``: the chapter's title and why it has no executed page."""
    title, what = chapters(root).get(name, (name, ""))
    num = name.split("_", 1)[0]
    _clear_page(out_dir, name)
    out_dir.mkdir(parents=True, exist_ok=True)
    p = out_dir / f"{name}.md"
    text = (f"# {num}. {title}\n\n"
            f"*Reproduces {what}.*\n\n" if what else f"# {num}. {title}\n\n")
    text += f"```{{note}}\n{reason}\n```\n"
    p.write_text(text, encoding="utf-8")
    return p


def _failure_details(exc: Exception, executed: Path) -> tuple[int | None, str, str]:
    """(source-notebook cell index, first source line, 'Ename: value') of a papermill failure."""
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    idx = getattr(exc, "cell_index", None)
    first = (getattr(exc, "source", "") or "").strip().splitlines()
    first_line = first[0] if first else ""
    if idx is not None and executed.exists():
        try:
            # deferred: Jupyter tooling, only when notebooks are read
            import nbformat

            nb = nbformat.read(executed, as_version=4)
            injected = [i for i, c in enumerate(nb.cells)
                        if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
            if injected and injected[0] < idx:
                idx -= 1  # papermill inserted a cell before it; report the source notebook's index
        except Exception:  # noqa: BLE001 - the index of the executed copy is still useful
            pass
    return idx, first_line, f"{ename}: {evalue}"


def execute_notebook(name: str, parameters: Mapping[str, Any], notebooks_dir: Path, out_dir: Path,
                     cwd: Path, failed_dir: Path, kernel_name: str = "python3") -> float:
    """Execute one notebook into ``out_dir/<name>.ipynb``; return its wall time in seconds.

    Written to a temporary name and renamed on success. On failure the temporary copy moves to
    ``failed_dir``, the chapter gets a "last run failed" placeholder, and NotebookFailed is raised.
    """
    # deferred: Jupyter tooling, only when notebooks run
    import papermill as pm

    src = notebooks_dir / f"{name}.ipynb"
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".{name}.running.ipynb"
    t0 = time.time()
    # tqdm bars would be frozen at 0 % in the static pages (their widget state is not rendered):
    # the kernels inherit TQDM_DISABLE=1; this runner prints each notebook's progress instead.
    os.environ.setdefault("TQDM_DISABLE", "1")
    # figures must reach the page: a non-interactive MPLBACKEND (e.g. Agg, set for headless tests)
    # inherited by the kernel would silently drop every figure, so the kernels get the inline backend
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    # figures and numbers are placed by the chapter's Markdown (robustlab.book.page), shown once

    os.environ[BOOK_ENV] = "1"
    # the kernels report their progress bars to a file; its latest state is printed here (chapter,
    # what is being computed, rate, ETA), so a long chapter is never silent in the terminal

    progress_file = out_dir / f".{name}.progress.txt"
    os.environ[PROGRESS_ENV] = str(progress_file.resolve())
    try:
        # the kernel's own log (start-up warnings about local TCP, the interrupt papermill sends at
        # shutdown) says nothing about the chapter; a failing cell is reported by papermill itself
        with ProgressTail(progress_file, out=lambda s: print(f"    {name}: {s}", flush=True)):
            pm.execute_notebook(str(src), str(tmp), parameters=dict(parameters), kernel_name=kernel_name,
                                cwd=str(cwd), progress_bar=False, log_output=False,
                                extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
    except BaseException as e:
        idx, first_line, error = _failure_details(e, tmp)
        copy = None
        if tmp.exists():
            failed_dir.mkdir(parents=True, exist_ok=True)
            copy = failed_dir / f"{name}.ipynb"
            os.replace(tmp, copy)
        where = f"cell {idx} ({first_line!r})" if idx is not None else "(no cell)"
        write_placeholder(out_dir, name, f"The last run of `notebooks/{name}.ipynb` failed in {where}: "
                                         f"{(error.splitlines()[0] if error else '').rstrip('.')}. "
                                         f"No result of that run is shown.")
        if isinstance(e, KeyboardInterrupt):
            raise
        raise NotebookFailed(name, idx, first_line, error, copy) from None
    finally:
        os.environ.pop(PROGRESS_ENV, None)
        os.environ.pop(BOOK_ENV, None)  # only the kernels of a book run are in one
    _clear_page(out_dir, name)
    prepare_page(tmp)
    os.replace(tmp, out_dir / f"{name}.ipynb")
    (failed_dir / f"{name}.ipynb").unlink(missing_ok=True)  # an earlier failure is now stale
    return time.time() - t0


#: cells kept in the executed notebook but removed from its page (Jupyter Book's ``remove-cell`` tag)
HIDDEN_CELL_TAGS = ("parameters", "injected-parameters")
#: tags with which a notebook decides itself how a code cell appears; such a cell is left as it is
OWN_DISPLAY_TAGS = ("remove-cell", "remove-input", "hide-input", "hide-cell", "show-input")


def prepare_page(path: Path) -> dict[str, int]:
    """Tag an executed notebook for its page; the .ipynb keeps every cell (papermill and JupyterLab
    need them). Returns how many cells got each tag.

    * the parameters cell and papermill's injected-parameters cell: ``remove-cell`` (the page shows
      the chapter, not lines of ``name = None``);
    * every other code cell: ``hide-input`` (the code is folded behind a toggle; its figures, tables
      and text stay visible), unless the notebook tagged the cell itself (:data:`OWN_DISPLAY_TAGS`).
    """
    # deferred: Jupyter tooling, only when notebooks are read
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    counts = {"remove-cell": 0, "hide-input": 0}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if any(t in tags for t in HIDDEN_CELL_TAGS):
            tag = "remove-cell"
        elif not any(t in tags for t in OWN_DISPLAY_TAGS):
            tag = "hide-input"
        else:
            continue
        if tag not in tags:
            tags.append(tag)
            counts[tag] += 1
    if any(counts.values()):
        nbformat.write(nb, str(path))
    return counts


PROFILE_ROWS = [  # (label, parameter(s)) shown in the intro's profile table
    ("CIFAR-10 net width (1 = the paper's 256 channels)", "width"),
    ("training epochs", "epochs"),
    ("training / test images", ("train_subset", "test_subset")),
    ("σ levels (noise and blur)", "sigmas"),
    ("images attacked per model", "n_attack_images"),
    ("paper-B models", "model_names"),
    ("ImageNet images", "n_images"),
    ("random draws per setting", "n_repeats"),
    ("changed-pixel counts", "pixel_counts"),
    ("device", "device"),
]


def profiles_table() -> str:
    """Markdown table of the shipped profiles' main sizes, read from their YAML files."""

    vals = {p: profile_values(p) for p in PROFILES}

    def fmt(v):
        if v is None:
            return "all"
        if isinstance(v, list):
            return ", ".join(f"{x:g}" if isinstance(x, float) else str(x) for x in v)
        if isinstance(v, float):
            return f"{v:g}"
        return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)

    lines = ["| | " + " | ".join(f"`{p}`" for p in PROFILES) + " |", "|---" * (len(PROFILES) + 1) + "|"]
    for label, keys in PROFILE_ROWS:
        keys = keys if isinstance(keys, tuple) else (keys,)
        if not all(k in vals[p] for p in PROFILES for k in keys):
            continue
        lines.append(f"| {label} | " + " | ".join(" / ".join(fmt(vals[p][k]) for k in keys) for p in PROFILES) + " |")
    return "\n".join(lines) + "\n"


#: The intro's headline figures: (chapter, glue key, what it shows), one per paper.
HEADLINE_FIGURES = [("03_noise_training", "fig-03-curves", "Paper A: accuracy of the CIFAR-10 models trained with "
                     "Gaussian noise, on test images with every noise level (chapter 03)"),
                    ("06_pixel_count", "fig-06-count", "Paper B: accuracy and wrong images of the pretrained "
                     "ImageNet classifiers after random changes of a few pixels (chapter 06)")]


def glued_png(notebook: Path, key: str) -> bytes | None:
    """The PNG glued under ``key`` in an executed notebook (robustlab.book.page.figure), or None."""

    if not notebook.exists():
        return None
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) or []:
            meta = (out.get("metadata") or {}).get("scrapbook") or {}
            if meta.get("name") == key:
                prefix = meta.get("mime_prefix", "")
                data = (out.get("data") or {}).get(prefix + "image/png")
                if data:
                    return base64.b64decode("".join(data) if isinstance(data, list) else data)
    return None


def scale_line(records: Mapping[str, Mapping[str, Any]]) -> str:
    """The run's scale in one line, from the chapters' records: paper A's training / test images, width,
    epochs, training seeds and the σ = 0 clean accuracy per architecture (chapter 03); paper B's images
    and the models that ran (chapter 06). Parts whose chapter has not run are left out."""
    parts = []
    a = records.get("03_noise_training") or {}
    pa = (a.get("provenance") or {}).get("parameters") or {}
    if pa:
        n_tr, n_te = pa.get("train_subset") or 50000, pa.get("test_subset") or 10000
        acc = ", ".join(f"{k} {100 * v:.1f} %" for k, v in (a.get("clean_acc_sigma0") or {}).items() if v is not None)
        seeds = a.get("n_seeds", pa.get("n_seeds"))
        parts.append(f"paper A on {n_tr:,} CIFAR-10 training and {n_te:,} test images, width {pa.get('width'):g}, "
                     f"{pa.get('epochs')} epochs, {seeds} training seed{'s' if seeds != 1 else ''}"
                     + (f" (σ = 0 clean accuracy: {acc})" if acc else ""))
    sel = (records.get("06_pixel_count") or {}).get("selection") or {}
    if sel:
        models = ", ".join(str(m) for m in sel.get("run") or sel.get("models") or []) or "—"
        parts.append(f"paper B on {sel.get('n_images', 0):,} correctly classified ImageNet images, models {models}")
    return ("Scale: " + "; ".join(parts) + ".") if parts else ""


def headline(results: Path, out_dir: Path) -> str:
    """The intro's opening (``<out_dir>/headline.md``, included by ``book/intro.md``): the verdicts of
    the chapters' recorded claims per paper, what the run used (profile, seed, devices: from the
    chapters' provenance) and one figure per paper (:data:`HEADLINE_FIGURES`, copied from the
    executed chapters). Written from this run's records only; without any, it says so."""

    records = collect_records(results / "records")
    records.pop("13_summary", None)
    if not records:
        return ("```{note}\nNo chapter has been run yet, so there are no verdicts to show here. "
                "Run `make book` (see *How to rerun* below).\n```\n")
    rows = summary_rows(records)
    lines = ["| | " + " | ".join(VERDICTS) + " | not run yet | all |", "|---" * (len(VERDICTS) + 3) + "|"]
    for paper in ("A", "B"):
        mine = [r for r in rows if str(r["paper"]).upper() == paper]
        n = {v: sum(str(r["verdict"]) == v for r in mine) for v in VERDICTS}
        rest = len(mine) - sum(n.values())
        lines.append(f"| **paper {paper}** | " + " | ".join(str(n[v]) for v in VERDICTS) + f" | {rest} | {len(mine)} |")
    prov = [rec.get("provenance", {}) for rec in records.values() if rec.get("provenance")]
    profiles = sorted({str(p.get("profile")) for p in prov if p.get("profile")})
    seeds = sorted({str(p.get("seed")) for p in prov if p.get("seed") is not None})
    devices = sorted({g.get("device", "") for p in prov for g in (p.get("computed_by") or []) if g.get("device")}
                     | {str(p.get("device")) for p in prov if p.get("device") and not p.get("computed_by")})
    scale = scale_line(records)
    text = ["## At a glance", "",
            f"Every claim of both papers, checked by a rule fixed in advance against this run's numbers and their "
            f"95 % intervals (the full table is the {{doc}}`summary <executed/13_summary>`). The run: profile "
            f"{', '.join(f'`{p}`' for p in profiles) or '—'}, seed {', '.join(seeds) or '—'}, computed on "
            f"{'; '.join(devices) or '—'} ({len(records)} chapters).", "",
            *([scale, ""] if scale else []), *lines, ""]
    fig_dir = out_dir / "headline"
    for i, (chapter, key, caption) in enumerate(HEADLINE_FIGURES):
        png = glued_png(out_dir / f"{chapter}.ipynb", key)
        target = fig_dir / f"{key}.png"
        if png is None:
            target.unlink(missing_ok=True)
            continue
        fig_dir.mkdir(parents=True, exist_ok=True)
        target.write_bytes(png)
        text += [f"```{{figure}} executed/headline/{key}.png", f":name: fig-intro-{i + 1}", ":width: 100%", "",
                 f"{caption}; see {{doc}}`the chapter <executed/{chapter}>`.", "```", ""]
    return "\n".join(text)


def build_site(root: Path, strict: bool = True) -> int:
    """``jupyter-book build <root> --all -W -n --keep-going``; returns its exit status."""
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe) if exe.exists() else (shutil.which("jupyter-book") or "jupyter-book"), "build", str(root), "--all"]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    print("$ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=str(root)).returncode


def run_book(profile: str = "quick", only: str | Sequence[str] | None = None, params: Mapping[str, Any] | None = None,
             build: bool = True, execute: bool = True, root: str | os.PathLike = ".",
             notebooks_dir: str | os.PathLike | None = None, out_dir: str | os.PathLike | None = None,
             kernel_name: str = "python3") -> dict[str, float]:
    """Run the book (see the module docstring). Returns {notebook: wall time in s}.

    Raises ParameterError (bad parameters, before anything runs), NotebookFailed (a notebook
    failed; nothing is built) or RobustlabError (the site build failed).
    """

    root = Path(root).resolve()
    nb_dir = Path(notebooks_dir) if notebooks_dir else root / "notebooks"
    out = Path(out_dir) if out_dir else root / EXECUTED
    params = dict(params or {})
    if "profile" in params:
        raise ParameterError("give the profile with --profile, not --param profile=...")
    cfg = resolve("", {**params, "profile": profile})  # validates names, types and ranges: nothing has run yet
    chosen = select_chapters(only, nb_dir) if execute else []
    results = cfg.results if cfg.results.is_absolute() else root / cfg.results
    timings: dict[str, float] = {}
    waiting: dict[str, str] = {}
    for i, name in enumerate(chosen, 1):
        print(f"[{i}/{len(chosen)}] {name} (profile {profile}) ...", flush=True)
        records = results / "records" / f"{name}.json"
        records.unlink(missing_ok=True)  # values recorded by an earlier run must not survive this one
        try:
            dt = execute_notebook(name, {"profile": profile, **params}, nb_dir, out, root, root / FAILED, kernel_name)
        except NotebookFailed as e:
            records.unlink(missing_ok=True)  # a failed run's partial records are not results
            if not e.error.startswith("ComputeRefused"):
                raise
            # results this machine may not compute (the paper profile without a GPU, or
            # ROBUSTLAB_NO_COMPUTE=1) and that are not published: the page says which unit is missing
            msg = e.error.split(": ", 1)[-1]
            write_placeholder(out, name, f"Not computed yet at the `{profile}` profile. {msg}")
            waiting[name] = msg
            print(f"[{i}/{len(chosen)}] {name}: results missing, page left as a placeholder: {msg}", flush=True)
            continue
        except BaseException:
            records.unlink(missing_ok=True)  # a failed run's partial records are not results
            raise
        timings[name] = round(dt, 1)
        print(f"[{i}/{len(chosen)}] {name} done in {dt:.1f} s", flush=True)
    for name in chapters(root):
        if (out / f"{name}.ipynb").exists():
            continue
        if not (nb_dir / f"{name}.ipynb").exists():
            write_placeholder(out, name, f"Not yet written: `notebooks/{name}.ipynb` does not exist yet, "
                                         f"so this chapter shows no results.")
        elif not (out / f"{name}.md").exists() or "Not yet" in (out / f"{name}.md").read_text():
            write_placeholder(out, name, f"Not yet executed: run `python -m robustlab.book --only {name}` "
                                         f"to execute `notebooks/{name}.ipynb` and show it here.")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "profiles_table.md", profiles_table())  # included by book/intro.md
    atomic_write_text(out / "headline.md", headline(results, out))  # included by book/intro.md
    if timings:
        tf = out / "timings.json"
        old = json.loads(tf.read_text()) if tf.exists() else {}
        old.update({n: {"seconds": s, "profile": profile, "params": params} for n, s in timings.items()})
        atomic_write_text(tf, json.dumps(old, indent=1, default=str))
        print("wall time per notebook: " + ", ".join(f"{n} {s:.1f} s" for n, s in timings.items()), flush=True)
    if waiting:
        print(f"{len(waiting)} chapter(s) wait for campaign results: {', '.join(waiting)} "
              f"(see `python -m robustlab.campaign --profile {profile} --dry-run`)", flush=True)
    if build:
        t0 = time.time()
        rc = build_site(root)
        if rc != 0:
            raise RobustlabError(f"jupyter-book build failed (exit {rc}); see the warnings above "
                                 f"(strict build: every warning is an error)")
        print(f"site built in {time.time() - t0:.1f} s: {root / '_build' / 'html' / 'index.html'}", flush=True)
    return timings


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m robustlab.book", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="quick", help="tiny | quick (default) | paper")
    ap.add_argument("--only", default=None, help="comma-separated chapters, e.g. 01_data,03_noise_training")
    ap.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                    help="a notebook parameter (YAML value), repeatable: --param epochs=5")
    ap.add_argument("--no-build", action="store_true", help="execute the notebooks, do not build the site")
    ap.add_argument("--build-only", action="store_true", help="build the site from the executed copies")
    ap.add_argument("--root", default=".", help="repository root (default: the current folder)")
    args = ap.parse_args(argv)
    if args.no_build and args.build_only:
        print("error: --no-build and --build-only exclude each other", file=sys.stderr)
        return 2
    try:
        params = dict(parse_param(p) for p in args.param)
        run_book(profile=args.profile, only=args.only, params=params, build=not args.no_build,
                 execute=not args.build_only, root=args.root)
    except ParameterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except NotebookFailed as e:
        print(f"error: {e}\nStopped; the site was not built.", file=sys.stderr)
        return 1
    except RobustlabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
