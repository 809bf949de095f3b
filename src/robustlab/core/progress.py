"""Progress bars: :func:`tqdm` is ``tqdm.auto.tqdm`` that honours ``TQDM_DISABLE``, and that reports to
the book runner's terminal during a book run.

Every long loop in robustlab shows a tqdm bar: a widget in JupyterLab, text in a terminal. A bar
stored in a static page would show up frozen at 0 %, so the notebooks the book runner executes show
none. Instead, the runner sets ``ROBUSTLAB_PROGRESS_FILE`` for their kernels: each bar is then a text
bar written to that file (rate and ETA included, at most every :data:`REPORT_INTERVAL_S` seconds), and
the runner prints its latest state while the notebook runs (:class:`ProgressTail`). ``TQDM_DISABLE``
(set by the runner too) disables every bar otherwise; ``tqdm.notebook`` ignores that variable, so it
is applied here. A call that passes ``disable=True`` explicitly stays disabled either way.
"""
from __future__ import annotations

import atexit
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm as _tqdm
from tqdm.std import tqdm as text_tqdm

__all__ = ["tqdm", "disabled_by_env", "PROGRESS_ENV", "REPORT_INTERVAL_S", "ProgressTail", "latest_status"]

#: The file a book run's kernels report their progress bars to (set by ``robustlab.book.runner``).
PROGRESS_ENV = "ROBUSTLAB_PROGRESS_FILE"
#: Least seconds between two reports of one bar to the progress file.
REPORT_INTERVAL_S = 2.0

_streams: dict[str, object] = {}


def disabled_by_env() -> bool:
    """True when the environment variable ``TQDM_DISABLE`` is set to a true value."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() in ("1", "true", "yes", "on")


def _stream(path: str):
    f = _streams.get(path)
    if f is None or getattr(f, "closed", True):
        f = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the kernel's lifetime
        _streams[path] = f
    return f


@atexit.register
def _close_streams() -> None:
    for f in _streams.values():
        f.close()
    _streams.clear()


def tqdm(*args, **kwargs):
    """``tqdm.auto.tqdm(*args, **kwargs)``; a text bar into ``$ROBUSTLAB_PROGRESS_FILE`` during a book
    run; disabled when ``TQDM_DISABLE`` is set (and no progress file is)."""
    path = os.environ.get(PROGRESS_ENV, "")
    if path and kwargs.get("disable") is not True:

        kwargs.update(disable=False, file=_stream(path), ascii=True, ncols=110,
                      mininterval=max(float(kwargs.get("mininterval", 0) or 0), REPORT_INTERVAL_S))
        return text_tqdm(*args, **kwargs)
    if disabled_by_env():
        kwargs["disable"] = True
    return _tqdm(*args, **kwargs)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def latest_status(text: str) -> str:
    """The last non-empty state in a text bar's output (states are separated by carriage returns
    and newlines), without terminal control codes."""
    parts = [_ANSI.sub("", p).strip() for p in re.split(r"[\r\n]+", text)]
    parts = [p for p in parts if p]
    return parts[-1] if parts else ""


def _key(state: str) -> str:
    """Which bar a state belongs to: its description (the text before the first colon)."""
    return state.split(":", 1)[0] if ":" in state else state


class ProgressTail:
    """Follow a progress file in a background thread and, every ``every_s`` seconds, call ``out(state)``
    with the latest state of each bar that changed since it was last reported (at most ``max_lines``,
    the most recently updated last): the overall bar of a chapter and the bars of the models training
    in parallel each get their line. Nothing is reported in the first ``every_s`` seconds (a chapter
    that finishes quickly prints nothing). A context manager; the file is removed at the end."""

    def __init__(self, path: str | os.PathLike, out: Callable[[str], None] = print, every_s: float = 10.0,
                 poll_s: float = 1.0, max_lines: int = 4):
        self.path, self.out, self.every_s, self.poll_s = Path(path), out, every_s, poll_s
        self.max_lines = max_lines
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.reported: list[str] = []

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("", encoding="utf-8")
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        self.path.unlink(missing_ok=True)
        return False

    def _run(self) -> None:
        pos, last_t, partial = 0, time.monotonic(), ""
        latest: dict[str, tuple[int, str]] = {}  # bar → (update order, its latest state)
        printed: dict[str, str] = {}
        n = 0
        while not self._stop.wait(self.poll_s):
            try:
                with open(self.path, encoding="utf-8", errors="replace") as f:
                    f.seek(pos)
                    new = f.read()
                    pos = f.tell()
            except OSError:
                continue
            if new:
                chunks = re.split(r"[\r\n]+", partial + new)
                partial = chunks.pop()  # a state still being written
                for c in chunks + ([partial] if partial else []):
                    state = latest_status(c)
                    if state:
                        n += 1
                        latest[_key(state)] = (n, state)
            now = time.monotonic()
            if now - last_t < self.every_s:
                continue
            changed = sorted((o, st) for k, (o, st) in latest.items() if printed.get(k) != st)
            if not changed:
                continue
            for _, st in changed[-self.max_lines:]:
                self.reported.append(st)
                self.out(st)
                printed[_key(st)] = st
            last_t = now
