"""JupyterLab in a real browser: chapter 01 runs in Debian's Chromium and its σ explorer redraws.

The test starts JupyterLab headless (isolated config/data/runtime folders, nothing fetched online)
on a copy of ``notebooks/01_data.ipynb`` prepared by papermill with the tiny profile, opens it in
headless Chromium through Debian's ``chromedriver`` and ``selenium``, runs every cell from the Run
menu, waits for the live widget's figure, moves the σ slider with the keyboard and checks that the
slider's readout and the figure changed. It is skipped where selenium, chromium or chromedriver is
missing (``.ci/run`` installs them: chromium and chromium-driver with apt, selenium from
requirements.txt). On failure a screenshot and the JupyterLab log are kept in the test's tmp folder.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = "01_data"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
JUPYTER = Path(sys.executable).with_name("jupyter")

pytestmark = [pytest.mark.slow, pytest.mark.browser]

# the live widget's parts (ipywidgets 8 in JupyterLab 4): never the static PNG of the same output
SLIDER = ".jupyter-widgets.widget-slider"
HANDLE = SLIDER + " .noUi-handle"
READOUT = SLIDER + " .widget-readout"
WIDGET_IMG = ".jupyter-widgets.widget-output .jp-OutputArea img"


def _need_browser():
    if CHROMIUM is None:
        pytest.skip("Debian chromium is not installed (.ci/run installs it with apt)")
    if CHROMEDRIVER is None:
        pytest.skip("chromedriver is not installed (.ci/run installs Debian's chromium-driver with apt)")
    pytest.importorskip("selenium", reason="selenium is not installed (pinned in requirements.txt)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(base: str, token: str, path: str, method: str = "GET", timeout: float = 5):
    req = urllib.request.Request(f"{base}{path}", method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        body = r.read()
    return json.loads(body) if body else None


def _wait(pred, timeout: float, what: str, interval: float = 0.5):
    """Poll ``pred()`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while True:
        try:
            got = pred()
        except AssertionError:
            raise
        except Exception:  # noqa: BLE001 - a page or a server that is not ready yet
            got = None
        if got:
            return got
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _tail(path: Path, n: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


@pytest.fixture
def lab(tmp_path, shared_data, cache_dir):
    """JupyterLab serving a tiny-profile copy of chapter 01; yields (base URL, token, log file)."""
    _need_browser()
    import papermill as pm

    work = tmp_path / "lab"
    work.mkdir()
    pm.execute_notebook(str(REPO / "notebooks" / f"{NOTEBOOK}.ipynb"), str(work / f"{NOTEBOOK}.ipynb"),
                        parameters={"profile": "tiny", "data_dir": str(shared_data), "cache_dir": str(cache_dir),
                                    "results_dir": str(tmp_path / "results")},
                        prepare_only=True, kernel_name="python3", progress_bar=False)
    jdirs = {k: tmp_path / "jupyter" / k.lower() for k in
             ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR")}
    for d in jdirs.values():
        d.mkdir(parents=True)
    # nothing online: no extension manager (it queries PyPI), no news/announcements toast
    (jdirs["JUPYTER_CONFIG_DIR"] / "labconfig").mkdir()
    (jdirs["JUPYTER_CONFIG_DIR"] / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/extensionmanager-extension": True,
                                "@jupyterlab/apputils-extension:announcements": True}}))
    env = {**os.environ, **{k: str(v) for k, v in jdirs.items()},
           "MPLBACKEND": "module://matplotlib_inline.backend_inline",  # the Makefile exports Agg: no figures
           "JUPYTER_PLATFORM_DIRS": "0", "PYTHONUNBUFFERED": "1"}
    token, port = secrets.token_hex(16), _free_port()
    log = tmp_path / "jupyterlab.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [str(JUPYTER), "lab", "--no-browser", f"--IdentityProvider.token={token}", f"--ServerApp.port={port}",
             "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={work}",
             "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False",
             *(["--allow-root"] if os.geteuid() == 0 else [])],
            cwd=work, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def up():
            if proc.poll() is not None:
                raise AssertionError(f"JupyterLab exited with {proc.returncode}:\n{_tail(log)}")
            try:
                return _api(base, token, "/api/status") is not None
            except (urllib.error.URLError, OSError):
                return False

        try:
            _wait(up, 90, "JupyterLab's /api/status")
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{_tail(log)}") from None
        yield base, token, log
    finally:
        try:  # shuts its kernels down too (they run in their own process sessions)
            _api(base, token, "/api/shutdown", method="POST")
            proc.wait(timeout=20)
        except Exception:  # noqa: BLE001
            pass
        if proc.poll() is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)
                    proc.wait(timeout=10)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue


@pytest.fixture
def browser(tmp_path):
    """Headless Debian Chromium driven by Debian's chromedriver (Selenium Manager never downloads)."""
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--no-first-run", "--disable-extensions", "--disable-sync",
                "--disable-background-networking", "--disable-component-update",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER, log_output=str(tmp_path / "driver.log")))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _kernel_state(base: str, token: str) -> str | None:
    for s in _api(base, token, "/api/sessions"):
        if s.get("path", "").endswith(f"{NOTEBOOK}.ipynb") and s.get("kernel"):
            return s["kernel"].get("execution_state")
    return None


def _click_menu(driver, top: str, item: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.XPATH, f"//li[contains(@class,'lm-MenuBar-item')][.//div[text()='{top}']]").click()
    _wait(lambda: [e for e in driver.find_elements(
        By.XPATH, f"//li[contains(@class,'lm-Menu-item')][.//div[text()='{item}']]") if e.is_displayed()],
        10, f"the menu item {top} → {item}")[0].click()


def _errors_on_page(driver) -> list[str]:
    """The tracebacks shown in the notebook's outputs (last 1500 characters of each)."""
    return driver.execute_script(
        "return [...document.querySelectorAll('.jp-OutputArea-output')].map(e => e.innerText)"
        ".filter(t => t.includes('Traceback (most recent call last)')).map(t => t.slice(-1500));")


def test_chapter_01_slider_redraws_in_jupyterlab(lab, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    base, token, log = lab
    driver = browser
    t0 = time.monotonic()
    try:
        driver.get(f"{base}/lab/tree/{NOTEBOOK}.ipynb?token={token}")
        _wait(lambda: len(driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")) >= 10, 90,
              "the notebook's cells in JupyterLab")
        _wait(lambda: _kernel_state(base, token) == "idle", 90, "an idle python3 kernel")
        _click_menu(driver, "Run", "Run All Cells")

        def widget_img():
            errors = _errors_on_page(driver)
            if errors:
                raise AssertionError("a cell failed:\n" + "\n---\n".join(errors))
            imgs = driver.find_elements(By.CSS_SELECTOR, WIDGET_IMG)
            return imgs and (imgs[-1].get_attribute("src") or "").startswith("data:image/png") and imgs[-1]

        first = _wait(widget_img, 180, "the σ explorer's figure (live widget)").get_attribute("src")
        readout = _wait(lambda: driver.find_element(By.CSS_SELECTOR, READOUT).text.strip(), 10, "the σ readout")
        handle = driver.find_element(By.CSS_SELECTOR, HANDLE)
        value, hi = float(readout), float(handle.get_attribute("aria-valuemax"))
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus();", handle)
        key = Keys.ARROW_LEFT if value >= hi else Keys.ARROW_RIGHT  # tiny: the default σ = 1 is the maximum
        for _ in range(3):
            handle.send_keys(key)
        _wait(lambda: driver.find_element(By.CSS_SELECTOR, READOUT).text.strip() not in ("", readout), 10,
              f"the σ readout to leave {readout}")
        second = _wait(lambda: (s := widget_img().get_attribute("src")) != first and s, 60,
                       "the figure to be redrawn for the new σ")
        assert second.startswith("data:image/png") and second != first
        time.sleep(1)  # let the other key presses' updates reach the kernel, then wait for it to finish them
        _wait(lambda: _kernel_state(base, token) == "idle", 60, "the kernel to finish redrawing")
        new = driver.find_element(By.CSS_SELECTOR, READOUT).text.strip()
        step = float(new) - float(readout)  # three key presses of 0.01 each
        assert (step < 0 if key == Keys.ARROW_LEFT else step > 0) and abs(step) <= 0.05 + 1e-9, (readout, new)
        imgs = _wait(lambda: driver.find_elements(By.CSS_SELECTOR, WIDGET_IMG), 10, "the redrawn figure")
        assert len(imgs) == 1 and imgs[0].get_attribute("src") != first  # replaced, not appended
        print(f"JupyterLab browser test: σ {readout} → {new}, "
              f"{time.monotonic() - t0:.0f} s in the browser")
    except BaseException:
        shot = tmp_path / "jupyterlab-failure.png"
        try:
            driver.get_screenshot_as_file(str(shot))
        except Exception:  # noqa: BLE001
            pass
        print(f"screenshot: {shot}\nJupyterLab log ({log}):\n{_tail(log)}")
        raise


@pytest.mark.slow
@pytest.mark.browser
def test_static_controls_swap_frames_in_a_browser(browser, tmp_path, monkeypatch):
    """The static page's controls (robustlab.book.widgets.Interactive.static_html) work without a
    kernel: moving the range input or choosing another option shows another pre-rendered frame."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    from robustlab.book.page import BOOK_ENV
    from robustlab.book.widgets import interactive

    def draw(sigma, kind):
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.set_title(f"{kind} σ={sigma:g}")
        ax.plot([0, 1], [0, sigma], color="red" if kind == "noise" else "blue")
        return fig

    monkeypatch.setenv(BOOK_ENV, "1")
    w = interactive(draw, defaults={"sigma": 1.0}, sigma=(0.0, 5.0, 0.01), kind=["noise", "blur"],
                    static={"sigma": [0.0, 0.5, 1.0, 5.0], "kind": ["noise", "blur"]})
    page = tmp_path / "static.html"
    page.write_text(f"<!doctype html><html><body>{w._repr_mimebundle_()['text/html']}</body></html>", encoding="utf-8")
    browser.get(page.as_uri())
    img = browser.find_element(By.CSS_SELECTOR, ".robustlab-static-widget img.rlw-frame")
    out = browser.find_element(By.CSS_SELECTOR, "output[data-for='sigma']")
    first, readout = img.get_attribute("src"), out.text
    assert readout == "1"
    rng = browser.find_element(By.CSS_SELECTOR, "input[type=range][data-control='sigma']")
    rng.send_keys(Keys.ARROW_RIGHT)  # 1 → 5
    assert out.text == "5" and img.get_attribute("src") != first
    second = img.get_attribute("src")
    Select(browser.find_element(By.CSS_SELECTOR, "select[data-control='kind']")).select_by_visible_text("blur")
    assert img.get_attribute("src") not in (first, second)
    rng.send_keys(Keys.HOME)  # back to σ = 0 (blur)
    assert out.text == "0"
    logs = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert logs == [], logs
