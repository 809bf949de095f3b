"""The book runner's TQDM_DISABLE reaches robustlab's progress bars (tqdm.notebook ignores it)."""
from robustlab.core.progress import disabled_by_env, tqdm


def test_tqdm_disable_env(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert disabled_by_env()
    assert tqdm(range(3)).disable
    monkeypatch.setenv("TQDM_DISABLE", "0")
    assert not disabled_by_env()
    assert not tqdm(range(3), file=open("/dev/null", "w")).disable
    assert tqdm(range(3), disable=True).disable


def test_book_run_bars_go_to_the_progress_file(tmp_path, monkeypatch):
    """In a kernel started by the book runner every bar is a text bar in $ROBUSTLAB_PROGRESS_FILE
    (rate and counts), even with TQDM_DISABLE set; disable=True stays disabled."""
    from robustlab.core import progress

    f = tmp_path / "p.txt"
    monkeypatch.setenv(progress.PROGRESS_ENV, str(f))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    bar = progress.tqdm(total=3, desc="training resnet", unit="epoch")
    for _ in range(3):
        bar.update(1)
    bar.close()
    quiet = progress.tqdm(total=2, desc="silent", disable=True)
    quiet.update(2)
    quiet.close()
    state = progress.latest_status(f.read_text())
    assert state.startswith("training resnet") and "3/3" in state and "epoch" in state
    assert "silent" not in f.read_text()
    monkeypatch.delenv(progress.PROGRESS_ENV)
    assert progress.tqdm(total=1).disable  # outside a book run TQDM_DISABLE still disables


def test_progress_tail_reports_the_latest_state(tmp_path):
    import time

    from robustlab.core.progress import ProgressTail, latest_status

    assert latest_status("a 1/3\rb 2/3\r\x1b[Ab 3/3\n\n") == "b 3/3"
    seen = []
    f = tmp_path / "p.txt"
    with ProgressTail(f, out=seen.append, every_s=0.0, poll_s=0.05):
        with open(f, "a") as w:
            w.write("\rtraining 1/4")
            w.flush()
            time.sleep(0.3)
            w.write("\rtraining 2/4")
            w.flush()
            time.sleep(0.3)
    assert seen == ["training 1/4", "training 2/4"]
    assert not f.exists()  # removed at the end


def test_progress_tail_reports_every_bar_that_moved(tmp_path):
    """The overall bar and the bars of models training in parallel each get their line per report."""
    import time

    from robustlab.core.progress import ProgressTail

    seen = []
    f = tmp_path / "p.txt"
    with ProgressTail(f, out=seen.append, every_s=0.4, poll_s=0.05):
        with open(f, "a") as w:
            for s in ("\rtraining 4 models: 1/4", "\rtrain resnet σ=0: 10%", "\rtrain inception σ=0: 5%",
                      "\rtrain resnet σ=0: 20%"):
                w.write(s)
                w.flush()
                time.sleep(0.02)
            time.sleep(0.8)
    assert seen == ["training 4 models: 1/4", "train inception σ=0: 5%", "train resnet σ=0: 20%"]
